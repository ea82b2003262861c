"""The running HA deployment (`make ha`), from outside: hosts, Patroni, HAProxy, the balancer.

Left out of `make test` (pyproject's --ignore=tests/ha): `make ha-test` starts the deployment
if it is not up and runs these. The failover itself is `make ha-drills`.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from ha import cli, hosts
from ha.configs import balancer_url

pytestmark = pytest.mark.ha


@pytest.fixture(scope="module")
def topology():
    if not cli.TOPOLOGY_IN_USE.exists() or not cli.all_running(cli.topology_in_use()):
        pytest.fail("the HA deployment is not up: make ha (or make ha-test)")
    return cli.topology_in_use()


def test_every_host_is_a_namespace_on_the_bridge(topology):
    for host in topology.hosts:
        assert hosts.namespace_exists(host.name)
        assert not hosts.is_cut(host)
        assert host.address in hosts.ip("-n", host.name, "addr", "show", "dev", hosts.IFACE).stdout


def test_one_leader_one_synchronous_standby_the_rest_streaming(topology):
    members = cli.members(topology)
    roles = sorted(member["role"] for member in members)
    assert roles == ["leader", "replica", "sync_standby"]
    assert all(m["state"] == "streaming" for m in members if m["role"] != "leader")


def test_haproxy_sends_writes_to_the_leader_and_reads_to_a_replica(topology):
    leader = topology.host(cli.leader(topology))
    [[address, in_recovery]] = cli.psql(
        topology, "SELECT host(inet_server_addr()), pg_is_in_recovery()"
    )
    assert (address, in_recovery) == (leader.address, "f")
    assert cli.psql(topology, "SHOW synchronous_commit") == [["on"]]
    [[names]] = cli.psql(topology, "SHOW synchronous_standby_names")
    assert names.strip('"') in {host.name for host in topology.hosts} - {leader.name}


def test_the_shop_answers_through_the_balancer_and_on_each_app_host(topology):
    for host in topology.hosts_with("app"):
        url = f"http://{host.address}:{topology.ports.app}/healthz"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
    with urllib.request.urlopen(f"{balancer_url(topology)}/api/v1/products/", timeout=10) as reply:
        assert json.loads(reply.read())["count"] > 0
