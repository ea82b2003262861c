"""Drills on the HA deployment (issue 13): break it under load, count what was lost.

    python -m ha drills [--keep] [--only primary-host-cut switchover redis-master-kill ...]

Brings the deployment up if it is not (ha.cli.up), then for each drill runs shoppers through the
balancer (drills/load.py: browsers, and buyers placing cash-on-delivery orders with an
Idempotency-Key, retried with the same key after a 5xx or no answer; for some drills also guests
filling carts and signed-in members), breaks something a few seconds in, and at the end counts
from the database, on whichever host leads then:

- primary-host-cut: the leader's host off the network (its veth down: no FIN, no RST), back
  after CUT_SECONDS. A new leader must take writes within RECOVER_BOUND seconds, and the old
  one must rejoin as a streaming replica.
- switchover: `patronictl switchover` to the synchronous standby. Requests may fail only around
  the switch, and each order must be answered in the end.
- sync-standby-host-lost: the synchronous standby's host off the network for the rest of the
  drill. Writes must go on within RECOVER_BOUND with the other replica synchronous.
- replica-disk-full: the synchronous standby's data directory on a small disk, filled up, then
  freed. Writes must go on within RECOVER_BOUND, and it must stream again once freed.
- redis-master-kill: SIGKILL the Redis master. A cart write through the balancer must land on
  the new master within REDIS_RECOVER_BOUND seconds; no request fails, every cart still holds
  what its shopper last read and every acknowledged line, every member is still signed in; the
  old master, started again, replicates the new one.
- celery-worker-kill: SIGKILL one app host's Celery worker (with its pool), then the Redis
  master (the broker), while orders are placed; every outbox event of those orders is delivered
  exactly once in the end (one sent-email row and one mail file per event and purpose, one sale
  record per order.placed), counted from the database after up to DELIVERY_WAIT seconds.
- sentinel-minority: SIGKILL the sentinel beside the Redis master, then the master: the two
  sentinels left fail over; no request fails.
- etcd-minority: SIGKILL the etcd member on the Patroni leader's host for OUTAGE_SECONDS: the
  leader keeps its key through the other two; no request fails.

With the app tier on Docker Swarm (hosts with the "swarm" role, ha/swarm.py), two more:

- app-host-cut: an app node (not Patroni's leader or synchronous standby) off the network for
  APP_CUT_SECONDS. No request sent after the balancers' checks (CHECK_SECONDS) may fail, and
  web's tasks must run again on the other nodes within RESCHEDULE_BOUND seconds.
- rolling-update: `docker service update --env-add SHOP_RELEASE=...` on web (start-first, one
  task at a time, rollback on failure). Not one request may fail; every task is replaced.

All: 0 acknowledged orders lost, 0 units oversold, 0 duplicate orders. Results in
var/ha/drills.json; exit 1 if a drill failed. The deployment is removed at the end unless --keep.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import subprocess
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from drills import checks
from drills.load import MAX_CART_ADDS, Catalog, Load, Shopper, Tally, register_member
from ha import cli, hosts, swarm
from ha.configs import balancer_url
from ha.paths import DRILLS_JSON, HOSTS, MAIL, ROOT
from ha.topology import Host, Topology
from infra.processes import alive

RECOVER_BOUND = 30  # seconds from the cut to a new leader taking writes (issue 13)
CUT_SECONDS = 40  # the old leader stays cut off this long: past the failover, as in a real outage
REJOIN_SECONDS = 120  # for the old leader to stream from the new one
WARM_UP = 8  # seconds of load before the fault
LOAD_AFTER = 10  # seconds of load once repaired
SWITCH_MARGIN = 15  # failed requests allowed from the switchover's start until this long after
PRODUCTS = 12  # the products the buyers buy, stock reset before each drill
STOCK = 100  # per product: more than a drill sells, so every refusal would be a fault
BUYERS, BROWSERS = 4, 2
# Longer than the 15 s the shop holds a retried order while its first attempt may still answer
# (orders/idempotency.py WAIT_SECONDS), after which it says 409 request_in_progress: a shorter
# client timeout would count that wait as a failure.
REQUEST_TIMEOUT = 20
DISK_HEADROOM_MB = 64  # the full-disk drill's small disk: the standby's data and this much free


@dataclass
class Result:
    name: str
    passed: bool = False
    seconds_to_recover: float | None = None
    acknowledged_orders: int = 0
    orders_lost: int = 0
    oversold_units: int = 0
    duplicate_orders: int = 0
    failed_requests: int = 0
    total_requests: int = 0
    details: dict = field(default_factory=dict)


# --- Facts from the deployment --------------------------------------------------------------


def writable_address(topology: Topology) -> str | None:
    """The address of the server a fresh connection through HAProxy reaches, if it commits.

    txid_current() gives the transaction an id, so its commit waits for the synchronous standby
    as an order's does: a leader without one does not count as taking writes.
    """
    command = ["psql", "-X", "-At", "-h", topology.vip, "-p", str(topology.ports.db_primary)]
    command += ["-U", cli.DB_USER, "-d", topology.app.database]
    command += ["-c", "SELECT host(inet_server_addr()), pg_is_in_recovery(), txid_current() > 0"]
    environment = {"PGPASSWORD": cli.load_secrets()["superuser"], "PGCONNECT_TIMEOUT": "1"}
    try:
        result = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=5, check=False
        )
    except subprocess.TimeoutExpired:
        return None
    address, in_recovery, committed = [*result.stdout.strip().split("|"), "", "", ""][:3]
    return address if result.returncode == 0 and (in_recovery, committed) == ("f", "t") else None


def wait_for_new_leader(topology: Topology, old_address: str, since: float) -> float | None:
    """Seconds from `since` until writes reach a server other than old_address; None: never."""
    deadline = since + 90
    while time.time() < deadline:
        address = writable_address(topology)
        if address and address != old_address:
            return time.time() - since
        time.sleep(0.5)
    return None


def wait_for_rejoin(topology: Topology, name: str, since: float) -> float | None:
    deadline = time.time() + REJOIN_SECONDS
    while time.time() < deadline:
        for member in cli.members(topology):
            replica = member["name"] == name and member.get("role") != "leader"
            if replica and member.get("state") == "streaming":
                return time.time() - since
        time.sleep(1)
    return None


def sync_standby(topology: Topology) -> str | None:
    return next((m["name"] for m in cli.members(topology) if m.get("role") == "sync_standby"), None)


# --- The load and the count -----------------------------------------------------------------


def prepare(topology: Topology, *, products: int = PRODUCTS) -> tuple[Catalog, dict[int, int]]:
    """Pick the products the buyers buy and set their stock; return them and that stock."""
    rows = cli.psql(
        topology,
        f"SELECT id, slug FROM catalog_product WHERE is_active ORDER BY id LIMIT {products}",
    )
    ids = [int(row[0]) for row in rows]
    cli.psql(topology, f"UPDATE catalog_product SET stock = {STOCK} WHERE id IN {_list(ids)}")
    categories = [row[0] for row in cli.psql(topology, "SELECT slug FROM catalog_category")]
    catalog = Catalog(
        products=[(int(pk), slug) for pk, slug in rows],
        categories=categories or ["none"],
        words=["lamp", "chair", "mug", "shirt"],
    )
    return catalog, dict.fromkeys(ids, STOCK)


def start_load(
    topology: Topology,
    catalog: Catalog,
    tag: str,
    *,
    cart_shoppers: int = 0,
    members: list[Shopper] = (),
) -> Load:
    load = Load(
        catalog=catalog,
        email=f"ha-{tag}@example.com",
        key_prefix=f"ha-{tag}",
        members=list(members),
        max_seconds=240,
        base_url=balancer_url(topology),
        browsers=BROWSERS,
        cart_shoppers=cart_shoppers,
        buyer_count=BUYERS,
        timeout=REQUEST_TIMEOUT,
    )
    load.start()
    return load


def finish_load(load: Load) -> None:
    load.stop()
    load.join()


def count(topology: Topology, load: Load, stock: dict[int, int], result: Result) -> None:
    """Fill the result's counts from the database (the leader now) and the shoppers' records."""
    recorded = {key: number for buyer in load.buyers for key, number in buyer.numbers.items()}
    email = _quote(load.email)
    numbers = Counter(
        row[0]
        for row in cli.psql(topology, f"SELECT number FROM orders_order WHERE email = {email}")
    )
    keyed = cli.psql(
        topology,
        "SELECT count(DISTINCT order_id) FROM orders_idempotencykey "
        f"WHERE key LIKE {_quote(load.key_prefix + '-%')} AND order_id IS NOT NULL",
    )
    sold = {
        int(row[0]): int(row[1])
        for row in cli.psql(
            topology,
            "SELECT l.product_id, sum(l.quantity) FROM orders_orderline l "
            "JOIN orders_order o ON o.id = l.order_id "
            f"WHERE o.email = {email} AND o.status <> 'cancelled' GROUP BY l.product_id",
        )
    }
    left = {
        int(row[0]): int(row[1])
        for row in cli.psql(
            topology, f"SELECT id, stock FROM catalog_product WHERE id IN {_list(list(stock))}"
        )
    }
    result.acknowledged_orders = len(recorded)
    result.orders_lost = len(set(recorded.values()) - set(numbers))
    result.duplicate_orders = sum(n - 1 for n in numbers.values()) + max(
        0, sum(numbers.values()) - int(keyed[0][0])
    )
    result.oversold_units = sum(max(0, sold.get(pk, 0) - units) for pk, units in stock.items())
    result.oversold_units += sum(max(0, -units) for units in left.values())
    tallies = load.tallies.values()
    result.failed_requests = sum(tally.errors for tally in tallies)
    result.total_requests = sum(tally.requests for tally in tallies)
    unanswered = [key for buyer in load.buyers for key in buyer.unanswered]
    refused = sum((buyer.refused for buyer in load.buyers), Counter())
    result.details.update(
        {
            "orders_in_database": sum(numbers.values()),
            "orders_unknown_to_buyers": len(set(numbers) - set(recorded.values())),
            "keys_never_answered": len(unanswered),
            "orders_refused": dict(refused),
            "units_sold": sum(sold.values()),
            # Stock taken that no order in the database accounts for, or the other way round.
            "stock_mismatch": sum(
                abs(units - left.get(pk, 0) - sold.get(pk, 0)) for pk, units in stock.items()
            ),
            "statuses": {
                name: {str(k): v for k, v in tally.statuses.items()}
                for name, tally in load.tallies.items()
            },
        }
    )


def _clean(result: Result) -> bool:
    """Nothing lost, oversold, duplicated or left unanswered."""
    return (
        result.acknowledged_orders > 0
        and result.orders_lost == 0
        and result.oversold_units == 0
        and result.duplicate_orders == 0
        and result.details.get("keys_never_answered") == 0
        and result.details.get("stock_mismatch") == 0
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _list(ids: list[int]) -> str:
    return "(" + ",".join(str(int(pk)) for pk in ids) + ")"


# --- The drills -----------------------------------------------------------------------------


def primary_host_cut(topology: Topology, tag: str) -> Result:
    result = Result("primary-host-cut")
    catalog, stock = prepare(topology)
    old = topology.host(cli.leader(topology))
    load = start_load(topology, catalog, tag)
    try:
        time.sleep(WARM_UP)
        cut_at = time.time()
        hosts.cut(old)
        result.details["cut"] = f"{old.name} ({old.address}), the leader"
        result.seconds_to_recover = _round(wait_for_new_leader(topology, old.address, cut_at))
        result.details["new_leader"] = cli.leader(topology)
        time.sleep(max(0.0, cut_at + CUT_SECONDS - time.time()))
        back_at = time.time()
        hosts.reconnect(old)
        result.details["cut_seconds"] = round(back_at - cut_at, 1)
        rejoined = wait_for_rejoin(topology, old.name, back_at)
        result.details["old_leader_rejoined_as_replica_after_seconds"] = _round(rejoined)
        time.sleep(LOAD_AFTER)
    finally:
        hosts.reconnect(old)
        finish_load(load)
    count(topology, load, stock, result)
    result.details["members_after"] = cli.describe_members(topology)
    result.passed = (
        _clean(result)
        and result.seconds_to_recover is not None
        and result.seconds_to_recover <= RECOVER_BOUND
        and rejoined is not None
    )
    return result


def switchover(topology: Topology, tag: str) -> Result:
    result = Result("switchover")
    catalog, stock = prepare(topology)
    old_name, candidate = cli.leader(topology), sync_standby(topology)
    if candidate is None:
        raise cli.HaError(f"no synchronous standby to switch over to: {cli.members(topology)}")
    old = topology.host(old_name)
    load = start_load(topology, catalog, tag)
    try:
        time.sleep(WARM_UP)
        switched_at = time.time()
        cli.patronictl(
            topology, "switchover", "--leader", old_name, "--candidate", candidate, "--force"
        )
        result.details["switchover"] = f"{old_name} -> {candidate}"
        result.seconds_to_recover = _round(wait_for_new_leader(topology, old.address, switched_at))
        rejoined = wait_for_rejoin(topology, old_name, switched_at)
        result.details["old_leader_replica_after_seconds"] = _round(rejoined)
        time.sleep(LOAD_AFTER)
    finally:
        finish_load(load)
    count(topology, load, stock, result)
    failures = sorted(t for tally in load.tallies.values() for t in tally.failed_at)
    recovered = switched_at + (result.seconds_to_recover or 0) + SWITCH_MARGIN
    outside = [t for t in failures if not switched_at <= t <= recovered]
    result.details["failed_requests_outside_the_switch"] = len(outside)
    result.details["failures_seconds_after_switch"] = [round(t - switched_at, 1) for t in failures]
    result.details["members_after"] = cli.describe_members(topology)
    result.passed = (
        _clean(result)
        and result.seconds_to_recover is not None
        and result.seconds_to_recover <= RECOVER_BOUND
        and not outside
        and rejoined is not None
    )
    return result


def wait_for_other_sync_standby(topology: Topology, gone: str, since: float) -> float | None:
    """Seconds from `since` until a member other than `gone` is the synchronous standby and a
    commit through HAProxy lands (in strict mode it waits for that standby); None: never."""
    deadline = since + 90
    while time.time() < deadline:
        standby = sync_standby(topology)
        if standby not in (None, gone) and writable_address(topology):
            return time.time() - since
        time.sleep(0.5)
    return None


def sync_standby_host_lost(topology: Topology, tag: str) -> Result:
    """The synchronous standby's host goes and does not come back while shoppers buy.

    Strict mode never lets the leader commit alone: orders wait until Patroni names the other
    replica synchronous, then go on, with the lost host still away. It is reconnected only once
    the count is done, to leave the deployment whole for the next drill.
    """
    result = Result("sync-standby-host-lost")
    catalog, stock = prepare(topology)
    lost = topology.host(sync_standby(topology) or "")
    load = start_load(topology, catalog, tag)
    try:
        time.sleep(WARM_UP)
        cut_at = time.time()
        hosts.cut(lost)
        result.details["cut"] = f"{lost.name} ({lost.address}), the synchronous standby, for good"
        recovered = wait_for_other_sync_standby(topology, lost.name, cut_at)
        result.seconds_to_recover = _round(recovered)
        result.details["new_sync_standby"] = sync_standby(topology)
        time.sleep(LOAD_AFTER)
        finish_load(load)
        count(topology, load, stock, result)
        result.details["members_while_lost"] = cli.describe_members(topology)
    finally:
        finish_load(load)
        hosts.reconnect(lost)
    result.passed = (
        _clean(result)
        and result.seconds_to_recover is not None
        and result.seconds_to_recover <= RECOVER_BOUND
    )
    return result


def replica_disk_full(topology: Topology, tag: str) -> Result:
    """The synchronous standby's disk fills up under load, then is freed.

    A replica's data directory is first moved onto a small disk (a size-capped tmpfs here) and
    that replica made the synchronous standby. Once its disk is full, the next WAL segment it
    must create fails and its PostgreSQL stops; Patroni names the other replica synchronous and
    orders go on. Once the filler is deleted, Patroni starts it again and it streams.
    """
    result = Result("replica-disk-full")
    leader = cli.leader(topology)
    others = [h.name for h in topology.hosts_with("postgres") if h.name != leader]
    host = topology.host(next(name for name in others if name != sync_standby(topology)))
    data = HOSTS / host.name / "postgres" / "data"
    hosts.stop(f"{host.name}-patroni", seconds=40)
    used = sum(path.stat().st_size for path in data.rglob("*") if path.is_file())
    user = pwd.getpwnam(cli.DB_USER)
    megabytes = used // (1 << 20) + DISK_HEADROOM_MB
    hosts.mount_small_disk(data, megabytes=megabytes, owner=(user.pw_uid, user.pw_gid))
    cli.start_patroni(topology, host, cli.load_secrets())
    cli.wait_for("the replica back on its small disk", lambda: cli.healthy(topology), seconds=120)
    make_sync_standby(topology, host.name)
    result.details["small_disk_mb"] = megabytes
    catalog, stock = prepare(topology)
    load = start_load(topology, catalog, tag)
    rejoined = None
    try:
        time.sleep(WARM_UP)
        filled_at = time.time()
        result.details["filler_bytes"] = hosts.fill(data)
        result.details["filled"] = f"{host.name}'s disk, the synchronous standby's"
        # New WAL segments: the first one the full disk cannot hold stops the standby, and
        # Patroni lets it go as the synchronous one.
        stopped = None
        for _ in range(30):
            cli.psql(topology, "SELECT pg_switch_wal()")
            if _member_state(topology, host.name) not in ("sync_standby (streaming)", "absent"):
                stopped = time.time() - filled_at
                break
            time.sleep(1)
        result.details["standby_let_go_after_seconds"] = _round(stopped)
        result.details["standby_state_while_full"] = _member_state(topology, host.name)
        recovered = wait_for_other_sync_standby(topology, host.name, filled_at)
        result.seconds_to_recover = _round(recovered)
        time.sleep(LOAD_AFTER)
        freed_at = time.time()
        (data / "filler").unlink()
        rejoined = wait_for_rejoin(topology, host.name, freed_at)
        result.details["streaming_again_after_freeing_seconds"] = _round(rejoined)
        time.sleep(LOAD_AFTER)
    finally:
        (data / "filler").unlink(missing_ok=True)
        finish_load(load)
    count(topology, load, stock, result)
    result.details["members_after"] = cli.describe_members(topology)
    result.passed = (
        _clean(result)
        and result.details["filler_bytes"] > 0
        and stopped is not None
        and result.seconds_to_recover is not None
        and result.seconds_to_recover <= RECOVER_BOUND
        and rejoined is not None
    )
    return result


def make_sync_standby(topology: Topology, name: str) -> None:
    """Make `name` the synchronous standby: the current one's Patroni stops until Patroni has
    picked `name`, then starts again as a plain replica."""
    current = sync_standby(topology)
    if current == name:
        return
    hosts.stop(f"{current}-patroni", seconds=40)
    cli.wait_for(f"{name} synchronous", lambda: sync_standby(topology) == name, seconds=60)
    cli.start_patroni(topology, topology.host(current), cli.load_secrets())
    cli.wait_for(f"{current} streaming again", lambda: cli.healthy(topology), seconds=120)


def _member_state(topology: Topology, name: str) -> str:
    member = next((m for m in cli.members(topology) if m["name"] == name), None)
    return f"{member.get('role')} ({member.get('state')})" if member else "absent"


# --- Redis, Celery, Sentinel and etcd -------------------------------------------------------

REDIS_RECOVER_BOUND = 10  # seconds from the Redis master's death to cart writes on a new one
OUTAGE_SECONDS = 20  # a sentinel or an etcd member stays dead this long
DELIVERY_WAIT = 240  # seconds for every outbox event to be delivered after the load stops
MEMBERS = 2  # signed-in shoppers whose sessions must survive
CART_SHOPPERS = 4
CART_PRODUCTS = MAX_CART_ADDS + 8  # cart shoppers sample MAX_CART_ADDS distinct products


def redis_master(topology: Topology) -> Host:
    address = cli.redis_master_address(topology)
    host = topology.host_at(address) if address else None
    if host is None:
        raise cli.HaError(f"the sentinels name no known Redis master ({address})")
    return host


def kill(name: str) -> str:
    """SIGKILL a deployment's process and its children (a worker's pool): no goodbye."""
    pid = hosts.pid_of(name)
    if pid is None or not hosts.running(name):
        raise cli.HaError(f"{name} is not running: nothing to kill")
    pids = [pid, *_descendants(pid)]
    for each in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(each, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(alive(each) for each in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    hosts.pidfile(name).unlink(missing_ok=True)
    return f"SIGKILL {name} (pids {pids})"


def _descendants(pid: int) -> list[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def sign_in_members(topology: Topology, tag: str) -> tuple[list[Shopper], list[str]]:
    emails = [f"ha-{tag}-member{number}@example.com" for number in range(MEMBERS)]
    tally = Tally()
    members = [register_member(tally, email, base_url=balancer_url(topology)) for email in emails]
    return members, emails


def redis_holds(topology: Topology, host: Host, product_pk: int, quantity: int) -> bool:
    """Whether a cart on this Redis node holds `quantity` of the product (the probe's cart)."""
    port = topology.ports.redis
    keys = cli.redis_cli(host.address, port, "--scan", "--pattern", "*:cart:*") or []
    for key in keys:
        held = cli.redis_cli(host.address, port, "HGET", key, f"q:{product_pk}")
        if held == [str(quantity)]:
            return True
    return False


def wait_for_redis_writes(
    topology: Topology, old: Host, product_pk: int, since: float
) -> tuple[float | None, dict]:
    """Seconds from `since` until a cart write through the balancer lands on a new master.

    A probe shopper sets one line's quantity (1..9, in turn) every half second; the shop
    answers 200 even with Redis gone (it falls back to PostgreSQL), so a write counts only once
    the master the sentinels name, another than `old`, holds it.
    """
    probe = Shopper(Tally(), base_url=balancer_url(topology), timeout=REQUEST_TIMEOUT)
    added = probe.post("/api/v1/cart/items/", {"product_id": product_pk, "quantity": 1})
    facts = {"probe_writes": 0, "probe_writes_failed": 0, "new_master_named_after_seconds": None}
    if added.status != 200:
        facts["probe_add"] = added.status
    deadline = since + 90
    quantity = 1
    while time.time() < deadline:
        quantity = quantity % 9 + 1
        reply = probe.request("PATCH", f"/api/v1/cart/items/{product_pk}/", {"quantity": quantity})
        facts["probe_writes"] += 1
        if not reply.ok:
            facts["probe_writes_failed"] += 1
        address = cli.redis_master_address(topology)
        if address and address != old.address:
            if facts["new_master_named_after_seconds"] is None:
                facts["new_master_named_after_seconds"] = round(time.time() - since, 1)
            new = topology.host_at(address)
            if reply.ok and new is not None and redis_holds(topology, new, product_pk, quantity):
                return time.time() - since, facts
        time.sleep(0.5)
    return None, facts


def restart_redis_node(topology: Topology, host: Host) -> float | None:
    """Start a killed node as the current master's replica; seconds until it is in sync."""
    started = time.time()
    cli.start_redis_node(topology, host, master_address=cli.redis_master_address(topology))
    deadline = started + 60
    while time.time() < deadline:
        if cli.redis_role(topology, host).get("master_link_status") == "up":
            return time.time() - started
        time.sleep(0.5)
    return None


def wait_redis_healthy(topology: Topology, seconds: float = 60) -> float | None:
    started = time.time()
    while time.time() - started < seconds:
        if cli.redis_healthy(topology):
            return time.time() - started
        time.sleep(1)
    return None


def connection_counts(topology: Topology) -> dict:
    """Server connections: each app host's pgbouncer (SHOW POOLS) and the leader's backends.

    pgbouncer's clients are what the leader would carry without it (every gunicorn thread and
    Celery process keeps its connection); its servers are what it carries.
    """
    counts = {}
    for host in topology.hosts_with("app"):
        command = ["psql", "-X", "-At", "-F", "\t", "-h", host.address]
        command += ["-p", str(topology.ports.pgbouncer), "-U", cli.DB_USER, "-d", "pgbouncer"]
        command += ["-c", "SHOW POOLS"]
        environment = {"PGPASSWORD": cli.load_secrets()["superuser"], "PGCONNECT_TIMEOUT": "2"}
        result = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=10, check=False
        )
        for line in result.stdout.splitlines():
            row = line.split("\t")
            if row[0] == topology.app.database:
                # database, user, cl_active, cl_waiting, cl_active_cancel_req,
                # cl_waiting_cancel_req, sv_active, sv_active_cancel, sv_being_canceled,
                # sv_idle, sv_used, sv_tested, sv_login, ...
                counts[host.name] = {
                    "clients": int(row[2]) + int(row[3]),
                    "servers": sum(int(row[i]) for i in (6, 9, 10, 11, 12)),
                }
    rows = cli.psql(
        topology,
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
        f"AND datname = {_quote(topology.app.database)} AND pid <> pg_backend_pid()",
    )
    counts["leader_backends"] = int(rows[0][0])
    return counts


