"""Benchmark the cart against a bare Django view: requests/s and latency, never pass or fail.

What it measures. C virtual users (one process each, so the client is not held back by one
GIL) each register an account and then, phase by phase, send requests back to back over their
own connection, bounded by a request count and a wall-clock cap per phase:

1. ``GET /healthz``: a JsonResponse touching neither the database nor the cache, the floor that
   Django, gunicorn and this client cost on their own;
2. ``GET /api/v1/products/?page_size=24``: a catalog page, for context;
3. ``POST /api/v1/cart/items/``: add one unit of a product (cycling over a few well-stocked ones);
4. ``GET /api/v1/cart/``: read the cart those adds filled.

Each phase reports the 2xx responses per second of wall time, and p50/p95/p99 latency (ms,
``time.perf_counter`` around each request, 2xx only). Other statuses and connection failures
are counted as errors. Every phase runs on the same gunicorn, workers and client, so:

- ``req/s x floor`` is the phase's throughput over /healthz's: 0.60x means the endpoint's own work
  leaves 60 % of what a bare Django view manages on this box;
- ``p50 x floor`` is its median latency over /healthz's: 3x means the endpoint's work costs
  twice what the request round trip itself costs.

Ratios travel between machines much better than absolute figures; the client and the server
share the same cores, so the absolute numbers understate a server that has a box of its own.
gunicorn's sync workers close the connection after each response, so every request (the floor's
too) pays a loopback TCP connect; the client reconnects by itself.

``--serve`` (the default without ``--url``) builds everything on loopback: a fresh PostgreSQL
database, Redis database 3 flushed, migrations, a seeded catalog and gunicorn; it stops gunicorn
and drops the database afterwards. ``--url`` benchmarks a server that is already running.
The table goes to stdout and to ``bench/results/cart-<timestamp>.md``; progress goes to stderr.
"""

import argparse
import contextlib
import http.client
import http.cookies
import json
import math
import multiprocessing
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import IO, NamedTuple
from urllib.parse import urlsplit

import redis

REPOSITORY = Path(__file__).resolve().parent.parent
RESULTS_DIRECTORY = Path(__file__).resolve().parent / "results"
LOOPBACK = "127.0.0.1"
POSTGRES_ADMIN = ("psql", "-h", LOOPBACK, "-p", "5432", "-U", "postgres", "-d", "postgres")
BENCH_DATABASE = "shop_bench"
BENCH_ENVIRONMENT = {
    "DATABASE_URL": f"postgres://postgres@{LOOPBACK}:5432/{BENCH_DATABASE}",
    "REDIS_URL": f"redis://{LOOPBACK}:6379/3",
    # Caps high enough that a whole run of adds never meets them.
    "CART_LINE_MAX_QUANTITY": "1000000",
    "CART_MAX_LINES": "1000",
}

DEFAULT_WORKERS = 2
DEFAULT_USERS = 8
DEFAULT_REQUESTS = 250
DEFAULT_SECONDS = 20.0
DEFAULT_PRODUCTS = 2000

MIN_STOCK = 200  # products the adds cycle over keep this many units, so adds never run out
CART_LINES = 20  # distinct products per cart, so the cart read reads a cart of this size
PRODUCT_PAGES = 3
REQUEST_TIMEOUT = 10.0
STARTUP_TIMEOUT = 30.0
SETUP_TIMEOUT = 60.0  # registration and process start, before the first phase
STOP_TIMEOUT = 10.0
WARM_UP_REQUESTS = 20  # per read path, so the first measured requests meet warm workers and cache
HEX_TO_LETTERS = str.maketrans("0123456789abcdef", "ghijklmnopqrstuv")
TIMES = "\N{MULTIPLICATION SIGN}"  # in the ratio columns, as in "0.62x floor"


class BenchError(Exception):
    """A run that cannot go on: its message is for the person running the benchmark."""


@dataclass(frozen=True)
class Phase:
    label: str
    method: str
    path: str
    adds_to_cart: bool = False


PHASES = (
    Phase("GET /healthz (floor)", "GET", "/healthz"),
    Phase("GET /api/v1/products/?page_size=24", "GET", "/api/v1/products/?page_size=24"),
    Phase("POST /api/v1/cart/items/", "POST", "/api/v1/cart/items/", adds_to_cart=True),
    Phase("GET /api/v1/cart/", "GET", "/api/v1/cart/"),
)


