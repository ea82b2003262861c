"""The report of `make bench`: Markdown tables and matplotlib charts from results.json.

    .venv/bin/python -m bench.report bench/results/<timestamp>   # redraw one run's report

Writes report.md, latency.png, scaling.png and growth.png into the run's folder;
``publish`` copies them to docs/bench/, which the README links to.
"""

import math
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

REPOSITORY = Path(__file__).resolve().parent.parent
PUBLISHED = REPOSITORY / "docs" / "bench"
CHART_DPI = 80
PER_USER_RATE = 40  # bench/locustfile.py: each user's most requests a second
TIMES = "\N{MULTIPLICATION SIGN}"
LOOPBACK_NOTE = (
    "Locust, nginx, gunicorn, PostgreSQL and Redis share the same cores: read the ratios to the "
    "floor, not the absolute figures."
)


def revision() -> str:
    def git(*args: str) -> str:
        run = subprocess.run(["git", *args], cwd=REPOSITORY, capture_output=True, text=True)
        return run.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit} (with uncommitted changes)" if git("status", "--porcelain") else commit


def machine_notes() -> dict:
    return {
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
        "cgroup_fs": "cgroup2"
        if Path("/sys/fs/cgroup/cgroup.controllers").exists()
        else "cgroup v1 (with a cgroup2 hierarchy only at /sys/fs/cgroup/unified)"
        if Path("/sys/fs/cgroup/unified").exists()
        else "cgroup v1",
        "revision": revision(),
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
    }


# --- Figures ---------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.0f}"


def _ratio(value: float | None, floor: float | None) -> str:
    if not value or not floor:
        return "n/a"
    return f"{value / floor:.2f}{TIMES}"


def _errors(endpoint: dict) -> str:
    if not endpoint["requests"]:
        return "n/a"
    return f"{100 * endpoint['failures'] / endpoint['requests']:.1f} %"


def endpoint_table(results: dict) -> str:
    floor = results["floor"]["total"]
    ceiling = results["ceiling"]["total"]
    shopper = results["shopper"]
    lines = [
        f"| endpoint | requests | errors | req/s | p50 ms | p95 ms | p99 ms | p50 {TIMES} floor |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = [
        ("floor", floor | {"name": "GET /healthz (floor: a bare Django JSON view)"}),
        ("ceiling", ceiling | {"name": "GET /static/shop/shop.css (ceiling: nginx alone)"}),
    ]
    rows += [("shopper", endpoint) for endpoint in shopper["endpoints"]]
    rows.append(("shopper", shopper["total"] | {"name": "**the Shopper mix, all requests**"}))
    for _kind, endpoint in rows:
        name = endpoint["name"]
        if not name.startswith(("GET", "**")):
            name = f"{endpoint['method']} {name}"
        lines.append(
            f"| {name} | {endpoint['requests']} | {_errors(endpoint)} "
            f"| {endpoint['rps']:.0f} | {_ms(endpoint['p50'])} | {_ms(endpoint['p95'])} "
            f"| {_ms(endpoint['p99'])} | {_ratio(endpoint['p50'], floor['p50'])} |"
        )
    return "\n".join(lines)


def key_ratios(results: dict) -> dict[str, float | None]:
    floor = results["floor"]["total"]["rps"]
    return {
        "floor_rps": floor,
        "ceiling_rps": results["ceiling"]["total"]["rps"],
        "shopper_rps": results["shopper"]["total"]["rps"],
        "shopper_over_floor": results["shopper"]["total"]["rps"] / floor if floor else None,
        "ceiling_over_floor": results["ceiling"]["total"]["rps"] / floor if floor else None,
    }


def cache_line(results: dict) -> str:
    hits, misses = results["cache"]["hits"], results["cache"]["misses"]
    if not hits + misses:
        return "no catalog cache lookups were counted"
    return (
        f"{100 * hits / (hits + misses):.1f} % ({hits:.0f} hits, {misses:.0f} misses of "
        "`shop_cache_lookups_total`, summed over the replicas' `/metrics` before and after the "
        "Shopper run; nginx's micro-cache answers some anonymous reads before they get there)"
    )


def flash_lines(results: dict) -> list[str]:
    outcome = results["flash_sale"]["outcome"]
    verdict = "**held**" if outcome["passed"] else "**FAILED**"
    statuses = results["flash_sale"]["statuses"]
    answers = ", ".join(
        f"{name}: " + ", ".join(f"{count} {TIMES} {status}" for status, count in counts.items())
        for name, counts in sorted(statuses.items())
    )
    return [
        f"{outcome['users']} users raced for {outcome['stock']} units of `{outcome['product']}`"
        f" (one unit each, cash on delivery): {verdict}.",
        "",
        f"- units sold (order lines in this run): {outcome['sold']} in {outcome['orders']} orders;"
        f" stock left: {outcome['left']}; products with negative stock: "
        f"{outcome['negative_stock_products']}; 5xx or no answer: {outcome['server_errors']}",
        f"- answers: {answers}",
    ]


