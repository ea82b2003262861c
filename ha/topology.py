"""deploy/ha/topology.toml as dataclasses, checked once on load so that nothing later guesses.

topology = load()                    # or load(path)
topology.hosts_with("postgres")      # [Host(name="shop-h1", address="10.77.0.11", ...), ...]
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from ha.paths import TOPOLOGY_FILE

# "redis": a Redis data node (the first one named starts as the master, the others replicate it);
# "sentinel": a Redis Sentinel watching them; "app": gunicorn, pgbouncer, a Celery worker (and
# Celery beat on the first app host); "balancer": HAProxy (the shop's front door and the app's way
# to the leader) with keepalived, which keeps the floating address [network] vip on one of them.
# "swarm": a dockerd there, a manager of one Docker Swarm; with any, the app hosts run the app tier
# as Swarm services (ha/swarm.py) instead of gunicorn processes.
ROLES = ("etcd", "postgres", "app", "redis", "sentinel", "balancer", "swarm")
# A host's name is its namespace's; its veth on the bridge is the name plus "-v", and Linux
# allows 15 characters in an interface name.
HOST_NAME = re.compile(r"shop-[a-z0-9]{1,8}")
BRIDGE_NAME = re.compile(r"shop-[a-z0-9-]{1,10}")


class TopologyError(Exception):
    """The topology file is missing, malformed or inconsistent; the message says where."""


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    roles: tuple[str, ...]

    @property
    def veth(self) -> str:
        """The host's end of its cable on the bridge (one machine only)."""
        return f"{self.name}-v"


@dataclass(frozen=True)
class Ports:
    postgres: int
    patroni: int
    etcd_client: int
    etcd_peer: int
    db_primary: int
    db_replicas: int
    redis: int  # each Redis data node
    sentinel: int  # each Redis Sentinel
    pgbouncer: int  # on each app host, in front of HAProxy's leader port
    app: int
    balancer: int


@dataclass(frozen=True)
class Patroni:
    scope: str
    ttl: int
    loop_wait: int
    retry_timeout: int
    synchronous_mode: bool
    synchronous_mode_strict: bool


@dataclass(frozen=True)
class Sentinel:
    """Redis Sentinel's settings for the group (Redis's defaults: 30 s down-after, 3 min)."""

    master_name: str = "shop"  # the name the app asks the sentinels for (REDIS_SENTINEL_MASTER)
    down_after_ms: int = 5000  # a master silent this long is down, for one sentinel
    failover_timeout_ms: int = 20000  # one failover attempt, and the wait before another

    def quorum(self, sentinels: int) -> int:
        """Sentinels that must agree the master is down: a majority of them."""
        return sentinels // 2 + 1


@dataclass(frozen=True)
class App:
    database: str
    seed_products: int


@dataclass(frozen=True)
class Topology:
    subnet: ipaddress.IPv4Network
    bridge: str
    gateway: str
    vip: str  # the floating address the "balancer" hosts share (keepalived)
    ports: Ports
    patroni: Patroni
    app: App
    hosts: tuple[Host, ...]
    sentinel: Sentinel = Sentinel()

    def hosts_with(self, role: str) -> list[Host]:
        return [host for host in self.hosts if role in host.roles]

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise TopologyError(f"no host named {name!r} in the topology")

    def host_at(self, address: str) -> Host | None:
        return next((host for host in self.hosts if host.address == address), None)

    @property
    def prefix_length(self) -> int:
        return self.subnet.prefixlen


