"""A shopper talking to the cluster's nginx, and the cluster's own commands, for tests/cluster.

Only the standard library's HTTP client.
"""

import gzip
import http.client
import http.cookiejar
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from cluster.cluster import HOST, NGINX_PORT, ROOT

NGINX = f"http://{HOST}:{NGINX_PORT}"

# nginx lets one address make 50 requests a second (nginx/limits.conf): stay below it, so that
# a 429 in a test means something.
REQUESTS_PER_SECOND = 40


class _Pace:
    """Space all the tests' requests out, across threads."""

    def __init__(self, per_second: float):
        self.interval = 1 / per_second
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next)
            self.next = start + self.interval
        time.sleep(max(0.0, start - now))


PACE = _Pace(REQUESTS_PER_SECOND)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


class _KeepErrors(urllib.request.HTTPErrorProcessor):
    """Return 4xx and 5xx answers like any other instead of raising."""

    def http_response(self, request, response):
        return response


class Shopper:
    """One client of the shop through nginx, with its own cookie jar."""

    def __init__(self):
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _KeepErrors()
        )

    def cookie(self, name: str) -> str | None:
        return next((cookie.value for cookie in self.cookies if cookie.name == name), None)

    def request(
        self, method: str, path: str, body=None, headers: dict | None = None, form: bool = False
    ) -> Reply:
        headers = dict(headers or {})
        data = None
        if form:  # a storefront or admin form: the CSRF token as a field
            fields = {**body, "csrfmiddlewaretoken": self.cookie("csrftoken") or ""}
            data = urllib.parse.urlencode(fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = NGINX + path
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method not in ("GET", "HEAD") and self.cookie("csrftoken"):
            headers["X-CSRFToken"] = self.cookie("csrftoken")
        request = urllib.request.Request(NGINX + path, data=data, headers=headers, method=method)
        PACE.wait()
        with self.opener.open(request, timeout=30) as response:
            raw = response.read()
            if response.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            return Reply(response.status, response.headers, raw)

    def get(self, path: str, **kwargs) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body=None, **kwargs) -> Reply:
        return self.request("POST", path, body, **kwargs)

    def post_form(self, path: str, fields: dict[str, str]) -> Reply:
        """Submit a form as a browser does, after loading its page (a redirect is returned)."""
        self.get(path)  # sets the CSRF cookie
        return self.request("POST", path, fields, form=True)


def cluster_command(*arguments: str) -> subprocess.CompletedProcess:
    """Run `python -m cluster.cluster` with this virtualenv's python."""
    return subprocess.run(
        [sys.executable, "-m", "cluster.cluster", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def cluster_processes() -> dict[str, dict]:
    """Every process of the cluster by name: pid, port, state (cluster.py status --json)."""
    return {row["name"]: row for row in json.loads(cluster_command("status", "--json").stdout)}