def scaling_table(scaling: dict) -> str:
    runs = scaling["runs"]
    base = runs[0]["total"]["rps"] if runs else None
    lines = [
        f"| replicas | req/s | {TIMES} one replica | p50 ms | p95 ms | p99 ms | errors |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        total = run["total"]
        lines.append(
            f"| {run['replicas']} | {total['rps']:.0f} | {_ratio(total['rps'], base)} "
            f"| {_ms(total['p50'])} | {_ms(total['p95'])} | {_ms(total['p99'])} "
            f"| {_errors(total)} |"
        )
    return "\n".join(lines)


def growth_table(growth: dict) -> str:
    sizes = sorted(growth, key=int)
    names = list(growth[sizes[0]]["endpoints"])
    header = " | ".join(f"{int(size):,} p50 / p95 ms" for size in sizes)
    lines = [f"| endpoint | {header} |", "| --- |" + " ---: |" * len(sizes)]
    for name in names:
        cells = []
        for size in sizes:
            figures = growth[size]["endpoints"].get(name)
            cells.append(f"{_ms(figures['p50'])} / {_ms(figures['p95'])}" if figures else "n/a")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    measured = "; ".join(
        f"{int(size):,}: {growth[size]['measured_at']} (revision {growth[size]['revision']})"
        for size in sizes
    )
    return "\n".join(lines) + f"\n\nMeasured: {measured}."


# --- Charts ----------------------------------------------------------------------------------


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=CHART_DPI)
    plt.close(figure)


def latency_chart(results: dict, path: Path) -> None:
    endpoints = [results["floor"]["total"] | {"name": "/healthz (floor)"}]
    endpoints.append(results["ceiling"]["total"] | {"name": "static file (ceiling)"})
    endpoints += results["shopper"]["endpoints"]
    names = [endpoint["name"] for endpoint in endpoints][::-1]
    figure, axes = plt.subplots(figsize=(8, 0.4 * len(names) + 1.2))
    height = 0.27
    for offset, percentile in enumerate(("p50", "p95", "p99")):
        values = [endpoint[percentile] or 0 for endpoint in endpoints][::-1]
        positions = [index + (offset - 1) * height for index in range(len(names))]
        axes.barh(positions, values, height=height, label=percentile)
    axes.set_yticks(range(len(names)), names, fontsize=8)
    axes.set_xscale("log")
    axes.set_xlabel("latency (ms, log scale)")
    axes.set_title(f"Latency per endpoint, {results['shopper']['users']} users")
    axes.legend(fontsize=8)
    _save(figure, path)


def scaling_chart(scaling: dict, path: Path) -> None:
    runs = scaling["runs"]
    replicas = [run["replicas"] for run in runs]
    rates = [run["total"]["rps"] for run in runs]
    figure, axes = plt.subplots(figsize=(5, 3.5))
    axes.plot(replicas, rates, marker="o", label="measured")
    axes.plot(
        replicas,
        [rates[0] * count / replicas[0] for count in replicas],
        linestyle="--",
        color="grey",
        label="linear",
    )
    axes.set_xticks(replicas)
    axes.set_xlabel("app replicas")
    axes.set_ylabel("requests/s (Shopper mix)")
    axes.set_title(f"Horizontal scaling, quota: {scaling['quota']}", fontsize=9)
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=8)
    _save(figure, path)


def growth_chart(growth: dict, path: Path) -> None:
    sizes = sorted(growth, key=int)
    names = list(growth[sizes[0]]["endpoints"])
    figure, axes = plt.subplots(figsize=(6, 3.5))
    width = 0.8 / len(sizes)
    for offset, size in enumerate(sizes):
        endpoints = growth[size]["endpoints"]
        p50 = [(endpoints.get(name) or {}).get("p50") or 0 for name in names]
        p95 = [(endpoints.get(name) or {}).get("p95") or 0 for name in names]
        positions = [index + offset * width for index in range(len(names))]
        bars = axes.bar(positions, p50, width=width, label=f"{int(size):,} products, p50")
        axes.scatter(positions, p95, marker="_", s=200, color=bars.patches[0].get_facecolor())
    axes.set_xticks([index + width * (len(sizes) - 1) / 2 for index in range(len(names))], names)
    axes.set_ylabel("latency (ms); dash: p95")
    axes.set_title("Catalog reads without cache, by catalog size", fontsize=9)
    axes.legend(fontsize=8)
    _save(figure, path)


# --- The report ------------------------------------------------------------------------------


def _growth_note(results: dict) -> str:
    if not results["options"].get("growth"):
        return ""
    seeded = [
        figures["seed_seconds"]
        for figures in (results.get("growth") or {}).values()
        if figures["measured_at"] >= results["machine"]["started_at"] and figures["seed_seconds"]
    ]
    return f", {max(seeded) / 60:.1f} min of it seeding" if seeded else ""


