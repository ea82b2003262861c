"""After a Redis failover, the cache starts empty: nothing stale comes back from a promoted replica.

While no master answers, the shop keeps going on PostgreSQL: django-redis ignores the cache's
errors, so a sign-out, a revoked token or a changed cart reaches the database but not Redis. The
replica promoted next still holds the values from before (replication copied them), and it would
serve them: a revoked token that still signs in, a cart without its last line (issue 13). Every
value in the cache database can be rebuilt from PostgreSQL, so the first process to reach a new
master empties that database, once per master: Redis gives each master its own replication id
(`master_replid`, new on every promotion), and the id of the master the cache was last emptied on
is kept in the cache database itself, set by the same script that empties it.

The cache database must hold nothing else: settings refuse a Celery broker in the same one.
"""

import logging
import threading

import redis
from redis.sentinel import SentinelConnectionPool, SentinelConnectionPoolProxy

log = logging.getLogger(__name__)

MARK = "cache-master-replid"  # no KEY_PREFIX: the whole database is the cache's

# Empty the database unless it was emptied on this master already; atomic, so one process empties
# it however many find the new master at once.
_EMPTY_ONCE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
redis.call('FLUSHDB', 'ASYNC')
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""


class FreshAfterFailoverPool(SentinelConnectionPool):
    """django-redis's Sentinel pool (CONNECTION_POOL_CLASS), which, before it uses a master
    it has not used yet, empties the cache database unless that was done on this master."""

    def __init__(self, service_name, sentinel_manager, **kwargs):
        super().__init__(service_name, sentinel_manager, **kwargs)
        # Connections ask the pool's proxy where the master is (redis-py): swap in ours.
        self.proxy = _FreshAfterFailoverProxy(
            connection_pool=self,
            is_master=self.is_master,
            check_connection=self.check_connection,
            service_name=service_name,
            sentinel_manager=sentinel_manager,
        )
        self.connection_kwargs["connection_pool"] = self.proxy


class _FreshAfterFailoverProxy(SentinelConnectionPoolProxy):
    def reset(self):
        super().reset()
        self.checked_master: tuple[str, int] | None = None
        self.checking = threading.Lock()

    def get_master_address(self):
        address = super().get_master_address()
        if self.is_master and address != self.checked_master:
            with self.checking:
                if address != self.checked_master:
                    _empty_once(address, self.connection_pool_ref().connection_kwargs)
                    self.checked_master = address
        return address


def _empty_once(address: tuple[str, int], kwargs: dict) -> None:
    """Empty the cache database on the master at `address` unless done on it already; raise
    redis.ConnectionError when it cannot tell, so that the next connection asks again."""
    client = redis.Redis(
        host=address[0],
        port=address[1],
        db=kwargs.get("db", 0),
        username=kwargs.get("username"),
        password=kwargs.get("password"),
        socket_connect_timeout=kwargs.get("socket_connect_timeout"),
        socket_timeout=kwargs.get("socket_timeout"),
    )
    try:
        replication = client.info("replication")
        if replication["role"] != "master":  # demoted meanwhile: the sentinels will say
            raise redis.ConnectionError(f"{address} is no longer the master")
        if client.eval(_EMPTY_ONCE, 1, MARK, replication["master_replid"]):
            log.warning("cache emptied: first use of Redis master %s:%s", *address)
    except redis.ConnectionError:
        raise
    except redis.RedisError as error:
        raise redis.ConnectionError(f"cache freshness check failed: {error}") from error
    finally:
        client.close()