@dataclass(frozen=True)
class Load:
    """What every virtual user does: where, how many requests and how long per phase."""

    host: str
    port: int
    requests: int
    seconds: float
    product_pks: tuple[int, ...]


@dataclass
class Sample:
    """One user's run of one phase."""

    phase: int
    latencies: list[float] = field(default_factory=list)
    failures: Counter[int] = field(default_factory=Counter)  # status (0: no response) -> count
    started: float = 0.0
    finished: float = 0.0
    unavailable: str | None = None


class Response(NamedTuple):
    status: int  # 0 when no response came back
    body: bytes
    seconds: float


class Client:
    """One virtual user's connection: a token once signed up, else a session cookie jar."""

    def __init__(self, host: str, port: int) -> None:
        self._connection = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT)
        self._headers = {"Accept": "application/json", "Content-Type": "application/json"}
        self._cookies: dict[str, str] | None = {}

    def use_token(self, token: str) -> None:
        # A token client sends no cookies: a session cookie would make DRF demand a CSRF token.
        self._headers["Authorization"] = f"Token {token}"
        self._cookies = None

    def send(self, method: str, path: str, payload: dict | None = None) -> Response:
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {**self._headers, **self._cookie_headers(method)}
        started = time.perf_counter()
        try:
            self._connection.request(method, path, body=body, headers=headers)
            response = self._connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException):
            self._connection.close()  # the next request opens a new connection
            return Response(0, b"", time.perf_counter() - started)
        seconds = time.perf_counter() - started
        self._keep_cookies(response.headers.get_all("Set-Cookie") or [])
        return Response(response.status, content, seconds)

    def close(self) -> None:
        self._connection.close()

    def _cookie_headers(self, method: str) -> dict[str, str]:
        if not self._cookies:
            return {}
        headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in self._cookies.items())}
        if method != "GET" and "csrftoken" in self._cookies:
            headers["X-CSRFToken"] = self._cookies["csrftoken"]
        return headers

    def _keep_cookies(self, set_cookies: list[str]) -> None:
        if self._cookies is None:
            return
        for line in set_cookies:
            jar = http.cookies.SimpleCookie()
            jar.load(line)
            for name, morsel in jar.items():
                if morsel.value and morsel["max-age"] != "0":
                    self._cookies[name] = morsel.value
                else:
                    self._cookies.pop(name, None)


# --- The virtual users (each in its own process) ---------------------------------------------


def sign_up(client: Client) -> str:
    """Register a fresh account and use its token; say how this user is authenticated."""
    # Letters only before the @: a hex e-mail and a hex password are at times "too similar".
    name = uuid.uuid4().hex.translate(HEX_TO_LETTERS)
    response = client.send(
        "POST",
        "/api/v1/auth/register/",
        {"email": f"shopper-{name}@bench.example", "password": f"bench-{uuid.uuid4()}"},
    )
    with contextlib.suppress(ValueError, KeyError, TypeError):
        answer = json.loads(response.body)
        if response.status == 201:
            client.use_token(answer["token"])
            return "token"
        return f"anonymous session (register: {response.status} {answer['code']})"
    return f"anonymous session (register: {response.status or 'no response'})"


def run_phase(client: Client, number: int, load: Load, user: int) -> Sample:
    """Send the phase's requests back to back until the count or the time cap is reached."""
    phase = PHASES[number]
    sample = Sample(phase=number, started=time.perf_counter())
    if phase.adds_to_cart and not load.product_pks:
        sample.unavailable = f"no product with {MIN_STOCK}+ units in stock"
        sample.finished = sample.started
        return sample
    deadline = sample.started + load.seconds
    for count in range(load.requests):
        if time.perf_counter() >= deadline:
            break
        payload = None
        if phase.adds_to_cart:
            product_pk = load.product_pks[(user + count) % len(load.product_pks)]
            payload = {"product_id": product_pk, "quantity": 1}
        response = client.send(phase.method, phase.path, payload)
        if count == 0 and response.status == 404:
            sample.unavailable = "not available (404)"
            break
        if 200 <= response.status < 300:
            sample.latencies.append(response.seconds)
        else:
            sample.failures[response.status] += 1
    sample.finished = time.perf_counter()
    return sample


