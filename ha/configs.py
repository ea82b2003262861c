"""Each engine's configuration, rendered from the topology and the templates in deploy/ha/.

Pure functions of (topology, host, paths, secrets): nothing here touches the machine, so the
tests render them without namespaces. infra.processes.render fills the {{ NAME }}
placeholders (a line with a list placeholder repeats once per item), as it does for the cluster.
"""

from __future__ import annotations

import os
from pathlib import Path

from drills.faults import ENVIRONMENT as DRILL_ENVIRONMENT
from ha.hosts import IFACE as INTERFACE
from ha.paths import DEPLOY, MAIL, MEDIA_ROOT, STATIC_ROOT
from ha.topology import Host, Topology
from infra.processes import render

DB_USER = "postgres"


def _yaml_bool(value: bool) -> str:
    return "true" if value else "false"


def etcd_config(topology: Topology, host: Host, *, data_dir: Path) -> str:
    ports = topology.ports
    members = ",".join(
        f"{member.name}=http://{member.address}:{ports.etcd_peer}"
        for member in topology.hosts_with("etcd")
    )
    values = {
        "NAME": host.name,
        "ADDRESS": host.address,
        "DATA_DIR": str(data_dir),
        "CLIENT_PORT": ports.etcd_client,
        "PEER_PORT": ports.etcd_peer,
        "INITIAL_CLUSTER": members,
        "SCOPE": topology.patroni.scope,
    }
    return render(DEPLOY / "etcd.yml", values)


def patroni_config(
    topology: Topology,
    host: Host,
    *,
    data_dir: Path,
    bin_dir: Path,
    socket_dir: Path,
    pgpass: Path,
    secrets: dict[str, str],
) -> str:
    ports, patroni = topology.ports, topology.patroni
    values = {
        "SCOPE": patroni.scope,
        "NAME": host.name,
        "ADDRESS": host.address,
        "PATRONI_PORT": ports.patroni,
        "POSTGRES_PORT": ports.postgres,
        "ETCD_HOSTS": ",".join(
            f"{member.address}:{ports.etcd_client}" for member in topology.hosts_with("etcd")
        ),
        "TTL": patroni.ttl,
        "LOOP_WAIT": patroni.loop_wait,
        "RETRY_TIMEOUT": patroni.retry_timeout,
        "SYNCHRONOUS_MODE": _yaml_bool(patroni.synchronous_mode),
        "SYNCHRONOUS_MODE_STRICT": _yaml_bool(patroni.synchronous_mode_strict),
        "DATA_DIR": str(data_dir),
        "BIN_DIR": str(bin_dir),
        "PGPASS": str(pgpass),
        "SOCKET_DIR": str(socket_dir),
        "SUBNET": str(topology.subnet),
        "SUPERUSER_PASSWORD": secrets["superuser"],
        "REPLICATION_PASSWORD": secrets["replication"],
    }
    return render(DEPLOY / "patroni.yml", values)


def haproxy_config(topology: Topology, host: Host, *, pidfile: Path) -> str:
    ports = topology.ports
    values = {
        "NAME": host.name,
        "VIP": topology.vip,
        "PIDFILE": str(pidfile),
        "DB_PRIMARY_PORT": ports.db_primary,
        "DB_REPLICAS_PORT": ports.db_replicas,
        "PATRONI_PORT": ports.patroni,
        "PG_SERVERS": [
            f"{host.name} {host.address}:{ports.postgres}"
            for host in topology.hosts_with("postgres")
        ],
        "BALANCER": f"*:{ports.balancer}",
        "APP_SERVERS": [
            f"{host.name} {host.address}:{ports.app}" for host in topology.hosts_with("app")
        ],
    }
    return render(DEPLOY / "haproxy.cfg", values)