def check_deliveries(topology: Topology, load: Load, since: float, result: Result) -> bool:
    """Wait for every outbox event of the drill's orders; count them once delivered."""

    def query(sql: str) -> list[list[str]]:
        return cli.psql(topology, sql)

    waited = checks.wait_for_delivery(load.email, seconds=DELIVERY_WAIT, query=query)
    found = checks.check_outbox(load, since=since, waited=waited, query=query, mail_dir=MAIL)
    # Late: not delivered by its own on-commit send (lost with the broker or the worker), but
    # queued again by beat's sweeper (REDELIVERY_DELAY, 60 s) or retried after a failed attempt.
    events = query(
        "SELECT count(*), count(e.delivered_at), coalesce(sum(e.attempts), 0), "
        "count(*) FILTER (WHERE e.delivered_at > e.created_at + interval '30 seconds') "
        "FROM orders_outboxevent e JOIN orders_order o ON o.id = e.order_id "
        f"WHERE o.email = {_quote(load.email)}"
    )[0]
    result.details["outbox"] = {
        "events": int(events[0]),
        "delivered": int(events[1]),
        "attempts": int(events[2]),
        "delivered_late_by_the_sweeper": int(events[3]),
        "seconds_waited_after_load": round(waited, 1),
        "checks": {check.name: [check.passed, check.evidence] for check in found},
    }
    return all(check.passed for check in found)


