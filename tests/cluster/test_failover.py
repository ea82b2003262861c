"""An app replica dies under a stream of GETs: nginx retries elsewhere, the cluster restarts it."""

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.cluster.shopper import Shopper, cluster_command, cluster_processes

pytestmark = pytest.mark.cluster

VICTIM = "app2"
STREAMS, REQUESTS_EACH = 4, 25


def _kill_replica(pid: int) -> None:
    """SIGKILL a gunicorn master and its workers, as the kernel's OOM killer would."""
    workers = [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _parent_of(entry) == pid
    ]
    for victim in (pid, *workers):
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def _parent_of(proc_entry: Path) -> int | None:
    try:
        return int((proc_entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def test_killing_a_replica_during_a_stream_of_gets_fails_none_and_it_starts_again():
    processes = cluster_processes()
    victim = processes[VICTIM]
    assert victim["state"] == "running", processes
    answers, answered = [], threading.Event()

    def stream() -> None:
        shopper = Shopper()
        for _ in range(REQUESTS_EACH):
            reply = shopper.get("/healthz")
            answers.append((reply.status, reply.headers["X-Upstream"]))
            if len(answers) >= STREAMS * REQUESTS_EACH // 4:
                answered.set()

    threads = [threading.Thread(target=stream) for _ in range(STREAMS)]
    for thread in threads:
        thread.start()
    answered.wait(timeout=30)
    _kill_replica(victim["pid"])
    for thread in threads:
        thread.join(timeout=60)

    assert len(answers) == STREAMS * REQUESTS_EACH
    assert [answer for answer in answers if answer[0] != 200] == []
    assert cluster_processes()[VICTIM]["state"] == "dead"

    restarted = cluster_command("start-app", VICTIM.removeprefix("app"))

    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert cluster_processes()[VICTIM]["state"] == "running"
    time.sleep(0.5)
    assert Shopper().get("/healthz").status == 200
