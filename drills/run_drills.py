"""Fault drills (issue 6): break the cluster under load, repair it, check that nothing was lost.

    make drills                          # or: .venv/bin/python -m drills.run_drills [--keep]

Starts the cluster if needed (cluster/cluster.py, rate limits off), then runs five drills in
order. Each starts a bounded load through nginx (drills/load.py), breaks something a few seconds
in, repairs it a few seconds later, lets the load finish, and checks (drills/checks.py): every
order a buyer recorded exists exactly once, every outbox event of those orders is delivered once
(with its e-mail), no cart and no session vanished. Writes drills/results/<timestamp>.md, prints
a summary, and exits 1 if any check failed. The cluster is brought down at the end unless
--keep. bench/ uses the same cluster: both hold it (cluster.exclusive_use) while they run.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cluster.cluster import exclusive_use
from drills import checks, faults
from drills.checks import Check
from drills.load import Catalog, Load, Shopper, Tally, register_member

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "drills" / "results"
BREAK_AFTER = 5  # seconds of load before the fault
LOAD_AFTER_REPAIR = 6  # seconds of load once repaired
REPLICA_BACK_SECONDS = 60
BROKEN_APP = 2
BROKER_NOTE = (
    "The broker is Redis database 1 on the same Redis server as the cache, sessions and carts "
    "(cluster/templates/redis.conf), so stopping the broker also stops the cache: this drill "
    "overlaps drill 3, with a graceful stop (SIGTERM) instead of SIGKILL."
)


@dataclass
class Run:
    """One drill as it happened: its load, its timeline, its checks."""

    number: int
    name: str
    load: Load | None = None
    timeline: list[tuple[float, str]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    down_at: float = 0.0  # time.time() once the fault took effect (the process has exited)
    repaired_at: float = 0.0  # time.time() as the repair began
    seconds: float = 0.0

    def mark(self, what: str) -> None:
        self.timeline.append((time.time(), what))

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)


@dataclass(frozen=True)
class Drill:
    number: int
    name: str
    breaks: Callable[[], str]
    repairs: Callable[[], str]
    outage_seconds: float
    during: Callable[[Run, Shopper], None] = lambda run, probe: None
    after: Callable[[Run, Shopper], list[Check]] = lambda run, probe: []


# --- What each drill checks beyond the common checks ----------------------------------------


def _replica_skipped(run: Run, probe: Shopper) -> None:
    seen = set()
    for _ in range(6):  # one answer per worker at most: each keeps its own view of the replica
        seen.add(checks.readyz(probe).get("replica1", "missing"))
        time.sleep(0.3)
    run.notes.append(f"/readyz replica1 during the outage: {sorted(seen)}")
    run.checks.append(
        Check(
            "reads fell back (readyz: replica1 down)",
            "down" in seen,
            f"replica1 states seen: {sorted(seen)}",
        )
    )


def _replica_returns(run: Run, probe: Shopper) -> list[Check]:
    state = ""
    while time.time() < run.repaired_at + REPLICA_BACK_SECONDS:
        state = checks.readyz(probe).get("replica1", "missing")
        if state == "ok":
            break
        time.sleep(1)
    took = time.time() - run.repaired_at
    return [
        Check(
            f"reads returned to the replica within {REPLICA_BACK_SECONDS} s",
            state == "ok",
            f"readyz replica1 '{state}', seen {took:.0f} s after the repair began",
        )
    ]


def _redis_recovered(run: Run, probe: Shopper) -> list[Check]:
    cache = checks.readyz(probe).get("cache", "missing")
    placed = checks.orders_created_between(run.load, run.down_at, run.repaired_at)
    run.notes.append(f"{placed} orders were placed while Redis was down")
    run.notes.append(
        "The app's rate limits are off for the drills (RATELIMIT_ENABLE=0), so 'rate limiting "
        "recovers' is checked as its store answering again: django-ratelimit counts in this "
        "cache, and RATELIMIT_FAIL_OPEN lets requests through while it is down."
    )
    return [
        checks.check_catalog_never_failed(run.load),
        Check("the cache (and the rate limits' store) answers again", cache == "ok", cache),
    ]


def _delivered_after_restart(run: Run, probe: Shopper) -> list[Check]:
    """The events of orders placed while the process was down: all delivered, none before."""
    placed, after = checks.sql(
        "SELECT count(*), count(*) FILTER (WHERE e.delivered_at >= "
        f"to_timestamp({run.repaired_at})) FROM orders_outboxevent e "
        "JOIN orders_order o ON o.id = e.order_id "
        f"WHERE o.email = {checks.quote(run.load.email)} AND o.created_at "
        f"BETWEEN to_timestamp({run.down_at}) AND to_timestamp({run.repaired_at})"
    )[0]
    return [
        Check(
            "orders were placed during the outage",
            int(placed) > 0,
            f"{placed} events of orders created between the stop and the restart",
        ),
        Check(
            "their side effects were delivered after the restart",
            int(after) == int(placed) > 0,
            f"{after} of those {placed} events delivered after the restart",
        ),
    ]


def _broker_recovered(run: Run, probe: Shopper) -> list[Check]:
    run.notes.append(BROKER_NOTE)
    return _delivered_after_restart(run, probe)


DRILLS = [
    Drill(
        1,
        f"Kill app replica {BROKEN_APP} (SIGKILL master and workers), then start-app",
        lambda: faults.kill_app(BROKEN_APP),
        lambda: faults.start_app(BROKEN_APP),
        outage_seconds=6,
    ),
    Drill(
        2,
        "Stop the PostgreSQL replica (pg_ctl stop -m fast), then cluster.py up",
        faults.stop_postgres_replica,
        faults.start_dead,
        outage_seconds=8,
        during=_replica_skipped,
        after=_replica_returns,
    ),
    Drill(
        3,
        "Kill Redis (SIGKILL), start it empty",
        lambda: faults.signal_process("redis", signal.SIGKILL),
        faults.start_dead,
        outage_seconds=8,
        after=_redis_recovered,
    ),
    Drill(
        4,
        "Stop the Celery worker (SIGTERM) while orders are placed, then cluster.py up",
        lambda: faults.signal_process("celery-worker", signal.SIGTERM),
        faults.start_dead,
        outage_seconds=8,
        after=_delivered_after_restart,
    ),
    Drill(
        5,
        "Stop the broker (Redis, SIGTERM) for 10 s while orders are placed, then cluster.py up",
        lambda: faults.signal_process("redis", signal.SIGTERM),
        faults.start_dead,
        outage_seconds=10,
        after=_broker_recovered,
    ),
]


# --- Running one drill ----------------------------------------------------------------------


def load_catalog() -> Catalog:
    """Products with plenty of stock (so that no order runs out), categories, search words."""
    products = checks.sql(
        "SELECT id, slug FROM catalog_product WHERE is_active AND stock >= 100 ORDER BY id"
    )
    categories = checks.sql("SELECT slug FROM catalog_category ORDER BY id")
    if len(products) < 100 or not categories:
        raise faults.DrillError(f"the catalog is too small: {len(products)} products in stock")
    return Catalog(
        products=[(int(pk), slug) for pk, slug in products],
        categories=[row[0] for row in categories],
        words=checks.source_words(),
    )


def run_drill(drill: Drill, catalog: Catalog, tag: str) -> Run:
    run = Run(drill.number, drill.name)
    started = time.monotonic()
    since = time.time()
    try:
        dead = faults.not_running()
        if dead:
            run.notes.append(f"started before the drill: {dead}")
            faults.start_dead()
        setup = Tally()
        member_emails = [f"drill-{tag}-d{drill.number}-member{n}@example.com" for n in (1, 2)]
        members = [register_member(setup, address) for address in member_emails]
        probe = Shopper(setup)
        run.load = Load(
            catalog=catalog,
            email=f"drill-{tag}-d{drill.number}@example.com",
            key_prefix=f"drill-{tag}-d{drill.number}",
            members=members,
        )
        run.load.start()
        run.mark("load started")
        time.sleep(BREAK_AFTER)
        broken_at = time.time()
        run.mark(drill.breaks())
        run.down_at = time.time()
        drill.during(run, probe)
        time.sleep(max(0.0, drill.outage_seconds - (time.time() - broken_at)))
        run.repaired_at = time.time()
        run.mark(f"repair: {drill.repairs()}")
        time.sleep(LOAD_AFTER_REPAIR)
        run.load.stop()
        run.mark("load stopping; buyers finish their retries")
        run.load.join()
        run.mark("load finished")

        dead = faults.not_running()
        run.checks.append(
            Check("every process running after the repair", not dead, f"not running: {dead}")
        )
        waited = checks.wait_for_delivery(run.load.email)
        run.mark(f"outbox waited {waited:.0f} s")
        run.checks += drill.after(run, probe)
        run.checks += checks.check_orders(run.load)
        run.checks += checks.check_outbox(run.load, since=since, waited=waited)
        run.checks += checks.check_carts(run.load)
        run.checks += checks.check_sessions(members, member_emails)
    except Exception as error:  # a drill that cannot finish is a failed drill, and the run goes on
        run.checks.append(Check("the drill ran to the end", False, f"{error!r}"))
        run.notes.append("```\n" + traceback.format_exc().strip() + "\n```")
        if run.load is not None:
            run.load.stop()
    run.seconds = time.monotonic() - started
    return run


# --- Reporting ------------------------------------------------------------------------------


def _totals(run: Run) -> tuple[int, int]:
    if run.load is None:
        return 0, 0
    tallies = run.load.tallies.values()
    return sum(t.requests for t in tallies), sum(t.errors for t in tallies)


def summary_rows(runs: list[Run]) -> list[list[str]]:
    rows = []
    for run in runs:
        requests, errors = _totals(run)
        rate = f"{errors / requests:.2%}" if requests else "-"
        passed = sum(check.passed for check in run.checks)
        verdict = "PASS" if run.passed else "FAIL"
        rows.append(
            [
                str(run.number),
                run.name,
                str(requests),
                str(errors),
                rate,
                f"{verdict} {passed}/{len(run.checks)}",
            ]
        )
    return rows


HEADER = ["#", "drill", "requests", "errors", "error rate", "checks"]


def write_report(runs: list[Run], *, started: datetime, seconds: float, cluster_note: str) -> Path:
    lines = [
        f"# Fault drills, {started:%Y-%m-%d %H:%M:%S}",
        "",
        f"Wall time {seconds / 60:.1f} min (from taking the lock). "
        f"Cluster: 3 app replicas behind nginx, {cluster_note}; "
        "app rate limits off (RATELIMIT_ENABLE=0), cash-on-delivery caps raised. Errors are "
        "non-2xx answers other than the expected 409s, plus connection errors (refused, reset, "
        "or no answer in 10 s).",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
        *("| " + " | ".join(row) + " |" for row in summary_rows(runs)),
        "",
    ]
    for run in runs:
        lines += [f"## {run.number}. {run.name}", "", f"{run.seconds:.0f} s.", ""]
        if run.load is not None:
            lines += ["| shoppers | requests | errors | 5xx | connection errors | statuses |"]
            lines += ["|---|---|---|---|---|---|"]
            for name, tally in run.load.tallies.items():
                statuses = ", ".join(
                    f"{k}: {v}" for k, v in sorted(tally.statuses.items(), key=str)
                )
                lines.append(
                    f"| {name} | {tally.requests} | {tally.errors} | {tally.server_errors} | "
                    f"{tally.connection_errors} | {statuses} |"
                )
            refused = sum((buyer.refused for buyer in run.load.buyers), Counter())
            lines += ["", f"Orders refused with a definite 4xx: {dict(refused) or 'none'}.", ""]
        first = run.timeline[0][0] if run.timeline else 0
        lines += [f"- t+{moment - first:5.1f} s: {what}" for moment, what in run.timeline]
        lines += ["", "| check | result | evidence |", "|---|---|---|"]
        for check in run.checks:
            evidence = check.evidence.replace("|", "\\|")
            lines.append(f"| {check.name} | {'pass' if check.passed else 'FAIL'} | {evidence} |")
        lines += ["", *(f"{note}\n" for note in run.notes)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{started:%Y%m%d-%H%M%S}.md"
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path


def print_summary(runs: list[Run]) -> None:
    rows = [HEADER, *summary_rows(runs)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADER))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    for run in runs:
        for check in run.checks:
            if not check.passed:
                print(f"FAILED drill {run.number}: {check.name}: {check.evidence}")


# --- The whole run --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    parser.add_argument("--only", type=int, nargs="*", help="drill numbers to run (default all)")
    arguments = parser.parse_args(argv)

    started, asked = datetime.now().astimezone(), time.monotonic()
    tag = f"{started:%Y%m%d%H%M%S}"
    runs: list[Run] = []
    cluster_note = "not started"
    with exclusive_use("make drills"):
        clock = time.monotonic()
        if clock - asked > 1:
            print(f"Waited {(clock - asked) / 60:.1f} min for the lock")
        try:
            print("Starting the cluster (3 app replicas, rate limits off, COD caps raised)")
            cluster_note = faults.start_cluster()
            catalog = load_catalog()
            for drill in DRILLS:
                if arguments.only and drill.number not in arguments.only:
                    continue
                print(f"Drill {drill.number}: {drill.name}", flush=True)
                runs.append(run_drill(drill, catalog, tag))
                print(f"  {'passed' if runs[-1].passed else 'FAILED'} in {runs[-1].seconds:.0f} s")
        finally:
            if not arguments.keep:
                print("Stopping the cluster (--keep leaves it running)")
                faults.cluster("down")
    seconds = time.monotonic() - clock
    report = write_report(runs, started=started, seconds=seconds, cluster_note=cluster_note)
    print()
    print_summary(runs)
    print(f"\nReport: {report.relative_to(ROOT)}   wall time {seconds / 60:.1f} min")
    return 0 if runs and all(run.passed for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