def shoppers_kept(load: Load, members: list[Shopper], emails: list[str], result: Result) -> bool:
    found = checks.check_carts(load) + checks.check_sessions(members, emails)
    result.details["carts_and_sessions"] = {
        check.name: [check.passed, check.evidence] for check in found
    }
    return all(check.passed for check in found)


def redis_master_kill(topology: Topology, tag: str) -> Result:
    result = Result("redis-master-kill")
    catalog, stock = prepare(topology, products=CART_PRODUCTS)
    probe_product = catalog.products[-1][0]
    members, emails = sign_in_members(topology, tag)
    load = start_load(topology, catalog, tag, cart_shoppers=CART_SHOPPERS, members=members)
    started = time.time()
    try:
        time.sleep(WARM_UP)
        old = redis_master(topology)
        result.details["pools_under_load"] = connection_counts(topology)
        killed_at = time.time()
        result.details["killed"] = kill(f"{old.name}-redis") + ", the Redis master"
        recovered, facts = wait_for_redis_writes(topology, old, probe_product, killed_at)
        result.seconds_to_recover = _round(recovered)
        result.details.update(facts)
        result.details["new_master"] = redis_master(topology).name
        rejoined = restart_redis_node(topology, old)
        result.details["old_master_in_sync_as_replica_after_seconds"] = _round(rejoined)
        time.sleep(LOAD_AFTER)
    finally:
        finish_load(load)
    count(topology, load, stock, result)
    kept = shoppers_kept(load, members, emails, result)
    result.details["failures_seconds_after_kill"] = _failure_times(load, killed_at)
    healthy = wait_redis_healthy(topology)
    result.details["redis_after"] = cli.describe_redis(topology)
    result.passed = (
        _clean(result)
        and kept
        and result.failed_requests == 0
        and result.seconds_to_recover is not None
        and result.seconds_to_recover <= REDIS_RECOVER_BOUND
        and rejoined is not None
        and healthy is not None
    )
    result.details["load_seconds"] = round(time.time() - started, 1)
    return result


