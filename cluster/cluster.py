"""The whole shop on one machine: the cluster of DESIGN.md, for real, on loopback (issue 5).

A PostgreSQL primary and a streaming replica, pgbouncer in front of the primary (transaction
pooling), Redis, N gunicorn replicas of the app, a Celery worker and beat, and nginx in front.
Everything listens on 127.0.0.1 on ports of its own and lives under var/cluster/, so it never
meets the PostgreSQL, Redis or gunicorn of `make test` and `make run`.

    python -m cluster.cluster up [--replicas N]  start whatever is not running; the first start
                                                creates both databases, migrates and seeds
    python -m cluster.cluster down               stop everything it started; the data stays
    python -m cluster.cluster status [--json]    each process: name, pid, port, running or dead
    python -m cluster.cluster start-app K        start app replica K again if it is not running
    python -m cluster.cluster clean              down, then delete var/cluster

Run it with the virtualenv's python (`make cluster N=3`): gunicorn and celery are found beside
it. Standard library only, and `infra` (the process tools it shares with `make ha`, the drills
and the benchmarks). The configuration files it writes come from templates:
cluster/templates/ (PostgreSQL, Redis) and nginx/ (the load balancer).

The app processes get a clean environment (never the caller's DATABASE_URL or
DJANGO_SETTINGS_MODULE, which would split the replicas): the cluster's own variables below,
plus any RATELIMIT_* or COD_* variable set when `up` runs (for a load test), remembered for later
starts.
SHOP_MONITORING_NETWORKS (comma-separated addresses or CIDR networks) set when `up` runs may read
/readyz through nginx besides loopback; it is remembered too, as is SHOP_CLUSTER_POOLER=none (the
app replicas then reach the primary directly, not through pgbouncer: bench/connections.py).
"""

from __future__ import annotations

import argparse
import fcntl
import ipaddress
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from infra.paths import ROOT, VAR
from infra.processes import (
    StepFailed,
    alive,
    give_to,
    http_ok,
    log,
    log_tail,
    postgres_bindir,
    render,
    wait_until,
)
from infra.processes import port_open as _port_open
from infra.processes import run as _run

STATE = VAR / "cluster"
RUN = STATE / "run"  # pidfiles
LOGS = STATE / "log"
PG_DIR = STATE / "postgres"  # owned by the database user: PostgreSQL refuses to run as root
PRIMARY_DATA = PG_DIR / "primary"
REPLICA_DATA = PG_DIR / "replica"
REDIS_DIR = STATE / "redis"
NGINX_DIR = STATE / "nginx"
STATIC_ROOT = STATE / "static"
MEDIA_ROOT = STATE / "media"
SETTINGS_FILE = STATE / "cluster.json"  # the replica count and environment of the last `up`
SEEDED_MARK = STATE / "seeded"

HOST = "127.0.0.1"
PRIMARY_PORT = 15432
REPLICA_PORT = 15433
REDIS_PORT = 16379
PGBOUNCER_PORT = 16432
PGBOUNCER_DIR = PG_DIR / "pgbouncer"  # the database user's, as pgbouncer refuses to run as root
PGBOUNCER_POOL_SIZE = 20  # server connections to the primary, for every replica together
APP_PORT_BASE = 18000  # replica K listens on 18000 + K
NGINX_PORT = 18080
# Where shoppers reach the cluster: the app's absolute links and the Host nginx sends upstream.
PUBLIC_HOST = f"{HOST}:{NGINX_PORT}"
MAX_REPLICAS = NGINX_PORT - APP_PORT_BASE - 1
DEFAULT_REPLICAS = 3

DB_USER = "postgres"  # the database superuser, and the system user the servers run as
DB_NAME = "shop"
REPLICATION_SLOT = "shop_replica"
SEED_PRODUCTS = 2000
PASSED_THROUGH = re.compile(r"(RATELIMIT|COD)_\w+")

APT_LINE = "apt-get install -y postgresql pgbouncer redis-server nginx-light"
VENV_BIN = Path(sys.executable).parent
TEMPLATES = Path(__file__).resolve().parent / "templates"


class ClusterError(StepFailed):
    """A step failed; the message says which and what to do."""


# --- Processes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    name: str
    port: int | None
    pidfile: Path
    program: str  # a word of its command line, so a recycled pid is not taken for it

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def state(self) -> str:
        pid = self.pid()
        if pid is None:
            return "stopped"
        return "running" if alive(pid, self.program) else "dead"

    def running(self) -> bool:
        return self.state() == "running"


