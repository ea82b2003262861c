"""The outbox through a real broker (RabbitMQ) and a real Celery worker process."""

import os
import socket
import subprocess
import sys
import time
import uuid

import pytest
from celery import current_app
from kombu import Connection

from orders.models import OutboxEvent
from orders.tests.actions import add_to_cart, order_body
from tests.fixtures import process_environment, service_unavailable

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

BROKER = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


@pytest.fixture
def rabbitmq():
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=0.5).close()
    except OSError:
        service_unavailable("needs RabbitMQ on 127.0.0.1:5672 (guest/guest)")


def _wait_for_consumer(queue: str, process: subprocess.Popen, seconds: float = 90) -> None:
    """Wait until the worker consumes `queue` (RabbitMQ counts its consumers)."""
    deadline = time.monotonic() + seconds
    with Connection(BROKER) as broker:
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                _, _, consumers = broker.default_channel.queue_declare(queue, passive=True)
            except broker.channel_errors:  # not declared yet
                consumers = 0
                broker.close()
            if consumers:
                return
            assert time.monotonic() < deadline, f"no worker on {queue} after {seconds} s"
            time.sleep(0.2)


@pytest.fixture
def worker(postgres, rabbitmq, tmp_path):
    """A Celery worker on its own queue, against the test database; Celery here sends to it."""
    queue = f"shop-test-{uuid.uuid4().hex[:8]}"
    env = process_environment(
        CELERY_BROKER_URL=BROKER,
        CELERY_QUEUE=queue,
        EMAIL_URL=f"filemail:///{tmp_path}",  # django-environ drops one slash
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-Q",
            queue,
            "--hostname",
            f"{queue}@test",
            "--loglevel=WARNING",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _wait_for_consumer(queue, process)
    conf = current_app.conf
    saved = {k: conf[k] for k in ("task_always_eager", "broker_url", "task_default_queue")}
    conf.update(task_always_eager=False, broker_url=BROKER, task_default_queue=queue)
    try:
        yield tmp_path
    finally:
        _stop(process, node=f"{queue}@test")
        conf.update(saved)


def _stop(process: subprocess.Popen, *, node: str) -> None:
    """Stop the worker through its control queue; fall back to SIGTERM, then SIGKILL."""
    # A SIGTERM is only seen when the worker's event loop next wakes, up to 10 s later
    # (kombu's Hub.fire_timers); a control message wakes it at once.
    current_app.control.shutdown(destination=[node])
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.django_db(transaction=True)
def test_a_worker_delivers_an_orders_events_from_the_broker(worker, api_client, lamp):
    add_to_cart(api_client, lamp, 1)
    response = api_client.post("/api/v1/orders/", order_body(), format="json")
    assert response.status_code == 201
    deadline = time.monotonic() + 60
    while OutboxEvent.objects.filter(delivered_at=None).exists():
        assert time.monotonic() < deadline, "the worker did not deliver the event in 60 s"
        time.sleep(0.2)
    sent = [path.read_text() for path in worker.iterdir()]
    assert len(sent) == 1
    assert f"Your order {response.json()['number']} is confirmed" in sent[0]