def celery_worker_kill(topology: Topology, tag: str) -> Result:
    """SIGKILL one host's Celery worker (its pool too), then the broker's master, while orders
    are placed; each outbox event of those orders must be delivered exactly once in the end."""
    result = Result("celery-worker-kill")
    catalog, stock = prepare(topology)
    load = start_load(topology, catalog, tag)
    since = time.time()
    victim = topology.hosts_with("app")[0]
    try:
        time.sleep(WARM_UP)
        result.details["pools_under_load"] = connection_counts(topology)
        worker_killed_at = time.time()
        result.details["worker_killed"] = kill(f"{victim.name}-worker")
        time.sleep(3)
        old = redis_master(topology)
        broker_killed_at = time.time()
        result.details["broker_killed"] = kill(f"{old.name}-redis") + ", the Redis master"
        while time.time() < broker_killed_at + 60 and (
            cli.redis_master_address(topology) in (None, old.address)
        ):
            time.sleep(0.5)
        result.details["new_broker_master_after_seconds"] = _round(time.time() - broker_killed_at)
        rejoined = restart_redis_node(topology, old)
        result.details["old_master_in_sync_as_replica_after_seconds"] = _round(rejoined)
        cli.start_worker(topology, victim, cli.load_secrets())
        result.details["worker_restarted_after_seconds"] = _round(time.time() - worker_killed_at)
        time.sleep(LOAD_AFTER)
    finally:
        finish_load(load)
    count(topology, load, stock, result)
    result.details["failures_seconds_after_kill"] = _failure_times(load, worker_killed_at)
    delivered = check_deliveries(topology, load, since, result)
    # Recovered: the first event made after the broker's death that a worker delivered.
    first = cli.psql(
        topology,
        "SELECT extract(epoch FROM min(e.delivered_at)) FROM orders_outboxevent e "
        "JOIN orders_order o ON o.id = e.order_id "
        f"WHERE o.email = {_quote(load.email)} "
        f"AND e.created_at > to_timestamp({broker_killed_at})",
    )
    if first and first[0][0]:
        result.seconds_to_recover = _round(float(first[0][0]) - broker_killed_at)
    healthy = wait_redis_healthy(topology)
    result.details["redis_after"] = cli.describe_redis(topology)
    # The restarted worker takes tasks from the new master. A worker that lived through the
    # broker's failover may stop answering the control channel (celery/celery#6348, open): it is
    # reported, not counted, as every side effect was still delivered exactly once above.
    answering = cli.workers_answering(topology, cli.load_secrets())
    result.details["workers_answering_after"] = sorted(host.name for host in answering)
    result.details["workers_silent_after"] = sorted(
        host.name for host in set(topology.hosts_with("app")) - answering
    )
    result.passed = (
        _clean(result)
        and delivered
        and rejoined is not None
        and healthy is not None
        and bool(answering)
    )
    return result


