"""A Redis Sentinel group on 127.0.0.1 for tests: a master, a replica and three sentinels.

Debian's redis-server runs a sentinel itself (`redis-server FILE --sentinel`), so no package
beyond redis-server is needed. Every process runs from a temporary directory on free ports and
is stopped (by its pid) when the group closes.
"""

import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.sentinel import Sentinel

HOST = "127.0.0.1"
MASTER_NAME = "shop"
# How long a silent master counts as up, and how long one failover attempt may take: short, so
# that a test sees a failover in seconds (Redis's defaults are 30 s and 3 min).
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


def free_ports(count: int) -> list[int]:
    """Return `count` distinct free ports (all held open at once while chosen)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind((HOST, 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


@dataclass
class SentinelGroup:
    """The processes of the group, and the addresses a shop process is given."""

    directory: Path
    nodes: dict[int, subprocess.Popen] = field(default_factory=dict)  # data nodes by port
    sentinels: dict[int, subprocess.Popen] = field(default_factory=dict)  # by port

    @property
    def sentinel_addresses(self) -> str:
        """REDIS_SENTINELS for a shop process: host:port,host:port,host:port."""
        return ",".join(f"{HOST}:{port}" for port in self.sentinels)

    def sentinel(self) -> Sentinel:
        return Sentinel([(HOST, port) for port in self.sentinels], socket_timeout=0.5)

    def master_port(self) -> int:
        """The port of the master the sentinels name now."""
        return self.sentinel().discover_master(MASTER_NAME)[1]

    def master(self, db: int = 0) -> redis.Redis:
        return redis.Redis(host=HOST, port=self.master_port(), db=db, socket_timeout=0.5)

    def kill_master(self) -> int:
        """SIGKILL the master (no shutdown, no last save); return its port."""
        port = self.master_port()
        self.nodes[port].send_signal(signal.SIGKILL)
        self.nodes[port].wait(timeout=10)
        return port

    def wait_until_ready(self, seconds: float = 30) -> None:
        """Wait until the replica is in sync and every sentinel knows both others and it."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._ready():
                return
            time.sleep(0.1)
        raise AssertionError(f"Sentinel group not ready in {seconds} s: see {self.directory}")

    def _ready(self) -> bool:
        try:
            for port in self.sentinels:
                client = redis.Redis(host=HOST, port=port, socket_timeout=0.5)
                if len(client.sentinel_sentinels(MASTER_NAME)) != len(self.sentinels) - 1:
                    return False
                replicas = client.sentinel_slaves(MASTER_NAME)
                if not replicas or replicas[0]["flags"] != "slave":
                    return False
            replica_port = next(port for port in self.nodes if port != self.master_port())
            replica = redis.Redis(host=HOST, port=replica_port, socket_timeout=0.5)
            return replica.info("replication")["master_link_status"] == "up"
        except (redis.RedisError, StopIteration):
            return False


def _wait_for_sync(replica_port: int, seconds: float = 30) -> None:
    replica = redis.Redis(host=HOST, port=replica_port, socket_timeout=0.5)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if replica.info("replication")["master_link_status"] == "up":
                return
        except redis.RedisError:  # not listening yet
            pass
        time.sleep(0.05)
    raise AssertionError(f"the replica on {replica_port} did not sync in {seconds} s")


def _start(directory: Path, name: str, config: str, *extra: str) -> subprocess.Popen:
    conf = directory / f"{name}.conf"
    conf.write_text(config)
    return subprocess.Popen(
        ["redis-server", str(conf), *extra],
        cwd=directory,
        stdout=(directory / f"{name}.log").open("w"),
        stderr=subprocess.STDOUT,
    )


def _data_node(port: int, directory: Path, master_port: int | None) -> str:
    lines = [
        f"port {port}",
        f"bind {HOST}",
        f"dir {directory}",
        f"dbfilename {port}.rdb",
        'save ""',  # no snapshots: only replication keeps data across a failover
        "appendonly no",
        "protected-mode no",
    ]
    if master_port:
        lines.append(f"replicaof {HOST} {master_port}")
    return "\n".join(lines) + "\n"


def _sentinel(port: int, directory: Path, master_port: int) -> str:
    return (
        f"port {port}\nbind {HOST}\ndir {directory}\nprotected-mode no\n"
        f"sentinel monitor {MASTER_NAME} {HOST} {master_port} 2\n"
        f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
        f"sentinel parallel-syncs {MASTER_NAME} 1\n"
    )


@contextlib.contextmanager
def sentinel_group(directory: Path) -> Iterator[SentinelGroup]:
    """Start a master, a replica and three sentinels in `directory`; stop them all after."""
    directory.mkdir(parents=True, exist_ok=True)
    group = SentinelGroup(directory=directory)
    try:
        master_port, replica_port, *sentinel_ports = free_ports(5)
        group.nodes[master_port] = _start(
            directory, "master", _data_node(master_port, directory, None)
        )
        group.nodes[replica_port] = _start(
            directory, "replica", _data_node(replica_port, directory, master_port)
        )
        # Sentinels learn of replicas from the master's INFO, asked every 10 s: start them once
        # the replica is in sync, so that the first answer names it.
        _wait_for_sync(replica_port)
        for number, port in enumerate(sentinel_ports, start=1):
            group.sentinels[port] = _start(
                directory,
                f"sentinel{number}",
                _sentinel(port, directory, master_port),
                "--sentinel",
            )
        group.wait_until_ready()
        yield group
    finally:
        for process in [*group.sentinels.values(), *group.nodes.values()]:
            if process.poll() is None:
                process.terminate()
        for process in [*group.sentinels.values(), *group.nodes.values()]:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