def app_service(number: int) -> Service:
    return Service(f"app{number}", APP_PORT_BASE + number, RUN / f"app{number}.pid", "gunicorn")


PRIMARY = Service("postgres-primary", PRIMARY_PORT, PRIMARY_DATA / "postmaster.pid", "postgres")
REPLICA = Service("postgres-replica", REPLICA_PORT, REPLICA_DATA / "postmaster.pid", "postgres")
REDIS = Service("redis", REDIS_PORT, RUN / "redis.pid", "redis-server")
PGBOUNCER = Service("pgbouncer", PGBOUNCER_PORT, PGBOUNCER_DIR / "pgbouncer.pid", "pgbouncer")
WORKER = Service("celery-worker", None, RUN / "celery-worker.pid", "celery")
BEAT = Service("celery-beat", None, RUN / "celery-beat.pid", "celery")
NGINX = Service("nginx", NGINX_PORT, NGINX_DIR / "nginx.pid", "nginx")


def services(replicas: int) -> list[Service]:
    """Every process of the cluster, in start order."""
    apps = [app_service(number) for number in range(1, replicas + 1)]
    return [PRIMARY, REPLICA, PGBOUNCER, REDIS, *apps, WORKER, BEAT, NGINX]


def _stray_apps(replicas: int) -> list[Service]:
    """App replicas beyond the current count that still have a pidfile (N was lowered)."""
    numbers = sorted(int(path.stem[3:]) for path in RUN.glob("app*.pid") if path.stem[3:].isdigit())
    return [app_service(number) for number in numbers if number > replicas]


# --- Prerequisites --------------------------------------------------------------------------


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if os.access(path, os.X_OK)), None
    )


def check_prerequisites() -> None:
    missing = []
    if postgres_bindir() is None:
        missing.append("PostgreSQL (initdb, pg_ctl, pg_basebackup)")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if pgbouncer_binary() is None:
        missing.append("pgbouncer")
    if nginx_binary() is None:
        missing.append("nginx")
    if missing:
        raise ClusterError(f"Missing {', '.join(missing)}. Install them with:\n    {APT_LINE}")
    for program in ("gunicorn", "celery"):
        if not (VENV_BIN / program).exists():
            raise ClusterError(
                f"No {program} beside {sys.executable}: run `make cluster` (it uses the "
                "virtualenv), or `make venv` first."
            )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(DB_USER)
        except KeyError:
            raise ClusterError(
                f"PostgreSQL will not run as root, and there is no `{DB_USER}` user to run it "
                f"as: {APT_LINE} creates one (or: adduser --system --group {DB_USER})."
            ) from None


# --- Small tools ----------------------------------------------------------------------------


def run(command: list, *, env: dict | None = None, cwd: Path = ROOT, quiet: bool = True) -> str:
    """Run a command to completion; on failure raise with the end of its output."""
    output = _run(command, env=env, cwd=cwd)
    if not quiet and output.strip():
        log(output.rstrip())
    return output