def _minority_lost(
    topology: Topology, tag: str, result: Result, victim: str, restart, healthy, during=None
) -> bool:
    """Kill one process of a three-member group under load (then run `during`, if given), start
    it again after OUTAGE_SECONDS: the shop must answer every request throughout.

    seconds_to_recover: from the restart until the group is whole again (`healthy`).
    """
    catalog, stock = prepare(topology)
    members, emails = sign_in_members(topology, tag)
    load = start_load(topology, catalog, tag, members=members)
    back = None
    during_passed = True
    try:
        time.sleep(WARM_UP)
        killed_at = time.time()
        result.details["killed"] = kill(victim)
        if during is not None:
            during_passed = during()
        time.sleep(max(0.0, killed_at + OUTAGE_SECONDS - time.time()))
        restarted_at = time.time()
        restart()
        result.details["restarted_after_seconds"] = _round(restarted_at - killed_at)
        while back is None and time.time() < restarted_at + 60:
            back = time.time() - restarted_at if healthy() else None
            time.sleep(0.5)
        result.seconds_to_recover = _round(back)
        time.sleep(LOAD_AFTER)
    finally:
        finish_load(load)
    count(topology, load, stock, result)
    kept = shoppers_kept(load, members, emails, result)
    result.details["failures_seconds_after_kill"] = _failure_times(load, killed_at)
    return (
        _clean(result)
        and kept
        and result.failed_requests == 0
        and back is not None
        and during_passed
    )


