"""`make bench`: Locust against the whole cluster, then a report with charts (issue 6).

Measurements, never a test: it fails only when it cannot run. In order, holding the cluster
(``cluster.exclusive_use``: the fault drills take it too, so the two never share the cluster;
a held cluster is waited for):

1. ``cluster.py up --replicas N`` with ``RATELIMIT_ENABLE=0`` (the app's limits would refuse a
   load test), a catalog of at least ``--products`` (seed_catalog only adds the difference);
2. the same user count U, closed-loop, against the floor (``/healthz``), the ceiling (a static
   file from nginx) and the Shopper mix; the catalog cache's hits and misses are scraped from
   every replica's ``/metrics`` before and after the Shopper run;
3. the flash sale: one product's stock set to K in the primary, FlashSale users race for it;
   then the database must show K units sold, the stock at 0, nothing negative, and Locust no 5xx;
4. horizontal scaling: the Shopper mix against 1, 2 and 4 replicas, each replica (its gunicorn
   master and workers) held to a quarter of a core by a CPU cgroup where the machine allows it;
5. growth with data: one client, 50 requests per endpoint, each a distinct URL after a catalog
   version bump (no cache answers), at the current catalog size; with ``--growth``
   (``make bench GROWTH=1``) also after seeding ``--growth-products`` (1,000,000: minutes).

Then bench/report.py writes bench/results/<timestamp>/report.md and its charts, and copies them
to docs/bench/. The cluster is brought down and the cgroups removed whatever happens.
Every load is bounded in time (Locust's ``-t``, and a timeout around it) and stays on loopback.
"""

import argparse
import contextlib
import csv
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

from bench import report
from cluster import cluster
from cluster.cluster import exclusive_use
from infra import processes

REPOSITORY = Path(__file__).resolve().parent.parent
RESULTS_DIRECTORY = REPOSITORY / "bench" / "results"
GROWTH_FILE = RESULTS_DIRECTORY / "growth.json"  # figures per catalog size, across runs
LOCUSTFILE = REPOSITORY / "bench" / "locustfile.py"
LOCUST = Path(sys.executable).parent / "locust"


BASE_URL = f"http://{cluster.HOST}:{cluster.NGINX_PORT}"
# Passed by `up` to every app replica: the limits and the cash-on-delivery caps (issue 12) would
# refuse a load test's many orders from one address.
BENCH_ENVIRONMENT = {
    "RATELIMIT_ENABLE": "0",
    "COD_MAX_UNITS_PER_CUSTOMER": "1000000",
    "COD_MAX_UNITS_PER_ADDRESS": "1000000",
}

DEFAULT_REPLICAS = 2
DEFAULT_USERS = 50
DEFAULT_PRODUCTS = 10_000
GROWTH_PRODUCTS = 1_000_000
SCALE_REPLICAS = (1, 2, 4)
CPU_QUOTA = (25_000, 100_000)  # microseconds per period: a quarter of a core per replica
CGROUP_PREFIX = "shop-bench-app"
FLASH_STOCK = 20
FLASH_USERS = 60
GROWTH_REQUESTS = 50
LOCUST_GRACE_SECONDS = 90  # start-up, registration and shutdown beyond Locust's -t
SEED_TIMEOUT = 3600.0
REQUEST_TIMEOUT = 30.0


class BenchError(Exception):
    """A run that cannot go on: its message is for the person running the benchmark."""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run(command: list, *, env: dict | None = None, timeout: float = 300.0) -> str:
    """infra's run, failing as a BenchError."""
    try:
        return processes.run(command, env=env, cwd=REPOSITORY, timeout=timeout, tail=10)
    except processes.StepFailed as error:
        raise BenchError(str(error)) from None


# --- The cluster, its database and its app ---------------------------------------------------


def cluster_command(*arguments: str) -> None:
    env = {**os.environ, **BENCH_ENVIRONMENT}
    _run([sys.executable, "-m", "cluster.cluster", *arguments], env=env, timeout=300)