def as_db_user(command: list) -> list:
    """Run a PostgreSQL server tool as the unprivileged database user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", DB_USER, "--", *command]
    return command


def give_to_db_user(path: Path) -> None:
    give_to(DB_USER, path)


def write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def port_open(port: int) -> bool:
    return _port_open(HOST, port)


def wait_for(what: str, ready, *, seconds: float, logfile: Path | None = None) -> None:
    if not wait_until(ready, seconds=seconds):
        tail = log_tail(logfile) if logfile else ""
        raise ClusterError(f"{what} did not come up within {seconds:.0f} s.{tail}")


def stop_process(service: Service, sig: int = signal.SIGTERM, *, seconds: float = 20) -> None:
    """Signal a process and wait for it to exit; SIGKILL it if it will not."""
    pid = service.pid()
    if pid is not None and alive(pid, service.program):
        os.kill(pid, sig)
        deadline = time.monotonic() + seconds
        while alive(pid, service.program) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(pid, service.program):
            os.kill(pid, signal.SIGKILL)
    service.pidfile.unlink(missing_ok=True)


def kill_orphaned_workers(port: int) -> None:
    """Kill gunicorn workers still bound to port after their master died (SIGKILL)."""
    needle = f"--bind {HOST}:{port} "
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "gunicorn" in cmdline and needle in cmdline + " ":
            with suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)


@contextmanager
def cluster_lock():
    """One cluster command at a time (a test restarting a replica while `up` runs, say)."""
    STATE.mkdir(parents=True, exist_ok=True)
    with (STATE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextmanager
def exclusive_use(user: str):
    """Hold the cluster for a whole run of `user` (a benchmark, the drills), waiting for another.

    Each breaks or loads the cluster in ways the other must not see.
    """
    STATE.mkdir(parents=True, exist_ok=True)
    with (STATE / ".exclusive.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"{user}: waiting for another run to finish with the cluster", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# --- Settings and environment ---------------------------------------------------------------


def load_settings() -> dict:
    try:
        return json.loads(SETTINGS_FILE.read_text())
    except (OSError, ValueError):
        return {"replicas": DEFAULT_REPLICAS, "environment": {}}


def save_settings(settings: dict) -> None:
    SETTINGS_FILE.write_text(json.dumps(settings, indent=2) + "\n")


def app_environment(settings: dict, replica: str = "cluster") -> dict[str, str]:
    """The environment of every Django process: config/settings.py reads all of it."""
    environment = {
        name: os.environ[name]
        for name in ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
        if name in os.environ
    }
    environment.update(settings.get("environment", {}))
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            # Not SHOP_PRODUCTION: it redirects to https and sets HSTS, and nginx here is plain
            # http on loopback. Debug stays off all the same.
            "DJANGO_DEBUG": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            # The primary through pgbouncer (transaction pooling) unless `up` ran with
            # SHOP_CLUSTER_POOLER=none (to measure without it); the replica directly, so that a
            # replica down is a refused connection at once and reads fall back.
            **_database_environment(settings.get("pooler", "pgbouncer")),
            "DATABASE_REPLICA_URLS": f"postgres://{DB_USER}@{HOST}:{REPLICA_PORT}/{DB_NAME}",
            "REDIS_URL": f"redis://{HOST}:{REDIS_PORT}/0",
            "CELERY_BROKER_URL": f"redis://{HOST}:{REDIS_PORT}/1",
            "CELERY_QUEUE": "shop",
            "STATIC_ROOT": str(STATIC_ROOT),
            "MEDIA_ROOT": str(MEDIA_ROOT),
            "SHOP_SERVE_MEDIA": "0",  # nginx serves /media/
            # The client address comes from nginx's X-Real-IP (nginx/proxy.conf replaces it).
            "SHOP_TRUSTED_PROXY_HEADER": "HTTP_X_REAL_IP",
            "SHOP_REPLICA_NAME": replica,
            "SHOP_PUBLIC_URL": f"http://{PUBLIC_HOST}",
            "EMAIL_URL": f"filemail:///{STATE / 'mail'}",
            "LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return environment


def _database_environment(pooler: str) -> dict[str, str]:
    if pooler == "none":
        return {"DATABASE_URL": f"postgres://{DB_USER}@{HOST}:{PRIMARY_PORT}/{DB_NAME}"}
    return {
        "DATABASE_URL": f"postgres://{DB_USER}@{HOST}:{PGBOUNCER_PORT}/{DB_NAME}",
        "DATABASE_POOLER": "transaction",
    }


def manage(settings: dict, *arguments: str, quiet: bool = True) -> str:
    return run(
        [sys.executable, "manage.py", *arguments], env=app_environment(settings), quiet=quiet
    )


# --- PostgreSQL -----------------------------------------------------------------------------


def pg(tool: str) -> Path:
    return postgres_bindir() / tool


def psql(port: int, sql: str) -> str:
    command = [pg("psql"), "-X", "-q", "-At", "-h", HOST, "-p", port, "-U", DB_USER]
    return run([*command, "-d", "postgres", "-c", sql]).strip()


def write_postgres_config(data: Path, port: int) -> None:
    values = {"PORT": str(port), "SOCKET_DIR": str(PG_DIR)}
    (data / "shop.conf").write_text(render(TEMPLATES / "postgresql.conf", values))
    (data / "pg_hba.conf").write_text(render(TEMPLATES / "pg_hba.conf", {}))
    conf = data / "postgresql.conf"
    if "include 'shop.conf'" not in conf.read_text():
        with conf.open("a") as file:
            file.write("\n# The shop's cluster: cluster/templates/postgresql.conf\n")
            file.write("include 'shop.conf'\n")
    give_to_db_user(data)


def init_primary() -> None:
    log(f"Creating the PostgreSQL primary in {PRIMARY_DATA.relative_to(ROOT)}")
    scratch = PG_DIR / "primary.init"
    shutil.rmtree(scratch, ignore_errors=True)
    initdb = [pg("initdb"), "-D", scratch, "-U", DB_USER, "-A", "trust", "-E", "UTF8"]
    run(as_db_user([*initdb, "--locale=C", "--no-instructions"]), cwd=PG_DIR)
    write_postgres_config(scratch, PRIMARY_PORT)
    scratch.rename(PRIMARY_DATA)


def init_replica() -> None:
    log(f"Copying the primary into the streaming replica {REPLICA_DATA.relative_to(ROOT)}")
    scratch = PG_DIR / "replica.init"
    shutil.rmtree(scratch, ignore_errors=True)
    # A slot keeps the primary's WAL until the replica has it, even while the replica is down.
    psql(
        PRIMARY_PORT,
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
        f"WHERE slot_name = '{REPLICATION_SLOT}'",
    )
    basebackup = [pg("pg_basebackup"), "-h", HOST, "-p", PRIMARY_PORT, "-U", DB_USER]
    basebackup += ["-D", scratch, "-R", "-X", "stream", "-C", "-S", REPLICATION_SLOT, "-c", "fast"]
    run(as_db_user(basebackup), cwd=PG_DIR)
    write_postgres_config(scratch, REPLICA_PORT)  # its own port; standby.signal makes it a replica
    scratch.rename(REPLICA_DATA)


def start_postgres(service: Service, data: Path) -> bool:
    """Start one PostgreSQL server unless it runs; return whether it was started."""
    if service.running():
        return False
    logfile = PG_DIR / f"{data.name}.log"
    run(
        as_db_user([pg("pg_ctl"), "-D", data, "-l", logfile, "-w", "-t", "60", "start"]), cwd=PG_DIR
    )
    log(f"  {service.name} started on {HOST}:{service.port}")
    return True


def stop_postgres(service: Service, data: Path) -> None:
    if service.running():
        run(as_db_user([pg("pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]), cwd=PG_DIR)
    elif service.state() == "dead":
        service.pidfile.unlink(missing_ok=True)  # crashed: pg_ctl start would refuse otherwise


def prepare_databases(settings: dict) -> None:
    """Create the database, migrate, collect static files; seed on the first start only."""
    if not psql(PRIMARY_PORT, f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"):
        psql(PRIMARY_PORT, f"CREATE DATABASE {DB_NAME}")
    log("  migrate, collectstatic")
    manage(settings, "migrate", "--noinput", "-v0")
    manage(settings, "collectstatic", "--noinput", "-v0")
    if not SEEDED_MARK.exists():
        log(f"  seed_catalog --products {SEED_PRODUCTS}, ensure_operator")
        manage(settings, "seed_catalog", "--products", str(SEED_PRODUCTS), quiet=False)
        manage(settings, "ensure_operator", quiet=False)
        SEEDED_MARK.write_text("seeded\n")


# --- pgbouncer ------------------------------------------------------------------------------


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (path for path in ("/usr/sbin/pgbouncer",) if Path(path).exists()), None
    )


def start_pgbouncer() -> None:
    """Start the pooler in front of the primary unless it runs (it needs no database up)."""
    if PGBOUNCER.running():
        return
    PGBOUNCER_DIR.mkdir(parents=True, exist_ok=True)
    auth_file = PGBOUNCER_DIR / "userlist.txt"
    auth_file.write_text(f'"{DB_USER}" ""\n')  # trust on loopback, as the servers' pg_hba
    values = {
        "DB_NAME": DB_NAME,
        "DB_USER": DB_USER,
        "HOST": HOST,
        "PRIMARY_PORT": str(PRIMARY_PORT),
        "PORT": str(PGBOUNCER_PORT),
        "PIDFILE": str(PGBOUNCER.pidfile),
        "LOGFILE": str(PGBOUNCER_DIR / "pgbouncer.log"),
        "AUTH_FILE": str(auth_file),
        "POOL_SIZE": str(PGBOUNCER_POOL_SIZE),
    }
    conf = PGBOUNCER_DIR / "pgbouncer.ini"
    conf.write_text(render(TEMPLATES / "pgbouncer.ini", values))
    give_to_db_user(PGBOUNCER_DIR)
    PGBOUNCER.pidfile.unlink(missing_ok=True)
    run(as_db_user([pgbouncer_binary(), "-d", conf]), cwd=PGBOUNCER_DIR)
    wait_for(
        "pgbouncer",
        lambda: PGBOUNCER.running() and port_open(PGBOUNCER_PORT),
        seconds=10,
        logfile=PGBOUNCER_DIR / "pgbouncer.log",
    )
    log(f"  pgbouncer started on {HOST}:{PGBOUNCER_PORT} (transaction pooling)")


# --- Redis, the app, Celery, nginx ----------------------------------------------------------


def start_redis() -> None:
    if REDIS.running():
        return
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    values = {
        "PORT": str(REDIS_PORT),
        "PIDFILE": str(REDIS.pidfile),
        "LOGFILE": str(LOGS / "redis.log"),
        "DIR": str(REDIS_DIR),
    }
    conf = REDIS_DIR / "redis.conf"
    conf.write_text(render(TEMPLATES / "redis.conf", values))
    REDIS.pidfile.unlink(missing_ok=True)
    run(["redis-server", conf])
    wait_for("Redis", lambda: REDIS.running() and port_open(REDIS_PORT), seconds=10)
    log(f"  redis started on {HOST}:{REDIS_PORT}")


def launch_app(settings: dict, number: int) -> Service | None:
    """Start app replica `number` unless it runs; return it if it was started."""
    service = app_service(number)
    if service.running():
        return None
    service.pidfile.unlink(missing_ok=True)
    kill_orphaned_workers(service.port)
    # prometheus_client's multiprocess mode: one directory per replica, emptied at its start.
    metrics = STATE / "metrics" / service.name
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    environment = app_environment(settings, replica=service.name)
    environment["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    command = [VENV_BIN / "gunicorn", "config.wsgi", "--bind", f"{HOST}:{service.port}"]
    command += ["--config", ROOT / "config" / "gunicorn.py"]
    # Two processes of four threads: threads keep nginx's upstream connections alive
    # (sync workers close every connection), processes keep one slow request from the rest.
    command += ["--workers", "2", "--threads", "4", "--timeout", "30", "--graceful-timeout", "10"]
    command += ["--keep-alive", "60", "--daemon", "--pid", service.pidfile, "--chdir", ROOT]
    command += ["--error-logfile", LOGS / f"{service.name}.log", "--capture-output"]
    command += ["--control-socket", RUN / f"{service.name}.ctl"]  # else all share ~/.gunicorn
    run(command, env=environment)
    return service


def wait_for_apps(started: list[Service]) -> None:
    for service in started:
        wait_for(
            f"{service.name} (gunicorn on {HOST}:{service.port})",
            lambda service=service: http_ok(f"http://{HOST}:{service.port}/healthz"),
            seconds=60,
            logfile=LOGS / f"{service.name}.log",
        )
        log(f"  {service.name} started on {HOST}:{service.port} (pid {service.pid()})")


def spawn(command: list, *, env: dict, logfile: Path) -> None:
    """Start a long-running process in the background, its output appended to logfile.

    Not `celery --detach`: a detached worker's stderr is /dev/null, and the app's logging
    (settings.LOGGING, kept by config/celery.py) writes there.
    """
    with logfile.open("a") as output:
        subprocess.Popen(
            [str(part) for part in command],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_celery(settings: dict) -> None:
    environment = app_environment(settings, replica="celery")
    celery = [VENV_BIN / "celery", "--workdir", ROOT, "-A", "config"]
    if not WORKER.running():
        WORKER.pidfile.unlink(missing_ok=True)
        worker = ["worker", "-Q", "shop", "--concurrency", "2", "--hostname", "shop@cluster"]
        worker += ["--pidfile", WORKER.pidfile, "--loglevel", "INFO"]
        logfile = LOGS / "celery-worker.log"
        spawn([*celery, *worker], env=environment, logfile=logfile)
        wait_for("The Celery worker", WORKER.running, seconds=20, logfile=logfile)
        log(f"  celery-worker started (pid {WORKER.pid()})")
    if not BEAT.running():
        BEAT.pidfile.unlink(missing_ok=True)
        (STATE / "celery").mkdir(exist_ok=True)
        beat = ["beat", "--schedule", STATE / "celery" / "beat-schedule"]
        beat += ["--pidfile", BEAT.pidfile, "--loglevel", "INFO"]
        logfile = LOGS / "celery-beat.log"
        spawn([*celery, *beat], env=environment, logfile=logfile)
        wait_for("Celery beat", BEAT.running, seconds=20, logfile=logfile)
        log(f"  celery-beat started (pid {BEAT.pid()})")


def monitoring_networks(value: str) -> list[str]:
    """Parse SHOP_MONITORING_NETWORKS: addresses or networks, comma-separated; refuse others."""
    networks = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ClusterError(
                f"SHOP_MONITORING_NETWORKS: {item!r} is not an address or network"
            ) from None
    return networks


def render_nginx(settings: dict) -> bool:
    """Render nginx/ for the cluster's replicas; return whether any file changed."""
    replicas = settings["replicas"]
    conf_dir = NGINX_DIR / "conf"
    values = {
        "NGINX_DIR": str(NGINX_DIR),
        "CONF_DIR": str(conf_dir),
        "LOG_DIR": str(LOGS),
        "MIME_TYPES": "/etc/nginx/mime.types",
        "LISTEN": f"{HOST}:{NGINX_PORT}",
        "STATIC_ROOT": str(STATIC_ROOT),
        "MEDIA_ROOT": str(MEDIA_ROOT),
        "APP_ADDRESS": [f"{HOST}:{APP_PORT_BASE + number}" for number in range(1, replicas + 1)],
        "PUBLIC_HOST": PUBLIC_HOST,
        # The balancer (nginx itself, and so loopback, here) and the monitoring networks.
        "READYZ_ALLOW": [HOST, *settings.get("monitoring_networks", [])],
    }
    changed = False
    for template in sorted((ROOT / "nginx").glob("*.conf")):
        changed |= write_if_changed(conf_dir / template.name, render(template, values))
    return changed


