"""The app tier on Docker Swarm (ha/swarm.py), live: nodes, services, the balancer, scaling.

Runs with `make ha-test` when the topology gives hosts the "swarm" role (HA_TOPOLOGY); skipped
otherwise. The host cut and the rolling update under load are drills (`python -m ha drills`).
"""

from __future__ import annotations

import time
import urllib.request

import pytest

from ha import cli, swarm
from ha.configs import balancer_url

pytestmark = pytest.mark.ha


@pytest.fixture(scope="module")
def topology():
    if not cli.TOPOLOGY_IN_USE.exists() or not cli.all_running(cli.topology_in_use()):
        pytest.fail("the HA deployment is not up: make ha (or make ha-test)")
    topology = cli.topology_in_use()
    if not swarm.enabled(topology):
        pytest.skip("no host has the swarm role in this topology")
    return topology


def served_by(topology, requests: int) -> list[str]:
    """The web task (X-Served-By) that answered each of that many requests to the balancer."""
    names = []
    for _ in range(requests):
        with urllib.request.urlopen(f"{balancer_url(topology)}/healthz", timeout=10) as reply:
            assert reply.status == 200
            names.append(reply.headers["X-Served-By"])
    return names


def wait_until(ready, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(1)
    return False


def test_every_swarm_host_is_a_ready_manager(topology):
    manager = swarm.manager_host(topology)
    output = swarm.docker(
        manager, "node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.ManagerStatus}}"
    )
    nodes = {line.split()[0]: line.split()[1:] for line in output.splitlines()}
    assert sorted(nodes) == sorted(host.name for host in topology.hosts_with("swarm"))
    assert all(status == "Ready" for status, _manager in nodes.values())
    assert sorted(manager for _status, manager in nodes.values()) == [
        "Leader",
        "Reachable",
        "Reachable",
    ]


def test_the_services_run_on_app_nodes_a_balancer_on_each_and_beat_once(topology):
    app_nodes = {host.name for host in topology.hosts_with("app")}
    for service in ("web", "worker"):
        running = swarm.running_tasks(topology, service)
        assert set(running) <= app_nodes
        assert sum(len(ids) for ids in running.values()) == swarm.services(topology)[service][1]
    assert set(swarm.running_tasks(topology, "balancer")) == app_nodes  # global mode
    beat = swarm.running_tasks(topology, "beat")
    assert sum(len(ids) for ids in beat.values()) == 1


def web_slots(topology) -> set[str]:
    """The running web tasks as the app names itself (SHOP_REPLICA_NAME: web.<slot>)."""
    return {
        f"web.{task['Name'].rsplit('.', 1)[1]}"
        for task in swarm.tasks(topology, "web")
        if task.get("CurrentState", "").startswith("Running")
    }


def test_the_balancer_reaches_every_web_task_by_dns(topology):
    replicas = swarm.services(topology)["web"][1]
    slots = web_slots(topology)
    assert len(slots) == replicas
    assert set(served_by(topology, 12 * replicas)) == slots


def test_containers_reach_the_broker_on_the_gateway(topology):
    host = topology.host(next(iter(swarm.running_tasks(topology, "worker"))))
    [container] = swarm.docker(
        host, "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={swarm.STACK}_worker"
    ).split()[:1]
    output = swarm.docker(
        host, "exec", container, "celery", "-A", "config", "inspect", "ping", timeout=60
    )
    workers = len(topology.hosts_with("app"))
    assert f"{workers} node{'s' if workers > 1 else ''} online" in output


def test_scaling_web_adds_tasks_the_balancer_finds_and_scaling_back_removes_them(topology):
    replicas = swarm.services(topology)["web"][1]
    swarm.scale(topology, web=replicas + 1)
    try:
        assert wait_until(lambda: swarm.healthy_web(topology) == replicas + 1, seconds=90)
        assert wait_until(lambda: len(web_slots(topology)) == replicas + 1, seconds=30)
        more = web_slots(topology)
        assert wait_until(lambda: set(served_by(topology, 40)) == more, seconds=30)
    finally:
        swarm.scale(topology, web=replicas)
    assert wait_until(lambda: len(web_slots(topology)) == replicas, seconds=60)
    # The removed task (Swarm picks which) drops out of the balancer: every request answered,
    # by the remaining tasks only.
    fewer = web_slots(topology)
    assert wait_until(lambda: set(served_by(topology, 30)) == fewer, seconds=15)