def load(path: Path = TOPOLOGY_FILE) -> Topology:
    try:
        data = tomllib.loads(Path(path).read_text())
    except OSError as error:
        raise TopologyError(f"{path}: cannot read it ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise TopologyError(f"{path}: not valid TOML ({error})") from None
    return parse(data, source=str(path))


def parse(data: dict, *, source: str = "topology") -> Topology:
    """Build and check a Topology from the TOML's tables; raise TopologyError naming the fault."""
    network = _table(data, "network", source)
    try:
        subnet = ipaddress.IPv4Network(network.get("subnet", ""))
        gateway = ipaddress.IPv4Address(network.get("gateway", ""))
    except ValueError as error:
        raise TopologyError(f"{source}: [network]: {error}") from None
    if gateway not in subnet:
        raise TopologyError(f"{source}: [network] gateway {gateway} is not in {subnet}")
    try:
        vip = ipaddress.IPv4Address(network.get("vip", ""))
    except ValueError as error:
        raise TopologyError(f"{source}: [network] vip: {error}") from None
    if vip not in subnet or vip in (gateway, subnet.network_address, subnet.broadcast_address):
        raise TopologyError(f"{source}: [network] vip {vip} is not a free address in {subnet}")
    bridge = str(network.get("bridge", ""))
    if not BRIDGE_NAME.fullmatch(bridge):
        raise TopologyError(f"{source}: [network] bridge {bridge!r} must match shop-[a-z0-9-]")

    ports = _dataclass(Ports, _table(data, "ports", source), f"{source}: [ports]")
    numbers = [getattr(ports, field.name) for field in fields(Ports)]
    if any(not isinstance(n, int) or not 1024 < n < 65536 for n in numbers):
        raise TopologyError(f"{source}: [ports] must be integers between 1025 and 65535")
    if len(set(numbers)) != len(numbers):
        raise TopologyError(f"{source}: [ports] two services share a port")

    patroni = _dataclass(Patroni, _table(data, "patroni", source), f"{source}: [patroni]")
    if patroni.ttl < 20 or patroni.loop_wait + 2 * patroni.retry_timeout > patroni.ttl:
        raise TopologyError(
            f"{source}: [patroni] needs ttl >= 20 and loop_wait + 2 * retry_timeout <= ttl "
            f"(got ttl {patroni.ttl}, loop_wait {patroni.loop_wait}, "
            f"retry_timeout {patroni.retry_timeout})"
        )
    app = _dataclass(App, _table(data, "app", source), f"{source}: [app]")
    sentinel_table = data.get("sentinel", {})
    unknown = sentinel_table.keys() - {field.name for field in fields(Sentinel)}
    if unknown:
        raise TopologyError(f"{source}: [sentinel]: unknown {sorted(unknown)}")
    sentinel = Sentinel(**sentinel_table)

    hosts = tuple(_host(item, subnet, gateway, source) for item in data.get("hosts", []))
    names = [host.name for host in hosts]
    addresses = [host.address for host in hosts]
    if len(set(names)) != len(names) or len({*addresses, str(vip)}) != len(addresses) + 1:
        raise TopologyError(
            f"{source}: two hosts, or a host and the vip, share a name or an address"
        )
    topology = Topology(
        subnet, bridge, str(gateway), str(vip), ports, patroni, app, hosts, sentinel
    )
    etcd, postgres = topology.hosts_with("etcd"), topology.hosts_with("postgres")
    if len(etcd) < 3 or len(etcd) % 2 == 0:
        raise TopologyError(f"{source}: etcd needs an odd number of hosts, 3 or more")
    if len(postgres) < 2:
        raise TopologyError(f"{source}: PostgreSQL needs 2 hosts or more (a leader, a standby)")
    if patroni.synchronous_mode and len(postgres) < 3:
        raise TopologyError(
            f"{source}: synchronous replication needs 3 PostgreSQL hosts, so that losing one "
            "still leaves a standby to acknowledge commits"
        )
    if not topology.hosts_with("app"):
        raise TopologyError(f"{source}: no host has the app role")
    if len(topology.hosts_with("balancer")) < 2:
        raise TopologyError(
            f"{source}: the balancer needs 2 hosts or more, so that the floating address "
            "outlives one of them"
        )
    if len(topology.hosts_with("redis")) < 2:
        raise TopologyError(f"{source}: Redis needs 2 hosts or more (a master, a replica)")
    sentinels = topology.hosts_with("sentinel")
    if len(sentinels) < 3 or len(sentinels) % 2 == 0:
        raise TopologyError(
            f"{source}: Sentinel needs an odd number of hosts, 3 or more, so that a majority "
            "agrees on a failover"
        )
    swarm = {host.name for host in topology.hosts_with("swarm")}
    if swarm and not {host.name for host in topology.hosts_with("app")} <= swarm:
        raise TopologyError(f"{source}: with a swarm, every app host must be one of its nodes")
    if swarm and len(swarm) % 2 == 0:
        raise TopologyError(f"{source}: Swarm's managers need an odd number of hosts (raft)")
    return topology


def _table(data: dict, name: str, source: str) -> dict:
    table = data.get(name)
    if not isinstance(table, dict):
        raise TopologyError(f"{source}: no [{name}] table")
    return table


def _dataclass(cls, table: dict, where: str):
    names = {field.name for field in fields(cls)}
    missing, unknown = names - table.keys(), table.keys() - names
    if missing or unknown:
        raise TopologyError(f"{where}: missing {sorted(missing)}, unknown {sorted(unknown)}")
    return cls(**table)


def _host(item: dict, subnet, gateway, source: str) -> Host:
    name = str(item.get("name", ""))
    where = f"{source}: host {name!r}"
    if not HOST_NAME.fullmatch(name):
        raise TopologyError(f"{where}: a name must match shop-[a-z0-9]{{1,8}}")
    try:
        address = ipaddress.IPv4Address(item.get("address", ""))
    except ValueError as error:
        raise TopologyError(f"{where}: {error}") from None
    if address not in subnet or address in (gateway, subnet.network_address):
        raise TopologyError(f"{where}: address {address} is not a host address in {subnet}")
    roles = tuple(item.get("roles", []))
    if not roles or any(role not in ROLES for role in roles):
        raise TopologyError(f"{where}: roles {list(roles)} must be some of {list(ROLES)}")
    return Host(name, str(address), roles)