def keepalived_config(topology: Topology, host: Host, *, check: Path) -> str:
    """keepalived on a balancer host: VRRP over unicast to the other balancer hosts; the first
    named has the highest priority, but no host takes the address back once another holds it."""
    balancers = topology.hosts_with("balancer")
    values = {
        "NAME": host.name,
        "ADDRESS": host.address,
        "INTERFACE": INTERFACE,
        "VIP": topology.vip,
        "PREFIX": topology.prefix_length,
        "ROUTER_ID": int(topology.vip.rsplit(".", 1)[1]),  # one VRRP group per floating address
        "PRIORITY": 150 - balancers.index(host),
        "PEERS": [peer.address for peer in balancers if peer != host],
        "CHECK": str(check),
    }
    return render(DEPLOY / "keepalived.conf", values)


def haproxy_check_script(topology: Topology, host: Host) -> str:
    """keepalived's track script: the host holds the address only while its HAProxy answers."""
    return (
        "#!/bin/sh\n"
        "# Rendered by `make ha`: does this host's HAProxy accept connections on the front door?\n"
        f"exec /usr/bin/timeout 1 /bin/bash -c 'exec 3<>/dev/tcp/{host.address}/"
        f"{topology.ports.balancer}'\n"
    )


def redis_master(topology: Topology) -> Host:
    """The Redis host that starts as the master (the first with the role); Sentinel moves it."""
    return topology.hosts_with("redis")[0]


def redis_config(
    topology: Topology,
    host: Host,
    *,
    pidfile: Path,
    directory: Path,
    master_address: str | None = None,
) -> str:
    """A data node's redis.conf: a replica of `master_address` (default: the first Redis host),
    or the master when that is its own address. A node restarted after a failover is given the
    master the sentinels name now, so it comes back as that master's replica."""
    master = master_address or redis_master(topology).address
    values = {
        "NAME": host.name,
        "ADDRESS": host.address,
        "PORT": topology.ports.redis,
        "PIDFILE": str(pidfile),
        "DIR": str(directory),
        "MASTER": [] if host.address == master else [f"{master} {topology.ports.redis}"],
    }
    return render(DEPLOY / "redis.conf", values)


def sentinel_config(topology: Topology, host: Host, *, pidfile: Path, directory: Path) -> str:
    sentinel = topology.sentinel
    values = {
        "NAME": host.name,
        "ADDRESS": host.address,
        "PORT": topology.ports.sentinel,
        "PIDFILE": str(pidfile),
        "DIR": str(directory),
        "MASTER_NAME": sentinel.master_name,
        "MASTER_ADDRESS": redis_master(topology).address,
        "REDIS_PORT": topology.ports.redis,
        "QUORUM": sentinel.quorum(len(topology.hosts_with("sentinel"))),
        "DOWN_AFTER_MS": sentinel.down_after_ms,
        "FAILOVER_TIMEOUT_MS": sentinel.failover_timeout_ms,
    }
    return render(DEPLOY / "sentinel.conf", values)


def sentinel_addresses(topology: Topology) -> str:
    """REDIS_SENTINELS for the app: host:port of every sentinel."""
    return ",".join(
        f"{h.address}:{topology.ports.sentinel}" for h in topology.hosts_with("sentinel")
    )


PGBOUNCER_POOL_SIZE = 10  # server connections to the leader from each app host


def pgbouncer_config(
    topology: Topology, host: Host, *, pidfile: Path, logfile: Path, auth_file: Path
) -> str:
    values = {
        "NAME": host.name,
        "ADDRESS": host.address,
        "PORT": topology.ports.pgbouncer,
        "VIP": topology.vip,
        "DB_PRIMARY_PORT": topology.ports.db_primary,
        "DB_NAME": topology.app.database,
        "DB_USER": DB_USER,
        "PIDFILE": str(pidfile),
        "LOGFILE": str(logfile),
        "AUTH_FILE": str(auth_file),
        "POOL_SIZE": PGBOUNCER_POOL_SIZE,
    }
    return render(DEPLOY / "pgbouncer.ini", values)


