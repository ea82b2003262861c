"""PostgreSQL server connections per app replica, without pgbouncer and with it (issue 13).

    python -m bench.connections [--seconds 30]      (make bench-connections)

For each way the cluster can reach its primary (directly, then through pgbouncer in transaction
pooling), it starts the cluster that way (3 app replicas, rate limits off), runs the drills'
shopper load through nginx for a bounded time, and samples the primary's client connections
to the shop's database twice a second. It prints and writes bench/results/connections-<time>.md,
and stops the cluster (it ran with the drills' settings: rate limits off).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

from cluster.cluster import exclusive_use
from drills import checks, faults
from drills.load import Load
from drills.run_drills import load_catalog

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
REPLICAS = faults.REPLICAS
COUNT_SQL = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE backend_type = 'client backend' AND datname = 'shop' AND pid <> pg_backend_pid()"
)


def measure(pooler: str, seconds: float) -> dict:
    """Start the cluster with `pooler`, load it for `seconds`, return the connection samples."""
    os.environ["SHOP_CLUSTER_POOLER"] = pooler
    faults.cluster("down")
    faults.cluster("up", "--replicas", str(REPLICAS))
    load = Load(
        catalog=load_catalog(),
        email=f"connections-{pooler}-{time.time_ns()}@example.com",
        key_prefix=f"connections-{pooler}-{time.time_ns()}",
        members=[],
        max_seconds=seconds,
    )
    samples: list[int] = []
    load.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(int(checks.sql(COUNT_SQL)[0][0]))
        time.sleep(0.5)
    load.stop()
    load.join()
    requests = sum(tally.requests for tally in load.tallies.values())
    errors = sum(tally.errors for tally in load.tallies.values())
    return {
        "pooler": pooler,
        "max": max(samples),
        "mean": statistics.fmean(samples),
        "requests": requests,
        "errors": errors,
    }


def report(rows: list[dict], seconds: float) -> str:
    lines = [
        f"# PostgreSQL connections per app replica, {datetime.now().astimezone():%Y-%m-%d %H:%M}",
        "",
        f"{REPLICAS} app replicas (gunicorn, 2 processes x 4 threads each), a Celery worker and "
        f"beat; the drills' shopper load through nginx for {seconds:.0f} s each; the primary's "
        "client connections to the shop's database sampled twice a second.",
        "",
        "| primary reached | connections, max | per replica, max | mean | requests | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        name = "through pgbouncer" if row["pooler"] == "pgbouncer" else "directly"
        lines.append(
            f"| {name} | {row['max']} | {row['max'] / REPLICAS:.1f} | {row['mean']:.1f} | "
            f"{row['requests']} | {row['errors']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30, help="load per setting (max 300)")
    arguments = parser.parse_args(argv)
    seconds = min(max(arguments.seconds, 5), 300)
    previous = os.environ.get("SHOP_CLUSTER_POOLER")
    rows = []
    try:
        for pooler in ("none", "pgbouncer"):
            print(f"Measuring with the primary reached {pooler}: {seconds:.0f} s", flush=True)
            rows.append(measure(pooler, seconds))
    finally:
        os.environ.pop("SHOP_CLUSTER_POOLER", None)
        if previous is not None:
            os.environ["SHOP_CLUSTER_POOLER"] = previous
        faults.cluster("down")
    text = report(rows, seconds)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"connections-{datetime.now().astimezone():%Y%m%d-%H%M%S}.md"
    path.write_text(text)
    print(text)
    print(f"Report: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    with exclusive_use("make bench-connections"):
        sys.exit(main())
