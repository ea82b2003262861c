"""Drills on the HA deployment (issue 13): break it under load, count the orders.

    python -m ha drills [--keep] [--only primary-host-cut switchover app-host-cut rolling-update]

Brings the deployment up if it is not (ha.cli.up), then for each drill runs shoppers through the
balancer (drills/load.py: browsers, and buyers placing cash-on-delivery orders with an
Idempotency-Key, retried with the same key after a 5xx or no answer), breaks the leader a few
seconds in, and at the end counts from the database, on whichever host leads then:

- primary-host-cut: the leader's host off the network (its veth down: no FIN, no RST), back
  after CUT_SECONDS. A new leader must take writes within RECOVER_BOUND seconds, and the old
  one must rejoin as a streaming replica.
- switchover: `patronictl switchover` to the synchronous standby. Requests may fail only around
  the switch, and each order must be answered in the end.

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

import json
import subprocess
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from drills.load import Catalog, Load
from ha import cli, hosts, swarm
from ha.configs import balancer_url
from ha.paths import DRILLS_JSON, ROOT
from ha.topology import Host, Topology

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
    command = ["psql", "-X", "-At", "-h", topology.gateway, "-p", str(topology.ports.db_primary)]
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


def prepare(topology: Topology) -> tuple[Catalog, dict[int, int]]:
    """Pick the products the buyers buy and set their stock; return them and that stock."""
    rows = cli.psql(
        topology,
        f"SELECT id, slug FROM catalog_product WHERE is_active ORDER BY id LIMIT {PRODUCTS}",
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


def start_load(topology: Topology, catalog: Catalog, tag: str) -> Load:
    load = Load(
        catalog=catalog,
        email=f"ha-{tag}@example.com",
        key_prefix=f"ha-{tag}",
        members=[],
        max_seconds=240,
        base_url=balancer_url(topology),
        browsers=BROWSERS,
        cart_shoppers=0,
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
    "app-host-cut": app_host_cut,
    "rolling-update": rolling_update,
}
SWARM_DRILLS = ("app-host-cut", "rolling-update")  # only when the topology has a swarm


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
            cli.wait_for(
                "Patroni healthy before the drill", lambda: cli.healthy(topology), seconds=120
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
        report = {
            "started": started.isoformat(timespec="seconds"),
            "topology": [asdict(host) for host in topology.hosts],
            "patroni": asdict(topology.patroni),
            "drills": [asdict(result) for result in results],
        }
        DRILLS_JSON.parent.mkdir(parents=True, exist_ok=True)
        DRILLS_JSON.write_text(json.dumps(report, indent=2) + "\n")
        print(f"Results: {DRILLS_JSON.relative_to(ROOT)}")
        if not keep:
            cli.down()
    return 0 if results and all(result.passed for result in results) else 1