def nginx_command(*arguments: str) -> list:
    conf = NGINX_DIR / "conf" / "nginx.conf"
    errors = LOGS / "nginx-error.log"
    return [nginx_binary(), "-p", f"{NGINX_DIR}/", "-c", conf, "-e", errors, *arguments]


def start_nginx(settings: dict) -> None:
    replicas = settings["replicas"]
    (NGINX_DIR / "tmp").mkdir(parents=True, exist_ok=True)
    changed = render_nginx(settings)
    if NGINX.running():
        if changed:
            run(nginx_command("-t", "-q"))
            run(nginx_command("-s", "reload"))
            log(f"  nginx reloaded for {replicas} replicas")
        return
    NGINX.pidfile.unlink(missing_ok=True)
    run(nginx_command("-t", "-q"))
    run(nginx_command())
    wait_for(
        "nginx",
        lambda: http_ok(f"http://{HOST}:{NGINX_PORT}/healthz"),
        seconds=20,
        logfile=LOGS / "nginx-error.log",
    )
    log(f"  nginx started on {HOST}:{NGINX_PORT} (pid {NGINX.pid()})")


# --- Commands -------------------------------------------------------------------------------


def up(replicas: int | None) -> None:
    started_at = time.monotonic()
    check_prerequisites()
    settings = load_settings()
    if replicas is not None:
        settings["replicas"] = replicas
    # RATELIMIT_* and COD_* of this `up` (none: the defaults), kept for replicas started later.
    environment = {name: value for name, value in os.environ.items() if PASSED_THROUGH.match(name)}
    settings["environment"] = environment
    # pgbouncer in front of the primary, or (SHOP_CLUSTER_POOLER=none) the primary directly.
    settings["pooler"] = os.environ.get("SHOP_CLUSTER_POOLER", "pgbouncer")
    if settings["pooler"] not in ("pgbouncer", "none"):
        raise ClusterError("SHOP_CLUSTER_POOLER is pgbouncer (the default) or none")
    if "SHOP_MONITORING_NETWORKS" in os.environ:
        settings["monitoring_networks"] = monitoring_networks(
            os.environ["SHOP_MONITORING_NETWORKS"]
        )
    replicas = settings["replicas"]
    for directory in (STATE, RUN, LOGS, PG_DIR, STATIC_ROOT, MEDIA_ROOT, STATE / "mail"):
        directory.mkdir(parents=True, exist_ok=True)
    STATE.chmod(0o755)  # the database user and nginx's workers walk through it
    save_settings(settings)
    give_to_db_user(PG_DIR)

    log(f"Starting the shop's cluster in {STATE.relative_to(ROOT)} ({replicas} app replicas)")
    start_redis()
    start_pgbouncer()
    if not (PRIMARY_DATA / "PG_VERSION").exists():
        init_primary()
    if start_postgres(PRIMARY, PRIMARY_DATA) or not SEEDED_MARK.exists():
        prepare_databases(settings)
    if not (REPLICA_DATA / "PG_VERSION").exists():
        init_replica()
    start_postgres(REPLICA, REPLICA_DATA)

    started = [launch_app(settings, number) for number in range(1, replicas + 1)]
    wait_for_apps([service for service in started if service])
    start_celery(settings)
    start_nginx(settings)
    for service in _stray_apps(replicas):  # after nginx has stopped sending them requests
        stop_process(service)
        log(f"  {service.name} stopped (beyond {replicas} replicas)")

    log(f"\nThe cluster is up in {time.monotonic() - started_at:.1f} s.")
    base = f"http://{HOST}:{NGINX_PORT}"
    log(f"  Storefront  {base}/")
    log(f"  Admin       {base}/admin/   (admin@shop.local / shop-admin-demo)")
    log(f"  API         {base}/api/v1/   docs {base}/api/docs/")
    log(f"  Logs        {LOGS.relative_to(ROOT)}/\n")
    print_status(replicas)


