"""The running HA deployment (`make ha`), from outside: hosts, Patroni, HAProxy, the balancer,
Redis and its sentinels, the Celery workers, pgbouncer.

Left out of `make test` (pyproject's --ignore=tests/ha): `make ha-test` starts the deployment
if it is not up and runs these. The failover itself is `make ha-drills`.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request

import pytest

from drills.load import Shopper, Tally
from ha import cli, hosts, swarm
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


def test_one_redis_master_the_others_in_sync_and_every_sentinel_agrees(topology):
    master = cli.redis_master_address(topology)
    assert master in {host.address for host in topology.hosts_with("redis")}
    for host in topology.hosts_with("redis"):
        info = cli.redis_role(topology, host)
        if host.address == master:
            assert (info["role"], info["connected_slaves"]) == (
                "master",
                str(len(topology.hosts_with("redis")) - 1),
            )
        else:
            assert (info["role"], info["master_host"], info["master_link_status"]) == (
                "slave",
                master,
                "up",
            )
    for host in topology.hosts_with("sentinel"):
        answer = cli.redis_cli(
            host.address,
            topology.ports.sentinel,
            "SENTINEL",
            "get-master-addr-by-name",
            topology.sentinel.master_name,
        )
        assert answer == [master, str(topology.ports.redis)], host.name
    assert cli.redis_healthy(topology)


def test_the_shops_cache_lives_on_the_master_the_sentinels_name(topology):
    """A cart written through the balancer is a hash in database 0 of the current master, and
    the same key on a replica (replicated), never on a node the sentinels do not name."""
    master = topology.host_at(cli.redis_master_address(topology))
    shopper = Shopper(Tally(), base_url=balancer_url(topology))
    product = json.loads(
        urllib.request.urlopen(f"{balancer_url(topology)}/api/v1/products/", timeout=10).read()
    )["results"][0]["id"]
    added = shopper.post("/api/v1/cart/items/", {"product_id": product, "quantity": 3})
    assert added.status == 200
    keys = cli.redis_cli(
        master.address, topology.ports.redis, "-n", "0", "--scan", "--pattern", "*:cart:*"
    )
    holding = [
        key
        for key in keys
        if cli.redis_cli(master.address, topology.ports.redis, "HGET", key, f"q:{product}") == ["3"]
    ]
    assert holding, f"no cart on the master {master.name} holds the line"


def test_celery_workers_on_every_app_host_answer_through_the_sentinel_broker(topology):
    if swarm.enabled(topology):
        pytest.skip("on a swarm the workers are its tasks (tests/ha/test_ha_swarm.py)")
    answering = cli.workers_answering(topology, cli.load_secrets())
    assert answering == set(topology.hosts_with("app"))
    assert hosts.running(f"{cli.beat_host(topology).name}-beat")


def test_each_app_host_pools_its_database_connections_in_pgbouncer(topology):
    if not cli.pooled():
        pytest.skip("up ran with SHOP_HA_POOLER=none: no pgbouncer to look at")
    for host in topology.hosts_with("app"):
        databases = _pgbouncer(topology, host, "SHOW DATABASES")
        row = next(row for row in databases if row[0] == topology.app.database)
        # name, host, port, database, ...
        assert (row[1], row[2], row[3]) == (
            topology.vip,
            str(topology.ports.db_primary),
            topology.app.database,
        )
        config = {row[0]: row[1] for row in _pgbouncer(topology, host, "SHOW CONFIG")}
        assert config["pool_mode"] == "transaction"
        assert config["listen_addr"] == "*"


def _pgbouncer(topology, host, command: str) -> list[list[str]]:
    """Rows of a pgbouncer console command on an app host."""
    psql = ["psql", "-X", "-At", "-h", host.address, "-p", str(topology.ports.pgbouncer)]
    psql += ["-U", cli.DB_USER, "-d", "pgbouncer", "-c", command]
    output = subprocess.run(
        psql,
        env={**os.environ, "PGPASSWORD": cli.load_secrets()["superuser"]},
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    return [line.split("|") for line in output.splitlines()]