def _failure_times(load: Load, since: float) -> dict[str, list[float]]:
    """Each kind of shopper's failed requests, in seconds from `since` (when they were counted:
    a timeout is counted once the client gave up)."""
    return {
        name: [round(at - since, 1) for at in sorted(tally.failed_at)]
        for name, tally in load.tallies.items()
        if tally.failed_at
    }


def sentinel_minority(topology: Topology, tag: str) -> Result:
    """One sentinel (the one beside the Redis master) killed, then the master too: the two
    sentinels left are still a quorum and a majority, and fail over without the third."""
    result = Result("sentinel-minority")
    host = redis_master(topology)
    result.details["master"] = host.name

    def kill_master_too() -> bool:
        time.sleep(3)
        killed_at = time.time()
        result.details["then_killed"] = kill(f"{host.name}-redis") + ", the Redis master"
        while time.time() < killed_at + 60 and (
            cli.redis_master_address(topology) in (None, host.address)
        ):
            time.sleep(0.5)
        failed_over = cli.redis_master_address(topology) not in (None, host.address)
        result.details["failover_by_two_sentinels_after_seconds"] = _round(
            time.time() - killed_at if failed_over else None
        )
        result.details["old_master_in_sync_as_replica_after_seconds"] = _round(
            restart_redis_node(topology, host)
        )
        return failed_over

    result.passed = _minority_lost(
        topology,
        tag,
        result,
        f"{host.name}-sentinel",
        restart=lambda: cli.start_sentinel(topology, host),
        healthy=lambda: cli.redis_healthy(topology),
        during=kill_master_too,
    )
    result.details["redis_after"] = cli.describe_redis(topology)
    return result


