"""`python -m ha up|down|status|drills`: the shop across three hosts (issue 13, first slice).

    up       hosts (namespaces on one bridge), etcd on each, Patroni + PostgreSQL on each
             (one leader, synchronous standby, replica), HAProxy and keepalived on the
             "balancer" hosts (one floating address), Redis (a master, replicas) and Redis
             Sentinel on the "redis"/"sentinel" hosts, the database migrated and seeded, on each
             app host pgbouncer, gunicorn and a Celery worker (beat on the first), or, when hosts
             have the "swarm" role, the app tier as Docker Swarm services (ha/swarm.py). The
             shop at http://<vip>:<balancer>/. If anything of a previous run is left, it is
             removed first.
    down     every process it started, the namespaces, the bridge and var/ha (but Patroni's
             install and drills.json); safe to run at any point, also after a failed `up`
    status   each process, each host's link, each Patroni member's role and state, each Redis
             node's role and the master the sentinels name
    drills   ha.drills: break it under load, write var/ha/drills.json

Run with the virtualenv's python from the repository (`make ha`): gunicorn is found beside it.
Root only: it makes namespaces and links.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from ha import configs, hosts, swarm
from ha.paths import (
    DEBIAN_REQUIREMENTS,
    HOSTS,
    KEPT,
    LOGS,
    MAIL,
    MEDIA_ROOT,
    PATRONI_LIB,
    PATRONI_REQUIREMENTS,
    ROOT,
    RUN,
    SECRETS,
    STATE,
    STATIC_ROOT,
    TOPOLOGY_FILE,
)
from ha.topology import Host, Topology, TopologyError, load
from infra import processes
from infra.processes import http_json, postgres_bindir

VENV_BIN = Path(sys.executable).parent
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's: the postgres user can run it, not the venv's
DB_USER = configs.DB_USER
TOPOLOGY_IN_USE = STATE / "topology.toml"  # the copy `down` reads, whatever the file says now
POOLER_OFF = STATE / "pooler-off"  # `up` ran with SHOP_HA_POOLER=none
# Programs each Debian package of ha/requirements-debian.txt brings.
PROGRAMS = {
    "etcd": "etcd-server",
    "etcdctl": "etcd-client",
    "haproxy": "haproxy",
    "psql": "postgresql",
    "redis-server": "redis-server",
    "redis-cli": "redis-tools",
    "pgbouncer": "pgbouncer",
    "keepalived": "keepalived",
    "ip": "iproute2",
    "nsenter": "util-linux",
    "setpriv": "util-linux",
}


class HaError(processes.StepFailed):
    """A step failed; the message says which and what to do."""


def log(message: str) -> None:
    print(message, flush=True)


# --- Prerequisites --------------------------------------------------------------------------


def debian_packages() -> list[str]:
    lines = DEBIAN_REQUIREMENTS.read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def apt_line() -> str:
    return "apt-get install -y --no-install-recommends " + " ".join(debian_packages())


def check_prerequisites() -> None:
    if os.geteuid() != 0:
        raise HaError("make ha makes network namespaces and links: run it as root")
    missing = sorted(
        {package for program, package in PROGRAMS.items() if not shutil.which(program)}
    )
    if postgres_bindir() is None:
        missing.append("postgresql")
    if subprocess.run([SYSTEM_PYTHON, "-m", "pip", "--version"], capture_output=True).returncode:
        missing.append("python3-pip")
    if missing:
        raise HaError(
            f"Missing {', '.join(sorted(set(missing)))}. Install them with:\n    {apt_line()}"
        )
    try:
        pwd.getpwnam(DB_USER)
    except KeyError:
        raise HaError(f"No `{DB_USER}` user to run PostgreSQL as: {apt_line()}") from None
    if not (VENV_BIN / "gunicorn").exists():
        raise HaError(f"No gunicorn beside {sys.executable}: run `make ha` (it uses the venv)")


def install_patroni() -> None:
    """Patroni from PyPI, pinned, for Debian's python (skipped when that version is there)."""
    wanted = next(
        line.split("==")[1].split()[0]
        for line in PATRONI_REQUIREMENTS.read_text().splitlines()
        if line.startswith("patroni")
    )
    if (PATRONI_LIB / f"patroni-{wanted}.dist-info").exists():
        return
    log(f"  installing Patroni {wanted} into {PATRONI_LIB.relative_to(ROOT)}")
    shutil.rmtree(PATRONI_LIB, ignore_errors=True)
    command = [SYSTEM_PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--target", str(PATRONI_LIB), "-r", str(PATRONI_REQUIREMENTS)]
    run(command)


# --- Small tools ----------------------------------------------------------------------------


def run(command: list, *, env: dict | None = None, timeout: float = 600) -> str:
    """infra's run, failing as an HaError."""
    try:
        return processes.run(command, env=env, timeout=timeout, tail=20)
    except processes.StepFailed as error:
        raise HaError(str(error)) from None


def port_open(address: str, port: int) -> bool:
    return processes.port_open(address, port, timeout=1)


def wait_for(what: str, ready, *, seconds: float, logs: list[str] = ()) -> None:
    deadline = time.monotonic() + seconds
    dead: list[str] = []
    while time.monotonic() < deadline and not dead:
        if ready():
            return
        # A process that died will not get ready: say so now rather than at the deadline. Seen
        # gone twice, 0.5 s apart: one look can catch a process between nsenter and its exec.
        gone = [name for name in logs if hosts.pid_of(name) and not hosts.running(name)]
        time.sleep(0.5)
        dead = [name for name in gone if not hosts.running(name)]
    tails = []
    for name in logs:
        path = hosts.logfile(name)
        if path.exists():
            lines = path.read_text(errors="replace").splitlines()[-30:]
            tails.append(f"End of {path.relative_to(ROOT)}:\n  " + "\n  ".join(lines))
    why = f"{', '.join(dead)} exited" if dead else f"not ready within {seconds:.0f} s"
    raise HaError(f"{what}: {why}." + "".join(f"\n{t}" for t in tails))


def give_to_db_user(path: Path) -> None:
    processes.give_to(DB_USER, path)


def load_secrets() -> dict[str, str]:
    """The database passwords: made on the first `up`, kept in var/ha/secrets.json (0600)."""
    try:
        return json.loads(SECRETS.read_text())
    except (OSError, ValueError):
        pass
    values = {"superuser": secrets.token_hex(16), "replication": secrets.token_hex(16)}
    SECRETS.parent.mkdir(parents=True, exist_ok=True)
    SECRETS.touch(mode=0o600)
    SECRETS.write_text(json.dumps(values) + "\n")
    return values


def topology_in_use() -> Topology:
    """The topology of the running deployment (copied at `up`), else deploy/ha/topology.toml."""
    return load(TOPOLOGY_IN_USE if TOPOLOGY_IN_USE.exists() else TOPOLOGY_FILE)


# --- Patroni --------------------------------------------------------------------------------


def patroni_url(topology: Topology, host: Host, path: str) -> str:
    return f"http://{host.address}:{topology.ports.patroni}{path}"


def members(topology: Topology) -> list[dict]:
    """Patroni's view of the cluster, asked of the first member that answers."""
    for host in topology.hosts_with("postgres"):
        if hosts.is_cut(host):
            continue
        status, body = http_json(patroni_url(topology, host, "/cluster"), timeout=1)
        if status == 200 and body.get("members"):
            return body["members"]
    return []


def leader(topology: Topology) -> str | None:
    for member in members(topology):
        if member.get("role") == "leader" and member.get("state") == "running":
            return member["name"]
    return None


def healthy(topology: Topology) -> bool:
    """One running leader, every other member streaming from it, one of them synchronous.

    Until Patroni has named the synchronous standby, the leader refuses writes (strict mode).
    """
    found = members(topology)
    names = {host.name for host in topology.hosts_with("postgres")}
    if {member["name"] for member in found} != names:
        return False
    leaders = [m for m in found if m.get("role") == "leader" and m.get("state") == "running"]
    others = [m for m in found if m.get("role") != "leader"]
    synchronous = [m for m in others if m.get("role") == "sync_standby"]
    return (
        len(leaders) == 1
        and all(m.get("state") == "streaming" for m in others)
        and (bool(synchronous) or not topology.patroni.synchronous_mode)
    )


def patronictl(topology: Topology, *arguments: str) -> str:
    config = HOSTS / topology.hosts_with("postgres")[0].name / "patroni.yml"
    command = [SYSTEM_PYTHON, PATRONI_LIB / "bin" / "patronictl", "-c", config, *arguments]
    return run(command, env={**os.environ, "PYTHONPATH": str(PATRONI_LIB)}, timeout=120)


def psql(topology: Topology, query: str, *, database: str | None = None) -> list[list[str]]:
    """Run SQL on the leader through HAProxy; rows as lists of strings."""
    command = ["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
    command += ["-h", topology.vip, "-p", str(topology.ports.db_primary), "-U", DB_USER]
    command += ["-d", database or topology.app.database, "-c", query]
    environment = {
        **os.environ,
        "PGPASSWORD": load_secrets()["superuser"],
        "PGCONNECT_TIMEOUT": "2",
    }
    output = run(command, env=environment, timeout=60)
    return [line.split("\t") for line in output.splitlines() if line]


# --- Starting -------------------------------------------------------------------------------


def start_etcd(topology: Topology) -> None:
    for host in topology.hosts_with("etcd"):
        directory = HOSTS / host.name
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "etcd.yml"
        config.write_text(configs.etcd_config(topology, host, data_dir=directory / "etcd"))
        hosts.run_in(host, ["etcd", "--config-file", config], name=f"{host.name}-etcd")
    for host in topology.hosts_with("etcd"):
        url = f"http://{host.address}:{topology.ports.etcd_client}/health"
        name = f"{host.name}-etcd"
        # A member that exits while the cluster forms (seen once in a while in CI, with nothing
        # in its log) is started again on its own data, as a service manager would restart it.
        for attempt in range(1, ETCD_STARTS + 1):
            try:
                wait_for(
                    f"etcd on {host.name}",
                    lambda url=url: http_json(url)[1].get("health") == "true",
                    seconds=30,
                    logs=[name],
                )
                break
            except HaError:
                if hosts.running(name) or attempt == ETCD_STARTS:
                    raise
                log(f"  etcd on {host.name} exited while starting; starting it again")
                config = HOSTS / host.name / "etcd.yml"
                hosts.run_in(host, ["etcd", "--config-file", config], name=name)
    log(f"  etcd on {', '.join(h.name for h in topology.hosts_with('etcd'))}")


ETCD_STARTS = 3


def start_patroni(topology: Topology, host: Host, secret_values: dict[str, str]) -> None:
    directory = HOSTS / host.name / "postgres"
    (directory / "run").mkdir(parents=True, exist_ok=True)
    config = HOSTS / host.name / "patroni.yml"
    text = configs.patroni_config(
        topology,
        host,
        data_dir=directory / "data",
        bin_dir=postgres_bindir(),
        socket_dir=directory / "run",
        pgpass=directory / "pgpass",
        secrets=secret_values,
    )
    config.touch(mode=0o600)
    config.write_text(text)
    give_to_db_user(directory)
    give_to_db_user(config)
    environment = {"PYTHONPATH": str(PATRONI_LIB), "LANG": "C.UTF-8", "PATH": os.environ["PATH"]}
    hosts.run_in(
        host,
        [SYSTEM_PYTHON, "-m", "patroni", config],
        name=f"{host.name}-patroni",
        env=environment,
        user=DB_USER,
        program="patroni",
        cwd=directory,
    )


def start_postgres(topology: Topology, secret_values: dict[str, str]) -> None:
    first, *others = topology.hosts_with("postgres")
    # The first host bootstraps (initdb) and takes the lock; the others clone it.
    start_patroni(topology, first, secret_values)
    wait_for(
        f"Patroni's leader on {first.name}",
        lambda: leader(topology) == first.name,
        seconds=90,
        logs=[f"{first.name}-patroni"],
    )
    for host in others:
        start_patroni(topology, host, secret_values)
    wait_for(
        "Patroni: one leader, the others streaming",
        lambda: healthy(topology),
        seconds=120,
        logs=[f"{host.name}-patroni" for host in others],
    )
    log(f"  Patroni + PostgreSQL {postgres_bindir().parent.name}: {describe_members(topology)}")


def describe_members(topology: Topology) -> str:
    return ", ".join(f"{m['name']} {m['role']} ({m['state']})" for m in members(topology))


def start_balancers(topology: Topology) -> None:
    """HAProxy on every balancer host, and keepalived, which puts the floating address on one."""
    for host in topology.hosts_with("balancer"):
        directory = HOSTS / host.name
        directory.mkdir(parents=True, exist_ok=True)
        haproxy_cfg = directory / "haproxy.cfg"
        haproxy_cfg.write_text(
            configs.haproxy_config(topology, host, pidfile=directory / "haproxy.pid")
        )
        run(["haproxy", "-c", "-q", "-f", haproxy_cfg])
        hosts.run_in(host, ["haproxy", "-db", "-f", haproxy_cfg], name=f"{host.name}-haproxy")
        check = directory / "haproxy-alive.sh"
        check.write_text(configs.haproxy_check_script(topology, host))
        check.chmod(0o755)  # keepalived runs only scripts no one but root may change
        keepalived_conf = directory / "keepalived.conf"
        keepalived_conf.write_text(configs.keepalived_config(topology, host, check=check))
        command = ["keepalived", "--dont-fork", "--log-console", "--log-detail"]
        command += ["--use-file", keepalived_conf, "--pid", directory / "keepalived.pid"]
        command += ["--vrrp_pid", directory / "keepalived-vrrp.pid"]
        command += ["--checkers_pid", directory / "keepalived-checkers.pid"]
        hosts.run_in(host, command, name=f"{host.name}-keepalived", program="keepalived")
    names = [f"{h.name}-{kind}" for h in topology.hosts_with("balancer") for kind in KEEPERS]
    wait_for(
        f"the floating address {topology.vip} on a balancer host",
        lambda: vip_holder(topology) is not None,
        seconds=30,
        logs=names,
    )
    wait_for("the leader through HAProxy", lambda: _answers(topology), seconds=30, logs=names)
    log(
        f"  HAProxy on {', '.join(h.name for h in topology.hosts_with('balancer'))}, "
        f"keepalived holding {topology.vip} on {vip_holder(topology)}: "
        f":{topology.ports.db_primary} (leader), :{topology.ports.db_replicas} (replicas), "
        f":{topology.ports.balancer} (shop)"
    )


KEEPERS = ("haproxy", "keepalived")  # each balancer host's processes


def vip_holder(topology: Topology) -> str | None:
    """The balancer host whose interface has the floating address now (None: none has)."""
    for host in topology.hosts_with("balancer"):
        if not hosts.namespace_exists(host.name):
            continue
        shown = hosts.ip("-n", host.name, "-4", "-o", "addr", "show", check=False).stdout
        if f" {topology.vip}/" in shown:
            return host.name
    return None


# --- Redis and its sentinels ----------------------------------------------------------------


def redis_cli(address: str, port: int, *arguments: str) -> list[str] | None:
    """Ask a Redis node or sentinel; its answer's lines, None when it does not answer."""
    command = ["redis-cli", "--raw", "-h", address, "-p", str(port), *arguments]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=3, check=False)
    except subprocess.TimeoutExpired:
        return None
    if result.returncode != 0 or result.stdout.startswith(("ERR", "Could not connect")):
        return None
    return result.stdout.splitlines()


def redis_master_address(topology: Topology) -> str | None:
    """The master's address as most answering sentinels name it; None if none answers."""
    named = Counter()
    for host in topology.hosts_with("sentinel"):
        lines = redis_cli(
            host.address,
            topology.ports.sentinel,
            "SENTINEL",
            "get-master-addr-by-name",
            topology.sentinel.master_name,
        )
        if lines and len(lines) == 2:
            named[lines[0]] += 1
    return named.most_common(1)[0][0] if named else None


def redis_role(topology: Topology, host: Host) -> dict[str, str]:
    """A data node's INFO replication fields ({} when it does not answer)."""
    lines = redis_cli(host.address, topology.ports.redis, "INFO", "replication") or []
    return dict(line.strip().split(":", 1) for line in lines if ":" in line)


def redis_healthy(topology: Topology) -> bool:
    """Every sentinel names one master, which is a master and has every other node in sync,
    and every sentinel knows all the others and every replica."""
    master = redis_master_address(topology)
    if master is None or redis_role(topology, topology.host_at(master)).get("role") != "master":
        return False
    for host in topology.hosts_with("redis"):
        if host.address != master and redis_role(topology, host).get("master_link_status") != "up":
            return False
    name, port = topology.sentinel.master_name, topology.ports.sentinel
    sentinels, replicas = len(topology.hosts_with("sentinel")), len(topology.hosts_with("redis"))
    for host in topology.hosts_with("sentinel"):
        answer = redis_cli(host.address, port, "SENTINEL", "master", name) or []
        fields = dict(zip(answer[::2], answer[1::2], strict=False))
        if (
            fields.get("ip") != master
            or fields.get("num-other-sentinels") != str(sentinels - 1)
            or fields.get("num-slaves") != str(replicas - 1)
            or fields.get("flags") != "master"
        ):
            return False
    return True


def start_redis_node(topology: Topology, host: Host, *, master_address: str | None = None) -> None:
    directory = HOSTS / host.name / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "redis.conf"
    config.write_text(
        configs.redis_config(
            topology,
            host,
            pidfile=directory / "redis.pid",
            directory=directory,
            master_address=master_address,
        )
    )
    hosts.run_in(host, ["redis-server", config], name=f"{host.name}-redis")


def start_sentinel(topology: Topology, host: Host) -> None:
    directory = HOSTS / host.name / "sentinel"
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "sentinel.conf"
    config.write_text(
        configs.sentinel_config(
            topology, host, pidfile=directory / "sentinel.pid", directory=directory
        )
    )
    hosts.run_in(
        host, ["redis-server", config, "--sentinel"], name=f"{host.name}-sentinel", program="redis"
    )


def start_redis(topology: Topology) -> None:
    """The data nodes (master first, then its replicas, in sync), then the sentinels."""
    nodes = topology.hosts_with("redis")
    for host in nodes:
        start_redis_node(topology, host)
    for host in nodes[1:]:
        wait_for(
            f"the Redis replica on {host.name} in sync",
            lambda host=host: redis_role(topology, host).get("master_link_status") == "up",
            seconds=30,
            logs=[f"{h.name}-redis" for h in nodes],
        )
    # Sentinels learn of replicas from the master's INFO: started once the replicas are in sync.
    for host in topology.hosts_with("sentinel"):
        start_sentinel(topology, host)
    wait_for(
        "the sentinels: one master, every replica and sentinel known",
        lambda: redis_healthy(topology),
        seconds=60,
        logs=[f"{h.name}-sentinel" for h in topology.hosts_with("sentinel")],
    )
    log(
        f"  Redis master on {configs.redis_master(topology).name}, replicas on "
        f"{', '.join(h.name for h in nodes[1:])}; sentinels on "
        f"{', '.join(h.name for h in topology.hosts_with('sentinel'))} "
        f"(quorum {topology.sentinel.quorum(len(topology.hosts_with('sentinel')))})"
    )


# --- pgbouncer and Celery on the app hosts --------------------------------------------------


def pgbouncer_program() -> str:
    return shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def start_pgbouncer(topology: Topology, host: Host, secret_values: dict[str, str]) -> None:
    directory = HOSTS / host.name / "pgbouncer"
    directory.mkdir(parents=True, exist_ok=True)
    users = directory / "userlist.txt"
    users.touch(mode=0o600)
    users.write_text(configs.pgbouncer_users(secret_values))
    config = directory / "pgbouncer.ini"
    config.write_text(
        configs.pgbouncer_config(
            topology,
            host,
            pidfile=directory / "pgbouncer.pid",
            logfile=directory / "pgbouncer.log",
            auth_file=users,
        )
    )
    give_to_db_user(directory)  # pgbouncer refuses to run as root
    hosts.run_in(
        host,
        [pgbouncer_program(), config],
        name=f"{host.name}-pgbouncer",
        user=DB_USER,
        program="pgbouncer",
        cwd=directory,
    )


def pooled() -> bool:
    """Whether the app hosts reach the leader through pgbouncer: yes, unless `up` ran with
    SHOP_HA_POOLER=none (to measure the leader's connections without it). Kept in var/ha."""
    return not POOLER_OFF.exists()


def start_poolers(topology: Topology, secret_values: dict[str, str]) -> None:
    if os.environ.get("SHOP_HA_POOLER") == "none":
        POOLER_OFF.touch()
        log("  no pgbouncer (SHOP_HA_POOLER=none): the app hosts reach HAProxy directly")
        return
    for host in topology.hosts_with("app"):
        start_pgbouncer(topology, host, secret_values)
    for host in topology.hosts_with("app"):
        wait_for(
            f"pgbouncer on {host.name}",
            lambda host=host: port_open(host.address, topology.ports.pgbouncer),
            seconds=15,
            logs=[f"{host.name}-pgbouncer"],
        )
    apps = ", ".join(host.name for host in topology.hosts_with("app"))
    log(f"  pgbouncer (transaction pooling) on {apps}:{topology.ports.pgbouncer}")


def beat_host(topology: Topology) -> Host:
    """The one app host that runs Celery beat: two beats would send every periodic task twice."""
    return topology.hosts_with("app")[0]


def celery_command(*arguments) -> list:
    return [VENV_BIN / "celery", "--workdir", ROOT, "-A", "config", *arguments]


def start_worker(topology: Topology, host: Host, secret_values: dict[str, str]) -> None:
    environment = configs.app_environment(
        topology, secret_values, replica=f"{host.name}-worker", host=host, pooled=pooled()
    )
    command = celery_command("worker", "-Q", "shop", "--concurrency", "2")
    command += ["--hostname", f"shop@{host.name}", "--loglevel", "INFO"]
    hosts.run_in(host, command, name=f"{host.name}-worker", env=environment, program="celery")


def start_beat(topology: Topology, secret_values: dict[str, str]) -> None:
    host = beat_host(topology)
    environment = configs.app_environment(
        topology, secret_values, replica=f"{host.name}-beat", host=host, pooled=pooled()
    )
    schedule = HOSTS / host.name / "celery-beat-schedule"
    command = celery_command("beat", "--schedule", schedule, "--loglevel", "INFO")
    hosts.run_in(host, command, name=f"{host.name}-beat", env=environment, program="celery")


def start_celery(topology: Topology, secret_values: dict[str, str]) -> None:
    """A worker on each app host, beat on one; all through the sentinels to the broker."""
    for host in topology.hosts_with("app"):
        start_worker(topology, host, secret_values)
    start_beat(topology, secret_values)
    names = [f"{h.name}-worker" for h in topology.hosts_with("app")]
    names.append(f"{beat_host(topology).name}-beat")
    wait_for(
        "the Celery workers answering through the broker",
        lambda: workers_answering(topology, secret_values) == set(topology.hosts_with("app")),
        seconds=60,
        logs=names,
    )
    log(
        f"  Celery workers on {', '.join(h.name for h in topology.hosts_with('app'))}, "
        f"beat on {beat_host(topology).name}"
    )


def workers_answering(topology: Topology, secret_values: dict[str, str]) -> set[Host]:
    """The app hosts whose worker answers `celery inspect ping` through the broker."""
    command = celery_command("inspect", "ping", "--timeout", "2")
    environment = configs.app_environment(topology, secret_values, replica="inspect")
    try:
        output = run(command, env=environment, timeout=30)
    except (HaError, subprocess.TimeoutExpired):
        return set()
    return {host for host in topology.hosts_with("app") if f"shop@{host.name}: OK" in output}


def _answers(topology: Topology) -> bool:
    """Whether HAProxy sends connections to the leader only.

    HAProxy starts with every server up until its checks say otherwise, so one answer may come
    from a replica: as many answers in a row as there are servers, each from the leader.
    """
    query = "SELECT pg_is_in_recovery()"
    try:
        for _ in range(len(topology.hosts_with("postgres")) + 2):
            if psql(topology, query, database="postgres") != [["f"]]:
                return False
    except HaError:
        return False
    return True


def prepare_database(topology: Topology, secret_values: dict[str, str]) -> None:
    name = topology.app.database
    if not psql(
        topology, f"SELECT 1 FROM pg_database WHERE datname = '{name}'", database="postgres"
    ):
        psql(topology, f"CREATE DATABASE {name}", database="postgres")
    environment = configs.app_environment(topology, secret_values, replica="manage")
    manage = [sys.executable, "manage.py"]
    log("  migrate, collectstatic, seed_catalog, ensure_operator")
    run([*manage, "migrate", "--noinput", "-v0"], env=environment)
    run([*manage, "collectstatic", "--noinput", "-v0"], env=environment)
    run([*manage, "seed_catalog", "--products", str(topology.app.seed_products)], env=environment)
    run([*manage, "ensure_operator"], env=environment)


def start_apps(topology: Topology, secret_values: dict[str, str]) -> None:
    if swarm.enabled(topology):  # the app tier as Docker Swarm services instead (ha/swarm.py)
        swarm.start(topology, secret_values)
        balancer = configs.balancer_url(topology)
        wait_for("the balancer", lambda: http_json(f"{balancer}/healthz")[0] == 200, seconds=30)
        log(f"  shop at {balancer}/")
        return
    for host in topology.hosts_with("app"):
        name = f"{host.name}-app"
        metrics = STATE / "metrics" / name
        shutil.rmtree(metrics, ignore_errors=True)
        metrics.mkdir(parents=True)
        environment = configs.app_environment(
            topology, secret_values, replica=name, host=host, pooled=pooled()
        )
        environment["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
        command = [VENV_BIN / "gunicorn", "config.wsgi"]
        command += ["--bind", f"{host.address}:{topology.ports.app}"]
        command += ["--config", ROOT / "config" / "gunicorn.py", "--chdir", ROOT]
        command += ["--workers", "2", "--threads", "4", "--timeout", "30"]
        command += ["--graceful-timeout", "10", "--keep-alive", "60"]
        command += ["--control-socket", RUN / f"{name}.ctl"]
        hosts.run_in(host, command, name=name, env=environment, program="gunicorn")
    for host in topology.hosts_with("app"):
        url = f"http://{host.address}:{topology.ports.app}/healthz"
        wait_for(
            f"the app on {host.name}",
            lambda url=url: http_json(url)[0] == 200,
            seconds=60,
            logs=[f"{host.name}-app"],
        )
    balancer = configs.balancer_url(topology)
    wait_for("the balancer", lambda: http_json(f"{balancer}/healthz")[0] == 200, seconds=20)
    apps = ", ".join(host.name for host in topology.hosts_with("app"))
    log(f"  gunicorn on {apps}; shop at {balancer}/")


def up(*, keep_failed: bool = False) -> Topology:
    started = time.monotonic()
    check_prerequisites()
    topology = load()
    if STATE.exists() and (
        hosts.names() or any(hosts.namespace_exists(h.name) for h in topology.hosts)
    ):
        if all_running(topology_in_use()):
            log("The HA deployment is already up.")
            print_status(topology_in_use())
            return topology_in_use()
        log("Removing what is left of the last run first")
        down(quiet=True)
    for directory in (STATE, RUN, LOGS, HOSTS, STATIC_ROOT, MEDIA_ROOT, MAIL):
        directory.mkdir(parents=True, exist_ok=True)
    STATE.chmod(0o755)  # the postgres user walks through it to its data
    shutil.copyfile(TOPOLOGY_FILE, TOPOLOGY_IN_USE)
    where = f"{STATE.relative_to(ROOT)} from {TOPOLOGY_FILE}"
    log(f"Starting the HA deployment in {where}")
    try:
        install_patroni()
        secret_values = load_secrets()
        hosts.create(topology)
        log(
            f"  hosts {', '.join(f'{h.name} {h.address}' for h in topology.hosts)} "
            f"on {topology.bridge} ({topology.gateway})"
        )
        start_etcd(topology)
        start_postgres(topology, secret_values)
        start_balancers(topology)
        start_redis(topology)
        prepare_database(topology, secret_values)
        start_poolers(topology, secret_values)
        start_apps(topology, secret_values)
        if not swarm.enabled(topology):  # on a swarm, worker and beat are its services
            start_celery(topology, secret_values)
    except (HaError, hosts.HostError, swarm.SwarmError, OSError) as error:
        if not keep_failed:
            log(f"ha up failed; removing what it made (--keep-failed keeps it):\n{error}")
            down(quiet=True)
        raise
    log(f"\nUp in {time.monotonic() - started:.0f} s.")
    print_status(topology)
    return topology


# --- Stopping -------------------------------------------------------------------------------


def down(*, quiet: bool = False) -> None:
    try:
        topology = topology_in_use()
    except TopologyError as error:
        # A copy an older `up` made, in a format this code no longer reads: the topology file's
        # names (hosts, bridge) are what `down` needs, and they rarely change.
        try:
            topology = load()
        except TopologyError:
            raise HaError(f"cannot tell what to remove: {error}") from None
        log(f"{error}; removing what {TOPOLOGY_FILE} names instead")
    said = []
    if swarm.enabled(topology):  # the stack and the swarm before the hosts' processes
        said += swarm.stop(topology)
    # The front first, then the databases: Patroni stops its PostgreSQL (fast shutdown).
    order = [f"{h.name}-{kind}" for kind in ("app", "beat", "worker") for h in topology.hosts]
    order += [f"{h.name}-pgbouncer" for h in topology.hosts]
    order += [f"{h.name}-{kind}" for kind in ("keepalived", "haproxy") for h in topology.hosts]
    order += [f"{h.name}-{kind}" for kind in ("sentinel", "redis") for h in topology.hosts]
    order += [f"{h.name}-patroni" for h in topology.hosts] + [
        f"{h.name}-etcd" for h in topology.hosts
    ]
    for name in order + [n for n in hosts.names() if n not in order]:
        if hosts.stop(name, seconds=40 if name.endswith("-patroni") else 15):
            said.append(name)
    said += hosts.remove(topology)
    said += [f"small disk {point}" for point in hosts.unmount_small_disks(STATE)]
    if STATE.exists():
        for path in STATE.iterdir():
            if path in KEPT:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    if not quiet or said:
        log("Stopped and removed: " + (", ".join(said) or "nothing was running"))
    log(f"Deleted {STATE.relative_to(ROOT)} (kept: Patroni's install, drills.json)")


# --- Status ---------------------------------------------------------------------------------


def process_names(topology: Topology) -> list[str]:
    names = [f"{h.name}-etcd" for h in topology.hosts_with("etcd")]
    names += [f"{h.name}-patroni" for h in topology.hosts_with("postgres")]
    names += [f"{h.name}-redis" for h in topology.hosts_with("redis")]
    names += [f"{h.name}-sentinel" for h in topology.hosts_with("sentinel")]
    names += [f"{h.name}-{kind}" for h in topology.hosts_with("balancer") for kind in KEEPERS]
    if pooled():
        names += [f"{h.name}-pgbouncer" for h in topology.hosts_with("app")]
    if swarm.enabled(topology):
        return names + swarm.process_names(topology)
    names += [f"{h.name}-app" for h in topology.hosts_with("app")]
    names += [f"{h.name}-worker" for h in topology.hosts_with("app")]
    names += [f"{beat_host(topology).name}-beat"]
    return names


def all_running(topology: Topology) -> bool:
    return all(hosts.running(name) for name in process_names(topology))


def print_status(topology: Topology) -> bool:
    log(f"{'PROCESS':<20}{'PID':>8}  STATE")
    for name in process_names(topology):
        state = "running" if hosts.running(name) else ("dead" if hosts.pid_of(name) else "stopped")
        log(f"{name:<20}{hosts.pid_of(name) or '-':>8}  {state}")
    log(f"\n{'HOST':<10}{'ADDRESS':<14}{'NETWORK':<10}ROLES")
    for host in topology.hosts:
        if not hosts.namespace_exists(host.name):
            network = "absent"
        else:
            network = "cut" if hosts.is_cut(host) else "up"
        log(f"{host.name:<10}{host.address:<14}{network:<10}{','.join(host.roles)}")
    found = members(topology)
    log("\nPatroni: " + (describe_members(topology) if found else "no member answers"))
    log("Redis:   " + describe_redis(topology))
    log(f"Front:   {topology.vip} on {vip_holder(topology) or 'no host'} (keepalived)")
    converged = swarm.status(topology) if swarm.enabled(topology) else True
    return all_running(topology) and healthy(topology) and redis_healthy(topology) and converged


def describe_redis(topology: Topology) -> str:
    """Each data node's role as it says itself, and the master as the sentinels name it."""
    roles = []
    for host in topology.hosts_with("redis"):
        info = redis_role(topology, host)
        role = info.get("role", "down")
        if role == "slave":
            role = (
                f"replica ({'in sync' if info.get('master_link_status') == 'up' else 'link down'})"
            )
        roles.append(f"{host.name} {role}")
    master = redis_master_address(topology)
    named = topology.host_at(master).name if master and topology.host_at(master) else master
    return ", ".join(roles) + f"; the sentinels name {named or 'no master'} master"


# --- Entry point ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ha", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start it all (after removing any leftovers)")
    up_parser.add_argument("--keep-failed", action="store_true", help="leave a failed up as is")
    commands.add_parser("down", help="remove everything it made")
    commands.add_parser("status", help="processes, hosts, Patroni members")
    drills_parser = commands.add_parser("drills", help="break it under load; var/ha/drills.json")
    drills_parser.add_argument("--keep", action="store_true", help="leave it running afterwards")
    drills_parser.add_argument("--only", nargs="*", help="drill names to run (default all)")
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "up":
            up(keep_failed=arguments.keep_failed)
        elif arguments.command == "down":
            down()
        elif arguments.command == "status":
            if not STATE.exists() or not TOPOLOGY_IN_USE.exists():
                log("Not up: make ha")
                return 1
            return 0 if print_status(topology_in_use()) else 1
        elif arguments.command == "drills":
            from ha import drills

            return drills.main(keep=arguments.keep, only=arguments.only)
    except (HaError, TopologyError, hosts.HostError, swarm.SwarmError) as error:
        print(f"ha: {error}", file=sys.stderr)
        return 1
    return 0
