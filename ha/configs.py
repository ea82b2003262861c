"""Each engine's configuration, rendered from the topology and the templates in deploy/ha/.

Pure functions of (topology, host, paths, secrets): nothing here touches the machine, so the
tests render them without namespaces. cluster/cluster.py's `render` fills the {{ NAME }}
placeholders (a line with a list placeholder repeats once per item), as it does for the cluster.
"""

from __future__ import annotations

import os
from pathlib import Path

from cluster.cluster import render
from drills.faults import ENVIRONMENT as DRILL_ENVIRONMENT
from ha.paths import DEPLOY, MAIL, MEDIA_ROOT, STATIC_ROOT
from ha.topology import Host, Topology

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


def haproxy_config(topology: Topology, *, pidfile: Path) -> str:
    ports = topology.ports
    values = {
        "PIDFILE": str(pidfile),
        "GATEWAY": topology.gateway,
        "DB_PRIMARY_PORT": ports.db_primary,
        "DB_REPLICAS_PORT": ports.db_replicas,
        "PATRONI_PORT": ports.patroni,
        "PG_SERVERS": [
            f"{host.name} {host.address}:{ports.postgres}"
            for host in topology.hosts_with("postgres")
        ],
        "BALANCER": f"127.0.0.1:{ports.balancer}",
        "APP_SERVERS": [
            f"{host.name} {host.address}:{ports.app}" for host in topology.hosts_with("app")
        ],
    }
    return render(DEPLOY / "haproxy.cfg", values)


def redis_config(topology: Topology, *, pidfile: Path, directory: Path) -> str:
    values = {
        "GATEWAY": topology.gateway,
        "PORT": topology.ports.redis,
        "PIDFILE": str(pidfile),
        "DIR": str(directory),
    }
    return render(DEPLOY / "redis.conf", values)


# A connection whose host drops off the network fails within seconds on both ends, instead of
# resuming when the host returns: the app-host-cut drill saw a request stuck 45 s on a cut
# host commit its order after a retry with the same Idempotency-Key had placed it (a duplicate),
# and a transaction left open holds its stock rows' locks. tcp_user_timeout and keepalives end
# the app's side; idle_in_transaction_session_timeout ends the server's.
DATABASE_OPTIONS = (
    "connect_timeout=2&tcp_user_timeout=10000"
    "&keepalives_idle=5&keepalives_interval=2&keepalives_count=3"
    "&options=-c%20idle_in_transaction_session_timeout%3D15s"
)


def database_url(topology: Topology, secrets: dict[str, str], *, replicas: bool = False) -> str:
    """The app's PostgreSQL, through HAProxy on the gateway: the leader, or the replicas."""
    port = topology.ports.db_replicas if replicas else topology.ports.db_primary
    return (
        f"postgres://{DB_USER}:{secrets['superuser']}@{topology.gateway}:{port}/"
        f"{topology.app.database}?{DATABASE_OPTIONS}"
    )


def balancer_url(topology: Topology) -> str:
    return f"http://127.0.0.1:{topology.ports.balancer}"


def app_environment(
    topology: Topology, secrets: dict[str, str], *, replica: str = "ha"
) -> dict[str, str]:
    """The environment of every Django process of the HA deployment (config/settings.py)."""
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
            "DJANGO_ALLOWED_HOSTS": f"127.0.0.1,localhost,{app_hosts}",
            "DATABASE_URL": database_url(topology, secrets),
            "DATABASE_REPLICA_URLS": database_url(topology, secrets, replicas=True),
            "REDIS_URL": f"redis://{topology.gateway}:{topology.ports.redis}/0",
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
    return environment
