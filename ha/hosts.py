"""Hosts on one machine: a network namespace each, plugged into one bridge by a veth.

    create(topology)                    bridge + one namespace per host, addresses from the topology
    run_in(host, argv, name=...)        a process inside a host (nsenter --net), pid file in
                                        var/ha/run/NAME.pid, output in var/ha/logs/NAME.log
    stop(name)                          SIGTERM by its pid file, SIGKILL if it will not go
    cut(host) / reconnect(host)         the host's cable out of the bridge, and back
    remove(topology)                    every process left in the namespaces, the namespaces,
                                        the bridge

On real machines none of this runs: each host is a machine with the topology's address, and the
same rendered configs start the same programs. Every name made here starts with `shop-`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import suppress
from pathlib import Path

from ha.paths import LOGS, ROOT, RUN
from ha.topology import Host, Topology
from infra.processes import alive

NETNS_DIR = Path("/run/netns")
IFACE = "eth0"  # the host's end of its veth, inside its namespace


class HostError(Exception):
    """A namespace, link or process could not be made or found; the message says which."""


def ip(*arguments: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["ip", *arguments], capture_output=True, text=True, timeout=30, check=False
    )
    if check and result.returncode != 0:
        raise HostError(f"`ip {' '.join(arguments)}` failed: {result.stderr.strip()}")
    return result


def namespace_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def link_exists(name: str) -> bool:
    return ip("link", "show", "dev", name, check=False).returncode == 0


def create(topology: Topology) -> None:
    """Make the bridge and each host; whatever exists already is left as it is."""
    gateway = f"{topology.gateway}/{topology.prefix_length}"
    if not link_exists(topology.bridge):
        ip("link", "add", topology.bridge, "type", "bridge")
        ip("addr", "add", gateway, "dev", topology.bridge)
    ip("link", "set", topology.bridge, "up")
    for host in topology.hosts:
        if not namespace_exists(host.name):
            ip("netns", "add", host.name)
        if not link_exists(host.veth):
            ip("link", "add", host.veth, "type", "veth", "peer", "name", IFACE, "netns", host.name)
            ip(
                "-n",
                host.name,
                "addr",
                "add",
                f"{host.address}/{topology.prefix_length}",
                "dev",
                IFACE,
            )
        ip("link", "set", host.veth, "master", topology.bridge, "up")
        ip("-n", host.name, "link", "set", "lo", "up")
        ip("-n", host.name, "link", "set", IFACE, "up")
        ip("-n", host.name, "route", "replace", "default", "via", topology.gateway)


def cut(host: Host) -> None:
    """Take the host off the network: no FIN, no RST, as if its cable were pulled."""
    ip("link", "set", host.veth, "down")


def reconnect(host: Host) -> None:
    ip("link", "set", host.veth, "up")


def is_cut(host: Host) -> bool:
    return "state DOWN" in ip("link", "show", "dev", host.veth, check=False).stdout


def namespace_pids(name: str) -> list[int]:
    if not namespace_exists(name):
        return []
    output = ip("netns", "pids", name, check=False).stdout
    return [int(word) for word in output.split() if word.isdigit()]


def remove(topology: Topology, *, seconds: float = 20) -> list[str]:
    """Stop every process still in a host, delete the hosts and the bridge; say what went."""
    removed = []
    for host in topology.hosts:
        pids = namespace_pids(host.name)
        _signal_all(pids, signal.SIGTERM)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and any(alive(pid) for pid in pids):
            time.sleep(0.2)
        _signal_all([pid for pid in pids if alive(pid)], signal.SIGKILL)
        if pids:
            removed.append(f"{len(pids)} processes left in {host.name}")
    for host in topology.hosts:
        if link_exists(host.veth):  # gone with its namespace, unless the namespace was lost
            ip("link", "del", host.veth, check=False)
        if namespace_exists(host.name):
            ip("netns", "del", host.name)
            removed.append(f"namespace {host.name}")
    if link_exists(topology.bridge):
        ip("link", "del", topology.bridge)
        removed.append(f"bridge {topology.bridge}")
    return removed


# --- Processes ------------------------------------------------------------------------------


def pidfile(name: str) -> Path:
    return RUN / f"{name}.pid"


def logfile(name: str) -> Path:
    return LOGS / f"{name}.log"


def run_in(
    host: Host | None,
    argv: list,
    *,
    name: str,
    env: dict[str, str] | None = None,
    user: str | None = None,
    program: str | None = None,
    cwd: Path = ROOT,
) -> int:
    """Start a long-running process inside `host` (None: on the machine itself); return its pid.

    `nsenter --net` rather than `ip netns exec`, which remounts /sys and so hides the cgroup
    mounts some daemons need. nsenter and setpriv exec the program, so the pid recorded is the
    program's own.
    """
    command = [str(part) for part in argv]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", *command]
    if host is not None:
        command = ["nsenter", f"--net={NETNS_DIR / host.name}", *command]
    RUN.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    with logfile(name).open("a") as output:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not killed with the shell that ran `make ha`
        )
    # With the pid, a word of its command line: a recycled pid is not taken for it.
    pidfile(name).write_text(f"{process.pid}\n{program or Path(str(argv[0])).name}\n")
    return process.pid


def pid_of(name: str) -> int | None:
    try:
        return int(pidfile(name).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def running(name: str) -> bool:
    pid = pid_of(name)
    if pid is None:
        return False
    try:
        program = pidfile(name).read_text().split()[1]
    except (OSError, IndexError):
        return False
    return alive(pid, program)


def stop(name: str, *, sig: int = signal.SIGTERM, seconds: float = 30) -> bool:
    """Signal the process of this pid file, wait for it, SIGKILL it if it will not exit."""
    pid = pid_of(name)
    was_running = running(name)
    if pid is not None and was_running:
        os.kill(pid, sig)
        deadline = time.monotonic() + seconds
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    pidfile(name).unlink(missing_ok=True)
    return was_running


def names() -> list[str]:
    """Every process with a pid file, by name."""
    return sorted(path.stem for path in RUN.glob("*.pid")) if RUN.exists() else []


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, sig)


# --- Small disks (the full-disk drill) ------------------------------------------------------


def mount_small_disk(directory: Path, *, megabytes: int, owner: tuple[int, int]) -> None:
    """Put `directory` on a tmpfs of `megabytes`, keeping what it holds (it must not be in use).

    On real machines the disk is the host's own; here a size-capped tmpfs stands in for one that
    can fill up without filling the machine's.
    """
    aside = directory.with_name(directory.name + ".before-small-disk")
    directory.rename(aside)
    directory.mkdir(mode=0o700)
    uid, gid = owner
    options = f"size={megabytes}m,mode=0700,uid={uid},gid={gid}"
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "shop-small-disk", directory], check=True
    )
    subprocess.run(["cp", "-a", f"{aside}/.", str(directory)], check=True)


def fill(directory: Path) -> int:
    """Write a file in `directory` until its filesystem is full; return the bytes written."""
    written = 0
    chunk = b"\0" * (1 << 20)
    with suppress(OSError), open(directory / "filler", "wb", buffering=0) as filler:
        while True:
            written += filler.write(chunk)
    return written


def unmount_small_disks(under: Path) -> list[str]:
    """Unmount every small disk mounted under `under` (by `ha down`, once nothing runs)."""
    mounts = Path("/proc/mounts").read_text().splitlines()
    points = [line.split()[1] for line in mounts if line.split()[0] == "shop-small-disk"]
    points = [point for point in points if Path(point).is_relative_to(under)]
    for point in sorted(points, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)
    return points