def pgbouncer_users(secrets: dict[str, str]) -> str:
    """pgbouncer's auth_file: the app's user and password (plain, so that it can log in with it
    to PostgreSQL by SCRAM; the file is the database user's, mode 0600)."""
    return f'"{DB_USER}" "{secrets["superuser"]}"\n'


# A connection whose host drops off the network fails within seconds on both ends, instead of
# resuming when the host returns: the app-host-cut drill saw a request stuck 45 s on a cut
# host commit its order after a retry with the same Idempotency-Key had placed it (a duplicate).
# tcp_user_timeout and keepalives end the app's side; the server's is
# idle_in_transaction_session_timeout (patroni.yml), which pgbouncer cannot pass as an option.
DATABASE_OPTIONS = (
    "connect_timeout=2&tcp_user_timeout=10000"
    "&keepalives_idle=5&keepalives_interval=2&keepalives_count=3"
)


def database_url(
    topology: Topology,
    secrets: dict[str, str],
    *,
    replicas: bool = False,
    pooler: Host | None = None,
) -> str:
    """The app's PostgreSQL, through HAProxy at the floating address: the leader, or the
    replicas; or the leader through the pgbouncer of the app host `pooler`."""
    address, port = topology.vip, topology.ports.db_primary
    if replicas:
        port = topology.ports.db_replicas
    elif pooler is not None:
        address, port = pooler.address, topology.ports.pgbouncer
    return (
        f"postgres://{DB_USER}:{secrets['superuser']}@{address}:{port}/"
        f"{topology.app.database}?{DATABASE_OPTIONS}"
    )


def balancer_url(topology: Topology) -> str:
    """The shop's front door: HAProxy on whichever balancer host holds the floating address."""
    return f"http://{topology.vip}:{topology.ports.balancer}"


def app_environment(
    topology: Topology,
    secrets: dict[str, str],
    *,
    replica: str = "ha",
    host: Host | None = None,
    pooled: bool = True,
) -> dict[str, str]:
    """The environment of every Django process of the HA deployment (config/settings.py).

    On an app host (`host`), the leader is reached through that host's pgbouncer unless not
    `pooled` (to measure without it); elsewhere (manage.py at `up`) through HAProxy directly.
    Redis, everywhere, through the sentinels.
    """
    pooler = host if pooled else None
    environment = {
        name: os.environ[name]
        for name in ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
        if name in os.environ
    }
    app_hosts = ",".join(host.address for host in topology.hosts_with("app"))
    # The drills' load would trip the per-endpoint limits and the cash-on-delivery caps (one
    # e-mail and one client address for all buyers): off and raised, as for make drills.
    environment.update(DRILL_ENVIRONMENT)
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_ALLOWED_HOSTS": f"127.0.0.1,localhost,{topology.vip},{app_hosts}",
            "DATABASE_URL": database_url(topology, secrets, pooler=pooler),
            "DATABASE_REPLICA_URLS": database_url(topology, secrets, replicas=True),
            # Cache, sessions, carts and rate limits in database 0 of the Sentinel group's
            # master, the Celery broker in database 1 (kombu's sentinel:// transport).
            "REDIS_SENTINELS": sentinel_addresses(topology),
            "REDIS_SENTINEL_MASTER": topology.sentinel.master_name,
            "REDIS_DB": "0",
            "REDIS_SENTINEL_BROKER_DB": "1",
            "CELERY_QUEUE": "shop",
            "CACHE_KEY_PREFIX": "shop-ha",
            "STATIC_ROOT": str(STATIC_ROOT),
            "MEDIA_ROOT": str(MEDIA_ROOT),
            "SHOP_TRUSTED_PROXY_HEADER": "HTTP_X_REAL_IP",
            "SHOP_REPLICA_NAME": replica,
            "SHOP_PUBLIC_URL": balancer_url(topology),
            "EMAIL_URL": f"filemail:///{MAIL}",
            "LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if pooler is not None:
        environment["DATABASE_POOLER"] = "transaction"
    return environment