def render(results: dict) -> str:
    machine = results["machine"]
    options = results["options"]
    ratios = key_ratios(results)
    load = ", ".join(f"{value:.2f}" for value in machine["load_average"])
    lines = [
        f"# Benchmark, {machine['started_at']}",
        "",
        f"- revision {machine['revision']}; `make bench` took {results['wall_seconds'] / 60:.1f} "
        f"min{_growth_note(results)} (after {results.get('lock_wait_seconds', 0):.0f} s waiting "
        "for the drills' lock)",
        f"- machine: {machine['cores']} cores (nproc); load average before the run: {load}; "
        f"{machine['cgroup_fs']}",
        f"- cluster: {options['replicas']} app replicas (gunicorn, 2 workers of 4 threads each) "
        f"behind nginx, PostgreSQL primary + streaming replica, Redis, Celery; "
        f"{results['products']:,} products; `RATELIMIT_ENABLE=0`",
        f"- load: Locust, {options['users']} users, closed loop, each at most {PER_USER_RATE} "
        "requests/s from "
        "a loopback address of its own (nginx allows 50/s per address); floor and ceiling "
        f"{options['seconds']} s each, the Shopper mix {options['shopper_seconds']} s",
        f"- {LOOPBACK_NOTE}",
        "",
        "## Throughput and latency",
        "",
        f"- floor (`/healthz`): {ratios['floor_rps']:.0f} req/s; ceiling (static file): "
        f"{ratios['ceiling_rps']:.0f} req/s ({ratios['ceiling_over_floor']:.2f}{TIMES} floor; "
        f"at least: the users' pacing caps any phase at {options['users'] * PER_USER_RATE} "
        "req/s)",
        f"- the Shopper mix: {ratios['shopper_rps']:.0f} req/s "
        f"({ratios['shopper_over_floor']:.2f}{TIMES} floor)",
        f"- catalog cache hit ratio: {cache_line(results)}",
        "",
        endpoint_table(results),
        "",
        "Errors are Locust failures (any status it did not expect); a 409 for a product that "
        "sold out is expected and counted apart (`[409 sold out]`). Latencies include queueing "
        "at each phase's own throughput: the floor's p50 was taken at the floor's rate, so "
        f"`p50 {TIMES} floor` below 1 means the endpoint answered faster inside the mix (mostly "
        "from nginx's micro-cache or Redis) than /healthz did under its own, higher, load.",
        "",
        "![latency per endpoint](latency.png)",
        "",
        "## Flash sale",
        "",
        *flash_lines(results),
        "",
    ]
    scaling = results.get("scaling")
    lines += ["## Horizontal scaling", ""]
    if scaling:
        lines += [
            f"The Shopper mix, {options['users']} users, {options['scale_seconds']} s per run, "
            f"{scaling.get('products', results['products']):,} products "
            "(statistics reset once all users are spawned; the accounts of the run above are "
            "reused, so no run spends its quota on Argon2). "
            f"CPU limit: {scaling['cgroups']}, "
            f"{scaling['quota']}; PostgreSQL, Redis, nginx and Locust are not limited.",
            "",
            scaling_table(scaling),
            "",
            "![throughput against replicas](scaling.png)",
            "",
        ]
    else:
        lines += ["Not run (`--skip-scaling`).", ""]
    lines += [
        "## Growth with data",
        "",
        "One client, back to back through nginx, 50 requests per endpoint, each URL distinct "
        "(page numbers, page sizes, search terms) after a catalog version bump, so every "
        "answer comes from the database (a streaming replica), not a cache.",
        "",
    ]
    growth = results.get("growth") or {}
    if growth:
        lines += [growth_table(growth), ""]
        if len(growth) == 1:
            lines += [
                "Only this size has been measured: `make bench GROWTH=1` seeds 1,000,000 "
                "products (minutes) and measures again.",
                "",
            ]
        lines += ["![latency by catalog size](growth.png)", ""]
    return "\n".join(lines)


def write_report(folder: Path, results: dict) -> Path:
    latency_chart(results, folder / "latency.png")
    if results.get("scaling"):
        scaling_chart(results["scaling"], folder / "scaling.png")
    if results.get("growth"):
        growth_chart(results["growth"], folder / "growth.png")
    path = folder / "report.md"
    path.write_text(render(results))
    return path


def publish(folder: Path) -> Path:
    """Copy the report and its charts to docs/bench/ (committed; the README links to it)."""
    PUBLISHED.mkdir(parents=True, exist_ok=True)
    for old in PUBLISHED.glob("*.png"):
        old.unlink()
    for name in ("report.md", "latency.png", "scaling.png", "growth.png"):
        if (folder / name).exists():
            shutil.copy2(folder / name, PUBLISHED / name)
    return PUBLISHED / "report.md"


if __name__ == "__main__":
    import json

    run_folder = Path(sys.argv[1])
    print(write_report(run_folder, json.loads((run_folder / "results.json").read_text())))