def etcd_minority(topology: Topology, tag: str) -> Result:
    """The etcd member on the Patroni leader's host killed: two of three keep the leader key."""
    result = Result("etcd-minority")
    leader_name = cli.leader(topology)
    host = topology.host(leader_name)
    result.details["patroni_leader_before"] = leader_name

    def restart() -> None:
        config = HOSTS / host.name / "etcd.yml"
        hosts.run_in(host, ["etcd", "--config-file", config], name=f"{host.name}-etcd")

    def healthy() -> bool:
        url = f"http://{host.address}:{topology.ports.etcd_client}/health"
        return cli.http_json(url)[1].get("health") == "true" and cli.healthy(topology)

    passed = _minority_lost(topology, tag, result, f"{host.name}-etcd", restart, healthy)
    result.details["patroni_leader_after"] = cli.leader(topology)
    result.passed = passed and result.details["patroni_leader_after"] == leader_name
    return result


# --- The app tier on Docker Swarm (ha/swarm.py) ----------------------------------------------

# From a host's cut until no request should reach it: the balancers' checks (3 s or so)
# and one connect timeout (2 s) of a request sent just before. Requests sent later must not fail.
CHECK_SECONDS = 6
RESCHEDULE_BOUND = 60  # seconds from the cut to web's tasks all running on the other hosts
APP_CUT_SECONDS = 45  # the app host stays cut off this long: past the rescheduling
NODE_BACK_SECONDS = 90  # for the returning node to be Ready in the swarm again


def failed_after(load: Load, moment: float) -> list[float]:
    """Seconds after `moment` at which each failed request sent after it was sent."""
    sent = sorted(t for tally in load.tallies.values() for t in tally.failed_sent_at)
    return [round(t - moment, 1) for t in sent if t >= moment]


def app_host_to_cut(topology: Topology) -> Host:
    """An app node that holds neither Patroni's leader nor its synchronous standby.

    So the drill measures the app tier alone: writes go on meanwhile (strict synchronous
    replication would wait if the standby went too).
    """
    database = {cli.leader(topology), sync_standby(topology)}
    candidates = [h for h in topology.hosts_with("app") if h.name not in database]
    if not any(swarm.running_tasks(topology, "web").get(h.name) for h in candidates):
        # Swarm does not move tasks back to a node that returns: spread them again first.
        swarm.update_web(topology, "--force")
    web = swarm.running_tasks(topology, "web")
    with_web = [h for h in topology.hosts_with("app") if web.get(h.name)]
    return next((h for h in with_web if h.name not in database), with_web[-1])


def wait_for_web_elsewhere(topology: Topology, cut: Host, since: float) -> float | None:
    """Seconds from `since` until web's desired tasks all run on nodes other than `cut`."""
    desired = swarm.services(topology)["web"][1]
    deadline = since + RESCHEDULE_BOUND + 60
    while time.time() < deadline:
        try:
            running = swarm.running_tasks(topology, "web")
        except swarm.SwarmError:
            running = {}
        elsewhere = sum(len(ids) for node, ids in running.items() if node != cut.name)
        if elsewhere >= desired and cut.name not in running:
            return time.time() - since
        time.sleep(1)
    return None


def wait_for_node(topology: Topology, host: Host, state: str, since: float) -> float | None:
    deadline = time.time() + NODE_BACK_SECONDS
    while time.time() < deadline:
        try:
            if swarm.node_state(topology, host) == state:
                return time.time() - since
        except swarm.SwarmError:
            pass
        time.sleep(1)
    return None


def app_host_cut(topology: Topology, tag: str) -> Result:
    result = Result("app-host-cut")
    catalog, stock = prepare(topology)
    victim = app_host_to_cut(topology)
    if not swarm.running_tasks(topology, "web").get(victim.name):
        raise cli.HaError(f"{victim.name} runs no web task: the cut would show nothing")
    result.details["tasks_before"] = {
        name: _per_node(topology, name) for name in ("web", "worker", "beat", "balancer")
    }
    load = start_load(topology, catalog, tag)
    try:
        time.sleep(WARM_UP)
        cut_at = time.time()
        hosts.cut(victim)
        result.details["cut"] = f"{victim.name} ({victim.address}), an app node"
        result.seconds_to_recover = _round(wait_for_web_elsewhere(topology, victim, cut_at))
        result.details["node_down_after_seconds"] = _round(
            wait_for_node(topology, victim, "down", cut_at)
        )
        result.details["tasks_during_cut"] = {
            name: _per_node(topology, name) for name in ("web", "worker", "beat")
        }
        time.sleep(max(0.0, cut_at + APP_CUT_SECONDS - time.time()))
        back_at = time.time()
        hosts.reconnect(victim)
        result.details["cut_seconds"] = round(back_at - cut_at, 1)
        ready = wait_for_node(topology, victim, "ready", back_at)
        result.details["node_ready_again_after_seconds"] = _round(ready)
        time.sleep(LOAD_AFTER)
    finally:
        hosts.reconnect(victim)
        finish_load(load)
    count(topology, load, stock, result)
    late = failed_after(load, cut_at + CHECK_SECONDS)
    result.details["failed_requests_sent_after_the_checks"] = len(late)
    result.details["late_failures_seconds_after_cut"] = [round(t + CHECK_SECONDS, 1) for t in late][
        :50
    ]
    result.details["tasks_after"] = {name: _per_node(topology, name) for name in ("web", "beat")}
    result.passed = (
        _clean(result)
        and result.seconds_to_recover is not None
        and result.seconds_to_recover <= RESCHEDULE_BOUND
        and not late
        and ready is not None
    )
    return result


