"""The cluster tests talk to nginx on 127.0.0.1:18080 (`make cluster`), never to Django in-process.

They are left out of `make test` (pyproject's --ignore=tests/cluster) and run by
`make cluster-test`, which starts the cluster first.
"""

import urllib.error
import urllib.request

import pytest

from tests.cluster.shopper import NGINX, Shopper
from tests.fixtures import service_unavailable


@pytest.fixture(scope="module", autouse=True)
def cluster() -> None:
    """Require the cluster's nginx to answer; `make cluster-test` starts the cluster first."""
    try:
        with urllib.request.urlopen(f"{NGINX}/healthz", timeout=3) as response:
            healthy = response.status == 200
    except (urllib.error.URLError, OSError):
        healthy = False
    if not healthy:
        service_unavailable("needs the cluster: make cluster")


@pytest.fixture
def shopper() -> Shopper:
    return Shopper()
