"""Breaking and repairing the cluster's processes: cluster.cluster, pidfiles and signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cluster.cluster import APP_PORT_BASE, REPLICA_DATA, ROOT, SETTINGS_FILE, pg

PG_CTL = str(pg("pg_ctl"))  # the newest PostgreSQL installed, as the cluster itself uses
STOP_FAST = ["stop", "-m", "fast", "-w"]
REPLICAS = 3
# The drills' load would trip the per-endpoint limits (5 orders a minute): they are off. Its
# buyers share one e-mail address and one client address, which the cash-on-delivery caps
# (issue 12) would stop after a few orders: raised out of the way.
ENVIRONMENT = {
    "RATELIMIT_ENABLE": "0",
    "COD_MAX_UNITS_PER_CUSTOMER": "1000000",
    "COD_MAX_UNITS_PER_ADDRESS": "1000000",
}


class DrillError(Exception):
    """The cluster could not be broken, repaired or started as a drill needs."""


def cluster(*arguments: str, timeout: float = 240) -> str:
    """Run cluster.cluster with the drills' environment; raise with its output on failure."""
    result = subprocess.run(
        [sys.executable, "-m", "cluster.cluster", *arguments],
        cwd=ROOT,
        env={**os.environ, **ENVIRONMENT},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0 and arguments[0] != "status":
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise DrillError(f"cluster.py {' '.join(arguments)} failed:\n  " + "\n  ".join(tail))
    return result.stdout


def processes() -> dict[str, dict]:
    """Every process of the cluster by name: pid, port, state."""
    return {row["name"]: row for row in json.loads(cluster("status", "--json"))}


def not_running() -> list[str]:
    return [name for name, row in processes().items() if row["state"] != "running"]


def start_cluster() -> str:
    """Start whatever is not running, with rate limits off; restart it if they were on."""
    try:
        settings = json.loads(SETTINGS_FILE.read_text())
    except (OSError, ValueError):
        settings = {}
    running = [name for name, row in processes().items() if row["state"] == "running"]
    if running and settings.get("environment") != ENVIRONMENT:
        cluster("down")  # its app replicas count requests against the shop's real limits
        note = "restarted (it ran with other RATELIMIT_* or COD_* settings)"
    else:
        note = "already running" if not not_running() else "started"
    cluster("up", "--replicas", str(REPLICAS))
    return note


def _wait_gone(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(_alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _pid(name: str) -> int:
    pid = processes()[name]["pid"]
    if not pid:
        raise DrillError(f"{name} is not running: nothing to break")
    return pid


def _gunicorn_pids(master: int, port: int) -> list[int]:
    """The master and every gunicorn process bound to the port (its workers)."""
    pids = {master}
    needle = f"--bind 127.0.0.1:{port} "
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if "gunicorn" in cmdline and (parent == master or needle in cmdline + " "):
            pids.add(int(entry.name))
    return sorted(pids)


def kill_app(number: int) -> str:
    """SIGKILL app replica `number`: its gunicorn master and its workers, no goodbye."""
    pids = _gunicorn_pids(_pid(f"app{number}"), APP_PORT_BASE + number)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    if not _wait_gone(pids, 10):
        raise DrillError(f"app{number} survived SIGKILL: {pids}")
    return f"SIGKILL app{number}: pids {pids}"


def start_app(number: int) -> str:
    cluster("start-app", str(number))
    return f"cluster.py start-app {number}"


def stop_postgres_replica() -> str:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", PG_CTL, "-D", str(REPLICA_DATA), *STOP_FAST],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return "pg_ctl stop -m fast (the PostgreSQL replica)"


def signal_process(name: str, sig: signal.Signals, *, seconds: float = 30) -> str:
    """Send a signal to a cluster process and wait for it to exit."""
    pid = _pid(name)
    os.kill(pid, sig)
    if not _wait_gone([pid], seconds):
        raise DrillError(f"{name} (pid {pid}) did not exit within {seconds:.0f} s of {sig.name}")
    return f"{sig.name} {name} (pid {pid})"


def start_dead() -> str:
    cluster("up")
    return "cluster.py up"