def down() -> None:
    settings = load_settings()
    everything = services(settings["replicas"]) + _stray_apps(settings["replicas"])
    log("Stopping the shop's cluster (the data stays: make cluster-clean deletes it)")
    for service in reversed(everything):
        state = service.state()
        if service in (PRIMARY, REPLICA):
            if PG_DIR.exists():
                stop_postgres(service, PRIMARY_DATA if service is PRIMARY else REPLICA_DATA)
        elif service is NGINX:
            stop_process(service, signal.SIGQUIT)  # finish the requests in flight
        else:
            stop_process(service)
            if service.name.startswith("app"):
                kill_orphaned_workers(service.port)
        if state != "stopped":
            log(f"  {service.name} stopped")


def start_app(number: int) -> None:
    settings = load_settings()
    started = launch_app(settings, number)
    if started:
        wait_for_apps([started])
    else:
        log(f"app{number} is already running")


def clean() -> None:
    down()
    shutil.rmtree(STATE, ignore_errors=True)
    log(f"Deleted {STATE.relative_to(ROOT)}")


def status_rows(replicas: int) -> list[dict]:
    rows = []
    for service in services(replicas) + _stray_apps(replicas):
        state = service.state()
        rows.append(
            {
                "name": service.name,
                "pid": service.pid() if state != "stopped" else None,
                "port": service.port,
                "state": state,
            }
        )
    return rows


