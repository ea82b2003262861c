"""gunicorn settings shared by `make run` and the cluster (`--config config/gunicorn.py`)."""

import os

from prometheus_client import multiprocess

# gunicorn's threaded worker, whose 414 for an over-long request line is JSON under /api/ and
# the shop's page elsewhere (shop/server.py). One thread per process unless --threads says more.
worker_class = "shop.server.ShopWorker"
# The longest request line served, in bytes; a longer one is that 414. gunicorn's own default,
# written down: nginx in front refuses lines over 8 KB itself, with the same answers.
limit_request_line = 4094
# The pure-Python parser, whose request line the worker reads when it refuses one.
http_parser = "python"


def child_exit(server, worker) -> None:
    """Drop a dead worker's live metrics (prometheus_client's multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