def manage(*arguments: str, timeout: float = 300.0) -> str:
    env = cluster.app_environment(cluster.load_settings())
    return _run([sys.executable, "manage.py", *arguments], env=env, timeout=timeout)


def psql(sql: str) -> str:
    command = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", cluster.HOST]
    command += ["-p", cluster.PRIMARY_PORT, "-U", cluster.DB_USER, "-d", cluster.DB_NAME]
    return _run([*command, "-c", sql]).strip()


def product_count() -> int:
    return int(psql("SELECT count(*) FROM catalog_product"))


def seed(products: int) -> float:
    """Have at least `products` products; return the seconds it took."""
    started = time.monotonic()
    if product_count() < products:
        _say(f"Seeding the catalog to {products:,} products")
        manage("seed_catalog", "--products", str(products), timeout=SEED_TIMEOUT)
    return time.monotonic() - started


def forget_cached_catalog() -> None:
    """Bump the catalog version, as a product write does: every cached catalog entry misses."""
    manage("shell", "-c", "from catalog.cache import bump_catalog_version as b; b()")


def scrape_cache_lookups(replicas: int) -> dict[str, float]:
    """Sum shop_cache_lookups_total by result over every replica's own /metrics."""
    totals = {"hit": 0.0, "miss": 0.0}
    for number in range(1, replicas + 1):
        # Straight to the replica: through nginx the app refuses a scrape (X-Forwarded-For).
        url = f"http://{cluster.HOST}:{cluster.APP_PORT_BASE + number}/metrics"
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT) as response:
            text = response.read().decode()
        for line in text.splitlines():
            if line.startswith("shop_cache_lookups_total{"):
                labels, value = line.rsplit(" ", 1)
                for result in totals:
                    if f'result="{result}"' in labels:
                        totals[result] += float(value)
    return totals


# --- CPU cgroups for the scaling phase -------------------------------------------------------


def cgroup_root() -> tuple[Path | None, str]:
    """Return where replica cgroups can go and how; None (and why not) where they cannot."""
    unified = Path("/sys/fs/cgroup")
    controllers = unified / "cgroup.controllers"
    if (
        controllers.exists()
        and "cpu" in controllers.read_text().split()
        and os.access(unified / "cgroup.subtree_control", os.W_OK)
    ):
        return unified, "cgroup v2 (cpu.max)"
    legacy = unified / "cpu"
    if (legacy / "cpu.cfs_quota_us").exists() and os.access(legacy, os.W_OK):
        return legacy, "cgroup v1 cpu controller (cpu.cfs_quota_us; no writable cgroup v2 here)"
    return None, "no writable CPU cgroup on this machine: replicas ran without a quota"


def _replica_pids(number: int) -> list[int]:
    master = cluster.app_service(number).pid()
    if master is None:
        return []
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
    return pids


def hold_replicas_to_quota(root: Path, replicas: int) -> None:
    """Put each replica's gunicorn master and workers in a cgroup of a quarter core."""
    quota, period = CPU_QUOTA
    if root.name != "cpu":
        subtree = root / "cgroup.subtree_control"
        if "cpu" not in subtree.read_text().split():
            subtree.write_text("+cpu")
    for number in range(1, replicas + 1):
        group = root / f"{CGROUP_PREFIX}{number}"
        group.mkdir(exist_ok=True)
        if root.name == "cpu":
            (group / "cpu.cfs_period_us").write_text(str(period))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            (group / "cpu.max").write_text(f"{quota} {period}")
        for pid in _replica_pids(number):
            with contextlib.suppress(ProcessLookupError):
                (group / "cgroup.procs").write_text(str(pid))


def remove_cgroups(root: Path | None) -> None:
    if root is None:
        return
    for group in root.glob(f"{CGROUP_PREFIX}*"):
        with contextlib.suppress(OSError):
            for pid in (group / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError):
                    (root / "cgroup.procs").write_text(pid)
            group.rmdir()


# --- Locust ----------------------------------------------------------------------------------