def print_status(replicas: int) -> list[dict]:
    rows = status_rows(replicas)
    log(f"{'NAME':<18}{'PID':>8}  {'ADDRESS':<17}STATE")
    for row in rows:
        address = f"{HOST}:{row['port']}" if row["port"] else "-"
        log(f"{row['name']:<18}{row['pid'] or '-':>8}  {address:<17}{row['state']}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="start whatever is not running")
    up_parser.add_argument("--replicas", "-n", type=int, help="app replicas (last used, else 3)")
    commands.add_parser("down", help="stop everything; the data stays")
    status_parser = commands.add_parser("status", help="every process and its state")
    status_parser.add_argument("--json", action="store_true", help="machine-readable")
    start_app_parser = commands.add_parser("start-app", help="start one app replica again")
    start_app_parser.add_argument("number", type=int)
    commands.add_parser("clean", help="down, then delete var/cluster")
    arguments = parser.parse_args(argv)

    replicas = getattr(arguments, "replicas", None)
    if replicas is not None and not 1 <= replicas <= MAX_REPLICAS:
        parser.error(f"--replicas must be between 1 and {MAX_REPLICAS}")
    try:
        if arguments.command == "status":
            settings = load_settings()
            if arguments.json:
                rows = status_rows(settings["replicas"])
                print(json.dumps(rows, indent=2))
            else:
                if not STATE.exists():
                    log("No cluster yet: make cluster")
                rows = print_status(settings["replicas"])
            return 0 if all(row["state"] == "running" for row in rows) else 1
        with cluster_lock():
            if arguments.command == "up":
                up(replicas)
            elif arguments.command == "down":
                down()
            elif arguments.command == "start-app":
                start_app(arguments.number)
            elif arguments.command == "clean":
                clean()
    except StepFailed as error:  # ClusterError, or a shared step (infra.processes) that failed
        print(f"cluster: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