def run_user(user: int, load: Load, barrier: Barrier, results: multiprocessing.Queue) -> None:
    """Sign up, then run each phase in step with the other users; report on `results`."""
    client = Client(load.host, load.port)
    results.put(("auth", sign_up(client)))
    try:
        for number in range(len(PHASES)):
            barrier.wait(timeout=SETUP_TIMEOUT if number == 0 else load.seconds + SETUP_TIMEOUT)
            results.put(("sample", run_phase(client, number, load, user)))
    except threading.BrokenBarrierError:
        return  # another user died or stalled; the main process reports what came back
    finally:
        client.close()


# --- Driving the users and reading their results ---------------------------------------------


@dataclass(frozen=True)
class PhaseResult:
    phase: Phase
    latencies: list[float]  # sorted, seconds
    failures: Counter[int]
    seconds: float
    unavailable: str | None

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, percent: float) -> float:
        """Nearest-rank percentile of the 2xx latencies, in milliseconds."""
        if not self.latencies:
            return math.nan
        rank = max(math.ceil(percent / 100 * len(self.latencies)), 1)
        return self.latencies[rank - 1] * 1000


def run_load(load: Load, users: int) -> tuple[list[PhaseResult], Counter[str]]:
    """Run every phase with `users` processes; return each phase's result and the auth modes."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(users)
    results = context.Queue()
    processes = [
        context.Process(target=run_user, args=(user, load, barrier, results), daemon=True)
        for user in range(users)
    ]
    for process in processes:
        process.start()
    try:
        messages = _collect(results, processes, expected=users * (1 + len(PHASES)), load=load)
    finally:
        for process in processes:
            process.join(timeout=STOP_TIMEOUT)
            if process.is_alive():
                process.terminate()
    auth = Counter(value for kind, value in messages if kind == "auth")
    samples = [value for kind, value in messages if kind == "sample"]
    return [_summarise(number, samples) for number in range(len(PHASES))], auth


def _collect(
    results: multiprocessing.Queue,
    processes: list[multiprocessing.Process],
    *,
    expected: int,
    load: Load,
) -> list[tuple[str, object]]:
    deadline = time.monotonic() + SETUP_TIMEOUT + len(PHASES) * (load.seconds + SETUP_TIMEOUT)
    messages: list[tuple[str, object]] = []
    while len(messages) < expected and time.monotonic() < deadline:
        try:
            messages.append(results.get(timeout=1.0))
        except queue.Empty:
            if not any(process.is_alive() for process in processes):
                break
    return messages


def _summarise(number: int, samples: list[Sample]) -> PhaseResult:
    mine = [sample for sample in samples if sample.phase == number]
    failures: Counter[int] = Counter()
    for sample in mine:
        failures.update(sample.failures)
    ran = [sample for sample in mine if sample.unavailable is None]
    unavailable = None
    if not mine:
        unavailable = "no result (a user process failed)"
    elif not ran:
        unavailable = mine[0].unavailable
    seconds = max(s.finished for s in ran) - min(s.started for s in ran) if ran else 0.0
    return PhaseResult(
        phase=PHASES[number],
        latencies=sorted(latency for sample in ran for latency in sample.latencies),
        failures=failures,
        seconds=seconds,
        unavailable=unavailable,
    )


def well_stocked_products(host: str, port: int) -> tuple[int, ...]:
    """Return up to CART_LINES product pks with MIN_STOCK+ units, priciest first."""
    client = Client(host, port)
    found: list[int] = []
    try:
        for page in range(1, PRODUCT_PAGES + 1):
            path = f"/api/v1/products/?in_stock=true&ordering=-price&page_size=100&page={page}"
            response = client.send("GET", path)
            if response.status != 200:
                if page == 1:
                    raise BenchError(f"GET {path} answered {response.status or 'nothing'}")
                break
            listing = json.loads(response.body)
            found += [item["id"] for item in listing["results"] if item["stock"] >= MIN_STOCK]
            if len(found) >= CART_LINES or not listing.get("next"):
                break
    finally:
        client.close()
    return tuple(found[:CART_LINES])


def warm_up(host: str, port: int) -> None:
    """Send a few unmeasured requests down each read path: imports, connections, cache."""
    client = Client(host, port)
    try:
        for phase in PHASES:
            if phase.method == "GET":
                for _ in range(WARM_UP_REQUESTS):
                    client.send(phase.method, phase.path)
    finally:
        client.close()


# --- The report ------------------------------------------------------------------------------


def _ratio(value: float, floor: float) -> str:
    if not floor or math.isnan(value) or math.isnan(floor):
        return "n/a"
    return f"{value / floor:.2f}{TIMES}"


def _errors(failures: Counter[int]) -> str:
    total = sum(failures.values())
    if not total:
        return "0"
    detail = ", ".join(
        f"{status or 'no response'}: {count}" for status, count in sorted(failures.items())
    )
    return f"{total} ({detail})"


def render_table(results: list[PhaseResult]) -> str:
    floor = results[0]
    floor_p50 = floor.percentile_ms(50)
    lines = [
        f"| endpoint | requests | errors | req/s | req/s {TIMES} floor "
        f"| p50 ms | p95 ms | p99 ms | p50 {TIMES} floor |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        if result.unavailable:
            lines.append(f"| {result.phase.label} | {result.unavailable} |" + " |" * 7)
            continue
        p50 = result.percentile_ms(50)
        lines.append(
            f"| {result.phase.label} | {len(result.latencies)} | {_errors(result.failures)} "
            f"| {result.requests_per_second:.0f} "
            f"| {_ratio(result.requests_per_second, floor.requests_per_second)} "
            f"| {p50:.1f} | {result.percentile_ms(95):.1f} | {result.percentile_ms(99):.1f} "
            f"| {_ratio(p50, floor_p50)} |"
        )
    return "\n".join(lines)


def _revision() -> str:
    def git(*args: str) -> str:
        run = subprocess.run(["git", *args], cwd=REPOSITORY, capture_output=True, text=True)
        return run.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return f"{commit} (with uncommitted changes)" if git("status", "--porcelain") else commit


def render_report(
    *,
    results: list[PhaseResult],
    auth: Counter[str],
    target: str,
    workers: str,
    load: float,
    options: argparse.Namespace,
) -> str:
    users = ", ".join(f"{count} {TIMES} {mode}" for mode, count in auth.most_common()) or "none"
    return "\n".join(
        [
            f"# Cart benchmark, {datetime.now().astimezone().isoformat(timespec='seconds')}",
            "",
            f"- target: {target}; revision {_revision()}",
            f"- cores (nproc): {os.cpu_count()}; gunicorn workers (W): {workers}; "
            f"virtual users (C): {options.users}, one process each; "
            f"1-minute load average before the run: {load:.2f}",
            f"- per user and phase: at most {options.requests} requests and "
            f"{options.seconds:g} s; users authenticated as: {users}",
            "- client and server share the same cores: read the ratios to /healthz, not the "
            "absolute figures; req/s and latencies count 2xx responses only",
            "",
            render_table(results),
            "",
        ]
    )


def write_report(report: str) -> Path:
    RESULTS_DIRECTORY.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIRECTORY / f"cart-{datetime.now().astimezone():%Y%m%d-%H%M%S}.md"
    path.write_text(report)
    return path


# --- A local server (--serve) ----------------------------------------------------------------


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run(command: list[str] | tuple[str, ...], *, env: dict[str, str] | None = None) -> None:
    run = subprocess.run(command, cwd=REPOSITORY, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        output = (run.stderr or run.stdout).strip().splitlines()[-10:]
        raise BenchError(f"{' '.join(command)} failed:\n" + "\n".join(output))


def _postgres(sql: str) -> None:
    _run([*POSTGRES_ADMIN, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])


def _drop_database() -> None:
    _postgres(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def _wait_until_healthy(port: int, server: subprocess.Popen, log: IO[str]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        client = Client(LOOPBACK, port)
        status = client.send("GET", "/healthz").status
        client.close()
        if status == 200:
            return
        time.sleep(0.2)
    log.seek(0)
    tail = "\n".join(log.read().splitlines()[-15:])
    raise BenchError(f"gunicorn did not answer /healthz on port {port}:\n{tail}")


@contextlib.contextmanager
def _gunicorn(env: dict[str, str], *, workers: int, port: int) -> Iterator[None]:
    with tempfile.TemporaryFile("w+") as log:
        command = [sys.executable, "-m", "gunicorn", "config.wsgi"]
        command += ["--workers", str(workers), "--bind", f"{LOOPBACK}:{port}"]
        server = subprocess.Popen(command, cwd=REPOSITORY, env=env, stdout=log, stderr=log)
        try:
            _wait_until_healthy(port, server, log)
            yield
        finally:
            server.terminate()
            try:
                server.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@contextlib.contextmanager
def local_server(*, workers: int, port: int, products: int) -> Iterator[None]:
    """Serve a freshly seeded shop on loopback; stop it and drop its database afterwards."""
    env = {**os.environ, **BENCH_ENVIRONMENT}
    _say(f"Creating database {BENCH_DATABASE} and flushing Redis db 3")
    _drop_database()
    _postgres(f"CREATE DATABASE {BENCH_DATABASE}")
    try:
        redis.Redis.from_url(BENCH_ENVIRONMENT["REDIS_URL"]).flushdb()
        _say(f"Migrating and seeding {products} products")
        _run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env=env)
        _run([sys.executable, "manage.py", "seed_catalog", "--products", str(products)], env=env)
        _say(f"Starting gunicorn with {workers} workers on {LOOPBACK}:{port}")
        with _gunicorn(env, workers=workers, port=port):
            yield
    finally:
        _say(f"Dropping database {BENCH_DATABASE}")
        _drop_database()


# --- Command line ----------------------------------------------------------------------------


def parse_options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark cart reads and adds against /healthz on the same server."
    )
    parser.add_argument("--url", help="an already running server, e.g. http://127.0.0.1:8000")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="start a seeded server on loopback (the default without --url)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help=f"gunicorn workers with --serve (default {DEFAULT_WORKERS}); with --url, reported",
    )
    parser.add_argument("--users", type=int, default=DEFAULT_USERS, help="virtual users (C)")
    parser.add_argument(
        "--requests",
        type=int,
        default=DEFAULT_REQUESTS,
        help="most requests per user and phase",
    )
    parser.add_argument(
        "--seconds", type=float, default=DEFAULT_SECONDS, help="most seconds per phase"
    )
    parser.add_argument("--port", type=int, help="port for --serve (default: a free one)")
    parser.add_argument(
        "--products", type=int, default=DEFAULT_PRODUCTS, help="catalog size seeded by --serve"
    )
    options = parser.parse_args(argv)
    if options.url and options.serve:
        parser.error("--url and --serve exclude each other")
    for name in ("users", "requests", "seconds", "products"):
        if getattr(options, name) <= 0:
            parser.error(f"--{name} must be more than 0")
    if options.url:
        url = urlsplit(options.url)
        if (
            url.scheme != "http"
            or url.hostname not in (LOOPBACK, "localhost")
            or url.path.strip("/")
        ):
            parser.error("--url must be http://127.0.0.1:PORT or http://localhost:PORT")
    return options


def benchmark(
    host: str, port: int, options: argparse.Namespace
) -> tuple[list[PhaseResult], Counter[str]]:
    _say(f"Finding {CART_LINES} products with {MIN_STOCK}+ units in stock")
    load = Load(
        host=host,
        port=port,
        requests=options.requests,
        seconds=options.seconds,
        product_pks=well_stocked_products(host, port),
    )
    warm_up(host, port)
    _say(f"Running {len(PHASES)} phases with {options.users} users, {options.seconds:g} s at most")
    return run_load(load, options.users)


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    load = os.getloadavg()[0]  # other work on the box skews every figure
    try:
        if options.url:
            url = urlsplit(options.url)
            host, port = url.hostname or LOOPBACK, url.port or 80
            results, auth = benchmark(host, port, options)
            workers = str(options.workers) if options.workers else "unknown (--url)"
            target = options.url
        else:
            port = options.port or _free_port()
            workers = str(options.workers or DEFAULT_WORKERS)
            with local_server(workers=int(workers), port=port, products=options.products):
                results, auth = benchmark(LOOPBACK, port, options)
            target = f"local gunicorn on PostgreSQL + Redis, {options.products} products"
    except BenchError as error:
        _say(f"bench: {error}")
        return 1
    report = render_report(
        results=results, auth=auth, target=target, workers=workers, load=load, options=options
    )
    print(report)
    _say(f"Written to {write_report(report).relative_to(REPOSITORY)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