def rolling_update(topology: Topology, tag: str) -> Result:
    """`docker service update` of web (a new environment: a new release) under load."""
    result = Result("rolling-update")
    catalog, stock = prepare(topology)
    before = {task for ids in swarm.running_tasks(topology, "web").values() for task in ids}
    load = start_load(topology, catalog, tag)
    try:
        time.sleep(WARM_UP)
        started = time.time()
        state = swarm.update_web(topology, "--env-add", f"SHOP_RELEASE={tag}")
        result.seconds_to_recover = _round(time.time() - started)
        result.details["update"] = f"web --env-add SHOP_RELEASE={tag}, start-first, one at a time"
        result.details["update_state"] = state
        time.sleep(LOAD_AFTER)
    finally:
        finish_load(load)
    count(topology, load, stock, result)
    after = {task for ids in swarm.running_tasks(topology, "web").values() for task in ids}
    result.details["tasks_replaced"] = f"{len(before - after)} of {len(before)}"
    result.details["old_tasks_still_running"] = len(before & after)
    result.details["failures_seconds_after_start"] = failed_after(load, started)[:50]
    result.passed = (
        _clean(result)
        and result.failed_requests == 0
        and result.details["update_state"] == "completed"
        and not before & after
    )
    return result


def _per_node(topology: Topology, service: str) -> dict[str, int]:
    try:
        return {node: len(ids) for node, ids in swarm.running_tasks(topology, service).items()}
    except swarm.SwarmError as error:
        return {"error": str(error)}


DRILLS = {
    "primary-host-cut": primary_host_cut,
    "switchover": switchover,
    "sync-standby-host-lost": sync_standby_host_lost,
    "replica-disk-full": replica_disk_full,
    "redis-master-kill": redis_master_kill,
    "celery-worker-kill": celery_worker_kill,
    "sentinel-minority": sentinel_minority,
    "etcd-minority": etcd_minority,
    "app-host-cut": app_host_cut,
    "rolling-update": rolling_update,
}
SWARM_DRILLS = ("app-host-cut", "rolling-update")  # only when the topology has a swarm
# Kill a Celery worker process by its pid file: with a swarm, the workers are its tasks.
HOST_PROCESS_DRILLS = ("celery-worker-kill",)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def main(*, keep: bool = False, only: list[str] | None = None) -> int:
    unknown = sorted(set(only or []) - set(DRILLS))
    if unknown:
        raise cli.HaError(f"no drill named {unknown}; drills: {sorted(DRILLS)}")
    topology = cli.up()
    results: list[Result] = []
    started = datetime.now(UTC)
    tag = f"{started:%Y%m%d%H%M%S}"
    try:
        for name, drill in DRILLS.items():
            if only and name not in only:
                continue
            if name in SWARM_DRILLS and not swarm.enabled(topology):
                print(f"Drill {name}: skipped, no host has the swarm role", flush=True)
                continue
            if name in HOST_PROCESS_DRILLS and swarm.enabled(topology):
                print(f"Drill {name}: skipped, the workers are Swarm tasks here", flush=True)
                continue
            cli.wait_for(
                "Patroni and Redis healthy before the drill",
                lambda: cli.healthy(topology) and cli.redis_healthy(topology),
                seconds=120,
            )
            if swarm.enabled(topology):
                cli.wait_for(
                    "every Swarm service converged before the drill",
                    lambda: swarm.converged(topology),
                    seconds=120,
                )
            print(f"Drill {name}", flush=True)
            try:
                result = drill(topology, f"{tag}-{name}")
            except Exception as error:  # a drill that cannot finish is a failed drill
                result = Result(
                    name, details={"error": repr(error), "trace": traceback.format_exc()}
                )
            results.append(result)
            print(
                f"  {'passed' if result.passed else 'FAILED'}: recovered in "
                f"{result.seconds_to_recover} s, {result.acknowledged_orders} orders acknowledged, "
                f"{result.orders_lost} lost, {result.duplicate_orders} duplicated, "
                f"{result.oversold_units} oversold, {result.failed_requests} of "
                f"{result.total_requests} requests failed",
                flush=True,
            )
    finally:
        run = {
            "started": started.isoformat(timespec="seconds"),
            "topology_file": str(cli.TOPOLOGY_FILE.relative_to(ROOT))
            if cli.TOPOLOGY_FILE.is_relative_to(ROOT)
            else str(cli.TOPOLOGY_FILE),
        }
        report = {
            **run,
            "topology": [asdict(host) for host in topology.hosts],
            "patroni": asdict(topology.patroni),
            # A run of some drills (--only, or another topology's) keeps the others' last results.
            "drills": _merged(_earlier_drills(), [{**asdict(r), **run} for r in results]),
        }
        DRILLS_JSON.parent.mkdir(parents=True, exist_ok=True)
        DRILLS_JSON.write_text(json.dumps(report, indent=2) + "\n")
        print(f"Results: {DRILLS_JSON.relative_to(ROOT)}")
        if not keep:
            cli.down()
    return 0 if results and all(result.passed for result in results) else 1


def _earlier_drills() -> list[dict]:
    try:
        return json.loads(DRILLS_JSON.read_text()).get("drills", [])
    except (OSError, ValueError, AttributeError):
        return []


def _merged(earlier: list[dict], latest: list[dict]) -> list[dict]:
    """The latest result of every drill, in DRILLS' order (unknown names last)."""
    by_name = {entry.get("name"): entry for entry in earlier if isinstance(entry, dict)}
    by_name.update({entry["name"]: entry for entry in latest})
    order = list(DRILLS)
    return sorted(
        by_name.values(), key=lambda e: order.index(e["name"]) if e["name"] in order else len(order)
    )
