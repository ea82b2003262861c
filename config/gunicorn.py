"""gunicorn settings shared by `make run` and the cluster (`--config config/gunicorn.py`)."""

import os

from prometheus_client import multiprocess


def child_exit(server, worker) -> None:
    """Drop a dead worker's live metrics (prometheus_client's multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