def run_locust(
    label: str,
    user_class: str,
    *,
    users: int,
    seconds: int,
    folder: Path,
    extra_env: dict[str, str] | None = None,
    reset_stats: bool = False,
) -> dict:
    """Run one headless Locust phase; return its per-endpoint stats and status counts."""
    prefix = folder / label
    statuses = folder / f"{label}_statuses.json"
    command = [LOCUST, "-f", LOCUSTFILE, "--headless", "-u", users, "-r", max(users // 2, 1)]
    command += ["-t", f"{seconds}s", "--host", BASE_URL, "--csv", prefix, "--only-summary"]
    command += ["--stop-timeout", "5", "-L", "WARNING", "--exit-code-on-error", "0"]
    if reset_stats:
        command.append("--reset-stats")
    command.append(user_class)
    env = {**os.environ, "BENCH_STATUS_FILE": str(statuses), **(extra_env or {})}
    _say(f"  Locust {user_class}: {users} users, {seconds} s")
    with (folder / f"{label}.log").open("w") as log:
        run = subprocess.run(
            [str(part) for part in command],
            cwd=REPOSITORY,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=seconds + LOCUST_GRACE_SECONDS,
        )
    if run.returncode != 0:
        raise BenchError(f"Locust {user_class} exited {run.returncode}: see {log.name}")
    with (folder / f"{label}_stats.csv").open() as file:
        rows = list(csv.DictReader(file))
    return {
        "users": users,
        "seconds": seconds,
        "endpoints": [_endpoint(row) for row in rows if row["Name"] != "Aggregated"],
        "total": next(_endpoint(row) for row in rows if row["Name"] == "Aggregated"),
        "statuses": json.loads(statuses.read_text()) if statuses.exists() else {},
    }


def _endpoint(row: dict[str, str]) -> dict:
    def number(column: str) -> float | None:
        value = row.get(column, "N/A")
        return None if value in ("N/A", "") else float(value)

    return {
        "name": row["Name"],
        "method": row["Type"],
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "rps": number("Requests/s"),
        "p50": number("50%"),
        "p95": number("95%"),
        "p99": number("99%"),
    }


def server_errors(phase: dict) -> int:
    return sum(
        count
        for statuses in phase["statuses"].values()
        for status, count in statuses.items()
        if int(status) >= 500 or int(status) == 0
    )


# --- The phases ------------------------------------------------------------------------------


def flash_sale(folder: Path, *, stock: int, users: int, seconds: int) -> dict:
    """Race `users` for `stock` units of one product; check the database afterwards."""
    pk, slug = psql(
        "SELECT id, slug FROM catalog_product WHERE is_active AND stock > 0 ORDER BY id LIMIT 1"
    ).split("|")
    psql(f"UPDATE catalog_product SET stock = {stock} WHERE id = {pk}")
    forget_cached_catalog()  # the offers cached with the old stock
    last_order = int(psql("SELECT coalesce(max(id), 0) FROM orders_order"))
    phase = run_locust(
        "flash_sale",
        "FlashSale",
        users=users,
        seconds=seconds,
        folder=folder,
        extra_env={"BENCH_FLASH_PRODUCT": pk},
    )
    sold, orders = psql(
        "SELECT coalesce(sum(l.quantity), 0), count(DISTINCT l.order_id) FROM orders_orderline l "
        f"WHERE l.product_id = {pk} AND l.order_id > {last_order}"
    ).split("|")
    left = int(psql(f"SELECT stock FROM catalog_product WHERE id = {pk}"))
    negative = int(psql("SELECT count(*) FROM catalog_product WHERE stock < 0"))
    errors = server_errors(phase)
    phase["outcome"] = {
        "product": slug,
        "stock": stock,
        "users": users,
        "sold": int(sold),
        "orders": int(orders),
        "left": left,
        "negative_stock_products": negative,
        "server_errors": errors,
        "passed": int(sold) == stock and left == 0 and negative == 0 and errors == 0,
    }
    return phase


def scaling(folder: Path, *, users: int, seconds: int, replica_counts: tuple[int, ...]) -> dict:
    root, how = cgroup_root()
    runs = []
    try:
        for replicas in replica_counts:
            _say(f"Scaling: {replicas} replica(s)")
            cluster_command("up", "--replicas", str(replicas))
            if root is not None:
                hold_replicas_to_quota(root, replicas)
            phase = run_locust(
                f"scale_{replicas}",
                "Shopper",
                users=users,
                seconds=seconds,
                folder=folder,
                extra_env={"BENCH_ACCOUNTS": str(folder / "accounts.json")},
                reset_stats=True,
            )
            runs.append({"replicas": replicas, **phase})
    finally:
        remove_cgroups(root)
    quota = f"{CPU_QUOTA[0] / CPU_QUOTA[1]:g} core per replica" if root else "none"
    return {"cgroups": how, "quota": quota, "runs": runs}


def _first_page(path: str) -> dict:
    with urllib.request.urlopen(f"{BASE_URL}{path}", timeout=REQUEST_TIMEOUT) as response:
        return json.load(response)


def growth_paths(requests: int) -> dict[str, list[str]]:
    """Distinct URLs per endpoint, so neither nginx nor Redis has any of them cached."""
    departments = _first_page("/api/v1/categories/")
    biggest = max(
        departments,
        key=lambda node: _first_page(f"/api/v1/products/?category={node['slug']}")["count"],
    )
    titles = _first_page("/api/v1/products/?page_size=100")["results"]
    words = sorted(
        {word for item in titles for word in item["slug"].split("-") if word.isalpha()} - {"sku"}
    )
    words = [word for word in words if len(word) > 3]
    terms = [f"{a} {b}" for a in words for b in words if a < b][:requests]
    return {
        "product list": [f"/api/v1/products/?page={number}" for number in range(1, requests + 1)],
        "category listing": [
            f"/api/v1/products/?category={biggest['slug']}&ordering=price"
            f"&page={1 + number % 3}&page_size={20 + number}"
            for number in range(requests)
        ],
        "search": [f"/api/v1/search/?q={term.replace(' ', '+')}" for term in terms],
    }


def measure_growth(requests: int) -> dict:
    """One client, back to back, each URL once: p50/p95 of the database path."""
    forget_cached_catalog()
    paths = growth_paths(requests)
    endpoints = {}
    connection = http.client.HTTPConnection(cluster.HOST, cluster.NGINX_PORT, timeout=60)
    try:
        for name, urls in paths.items():
            latencies, failures = [], 0
            for url in urls:
                started = time.perf_counter()
                connection.request("GET", url, headers={"Accept": "application/json"})
                response = connection.getresponse()
                response.read()
                elapsed = (time.perf_counter() - started) * 1000
                if response.status == 200:
                    latencies.append(elapsed)
                else:
                    failures += 1
            endpoints[name] = {
                "requests": len(urls),
                "failures": failures,
                "p50": statistics.median(latencies) if latencies else None,
                "p95": _percentile(latencies, 95),
                "example": urls[0],
            }
    finally:
        connection.close()
    return endpoints


def _percentile(values: list[float], percent: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(int(len(ordered) * percent / 100 + 0.999999), 1)
    return ordered[rank - 1]


def record_growth(products: int, endpoints: dict, seed_seconds: float | None) -> dict:
    """Keep this size's figures beside earlier runs' (the 1M figures survive a quick run)."""
    growth = json.loads(GROWTH_FILE.read_text()) if GROWTH_FILE.exists() else {}
    growth[str(products)] = {
        "measured_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "revision": report.revision(),
        "seed_seconds": seed_seconds,
        "endpoints": endpoints,
    }
    GROWTH_FILE.write_text(json.dumps(growth, indent=2) + "\n")
    return growth


# --- Command line ----------------------------------------------------------------------------


def parse_options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Load the cluster with Locust; write a report.")
    parser.add_argument("--replicas", type=int, default=DEFAULT_REPLICAS, help="for the mix")
    parser.add_argument("--users", type=int, default=DEFAULT_USERS, help="Locust users (U)")
    parser.add_argument("--seconds", type=int, default=20, help="floor and ceiling phases")
    parser.add_argument("--shopper-seconds", type=int, default=60, help="the Shopper mix")
    parser.add_argument("--scale-seconds", type=int, default=30, help="each scaling run")
    parser.add_argument("--flash-stock", type=int, default=FLASH_STOCK, help="units for sale")
    parser.add_argument("--flash-users", type=int, default=FLASH_USERS, help="racing users")
    parser.add_argument("--products", type=int, default=DEFAULT_PRODUCTS, help="catalog minimum")
    parser.add_argument(
        "--growth", action="store_true", help="also seed --growth-products and measure (slow)"
    )
    parser.add_argument("--growth-products", type=int, default=GROWTH_PRODUCTS)
    parser.add_argument("--skip-scaling", action="store_true", help="no 1/2/4-replica runs")
    parser.add_argument("--no-publish", action="store_true", help="do not copy to docs/bench/")
    return parser.parse_args(argv)


def benchmark(options: argparse.Namespace, folder: Path) -> dict:
    results: dict = {"options": vars(options), "machine": report.machine_notes()}
    _say(f"Starting the cluster with {options.replicas} replicas (RATELIMIT_ENABLE=0)")
    cluster_command("up", "--replicas", str(options.replicas))
    results["seed_seconds"] = seed(options.products)
    products = product_count()
    results["products"] = products
    forget_cached_catalog()

    _say("Floor, ceiling and the Shopper mix")
    results["floor"] = run_locust(
        "floor", "Floor", users=options.users, seconds=options.seconds, folder=folder
    )
    results["ceiling"] = run_locust(
        "ceiling", "Ceiling", users=options.users, seconds=options.seconds, folder=folder
    )
    before = scrape_cache_lookups(options.replicas)
    results["shopper"] = run_locust(
        "shopper",
        "Shopper",
        users=options.users,
        seconds=options.shopper_seconds,
        folder=folder,
        extra_env={"BENCH_ACCOUNTS": str(folder / "accounts.json")},  # for the scaling runs
    )
    after = scrape_cache_lookups(options.replicas)
    hits, misses = after["hit"] - before["hit"], after["miss"] - before["miss"]
    results["cache"] = {"hits": hits, "misses": misses}

    _say(f"Flash sale: {options.flash_users} users for {options.flash_stock} units")
    results["flash_sale"] = flash_sale(
        folder, stock=options.flash_stock, users=options.flash_users, seconds=45
    )

    if not options.skip_scaling:
        results["scaling"] = scaling(
            folder,
            users=options.users,
            seconds=options.scale_seconds,
            replica_counts=SCALE_REPLICAS,
        )
        results["scaling"]["products"] = products

    # Last: the bigger seed must not change the catalog under the Locust phases above.
    _say(f"Growth: {GROWTH_REQUESTS} distinct requests per endpoint at {products:,} products")
    record_growth(products, measure_growth(GROWTH_REQUESTS), results["seed_seconds"])
    if options.growth and products < options.growth_products:
        seconds = seed(options.growth_products)
        _say(f"  seeded in {seconds:.0f} s; measuring at {product_count():,} products")
        record_growth(product_count(), measure_growth(GROWTH_REQUESTS), seconds)
    results["growth"] = json.loads(GROWTH_FILE.read_text())
    return results


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    asked = time.monotonic()
    folder = RESULTS_DIRECTORY / datetime.now().astimezone().strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True)
    try:
        with exclusive_use("make bench"):
            started = time.monotonic()
            try:
                results = benchmark(options, folder)
            finally:
                _say("Stopping the cluster")
                with contextlib.suppress(BenchError, subprocess.TimeoutExpired):
                    cluster_command("down")
    except (BenchError, subprocess.TimeoutExpired, OSError) as error:
        _say(f"bench: {error}")
        return 1
    results["wall_seconds"] = time.monotonic() - started
    results["lock_wait_seconds"] = started - asked
    (folder / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    path = report.write_report(folder, results)
    _say(f"Report: {path.relative_to(REPOSITORY)}")
    if not options.no_publish:
        _say(f"Copied to {report.publish(folder).relative_to(REPOSITORY)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
