"""The HA deployment's files (issue 13), rendered from deploy/ha/topology.toml without namespaces.

What `make ha` starts is only as right as these: every address comes from the topology, so the
same templates serve three real machines once the addresses change.
"""

from __future__ import annotations

import configparser
import copy
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import environ
import pytest
import yaml

from ha import configs, swarm
from ha.paths import ROOT, TOPOLOGY_FILE
from ha.topology import TopologyError, load, parse

SECRETS = {"superuser": "s3cret", "replication": "r3pl"}


@pytest.fixture
def data() -> dict:
    return tomllib.loads(TOPOLOGY_FILE.read_text())


@pytest.fixture
def topology():
    return load()


def render_all(topology) -> dict[str, str]:
    files = {}
    for host in topology.hosts_with("balancer"):
        files[f"{host.name}/haproxy.cfg"] = configs.haproxy_config(
            topology, host, pidfile=Path("/run/haproxy.pid")
        )
        files[f"{host.name}/keepalived.conf"] = configs.keepalived_config(
            topology, host, check=Path("/etc/keepalived/haproxy-alive.sh")
        )
        files[f"{host.name}/haproxy-alive.sh"] = configs.haproxy_check_script(topology, host)
    for host in topology.hosts_with("redis"):
        files[f"{host.name}/redis.conf"] = configs.redis_config(
            topology, host, pidfile=Path("/run/redis.pid"), directory=Path("/var/redis")
        )
    for host in topology.hosts_with("sentinel"):
        files[f"{host.name}/sentinel.conf"] = configs.sentinel_config(
            topology, host, pidfile=Path("/run/sentinel.pid"), directory=Path("/var/sentinel")
        )
    for host in topology.hosts_with("app"):
        files[f"{host.name}/pgbouncer.ini"] = configs.pgbouncer_config(
            topology,
            host,
            pidfile=Path("/run/pgbouncer.pid"),
            logfile=Path("/var/log/pgbouncer.log"),
            auth_file=Path("/etc/pgbouncer/userlist.txt"),
        )
    for host in topology.hosts:
        files[f"{host.name}/etcd.yml"] = configs.etcd_config(
            topology, host, data_dir=Path("/var/etcd")
        )
        files[f"{host.name}/patroni.yml"] = configs.patroni_config(
            topology,
            host,
            data_dir=Path("/var/pg/data"),
            bin_dir=Path("/usr/lib/postgresql/17/bin"),
            socket_dir=Path(f"/run/{host.name}"),
            pgpass=Path("/var/pg/pgpass"),
            secrets=SECRETS,
        )
    return files


def test_the_shipped_topology_has_three_hosts_with_every_role_placed(topology):
    assert [host.name for host in topology.hosts] == ["shop-h1", "shop-h2", "shop-h3"]
    assert [host.address for host in topology.hosts] == ["10.77.0.11", "10.77.0.12", "10.77.0.13"]
    assert topology.bridge == "shop-br0"
    assert topology.gateway == "10.77.0.1"
    assert len(topology.hosts_with("etcd")) == 3
    assert len(topology.hosts_with("postgres")) == 3
    assert [host.name for host in topology.hosts_with("app")] == ["shop-h2", "shop-h3"]
    assert (topology.patroni.ttl, topology.patroni.loop_wait, topology.patroni.retry_timeout) == (
        20,
        2,
        5,
    )


def test_patroni_yml_is_valid_yaml_with_the_hosts_addresses_and_synchronous_replication(
    topology,
):
    host = topology.host("shop-h2")
    config = yaml.safe_load(render_all(topology)["shop-h2/patroni.yml"])
    assert config["name"] == "shop-h2"
    assert config["restapi"]["connect_address"] == "10.77.0.12:28008"
    assert config["postgresql"]["connect_address"] == f"{host.address}:25432"
    assert config["etcd3"]["hosts"] == "10.77.0.11:22379,10.77.0.12:22379,10.77.0.13:22379"
    dcs = config["bootstrap"]["dcs"]
    assert dcs["synchronous_mode"] is True
    assert dcs["synchronous_mode_strict"] is True
    assert (dcs["ttl"], dcs["loop_wait"], dcs["retry_timeout"]) == (20, 2, 5)
    assert config["postgresql"]["bin_dir"] == "/usr/lib/postgresql/17/bin"
    # Each host its own socket directory, and passwords on the network, trust only locally.
    assert config["postgresql"]["parameters"]["unix_socket_directories"] == "/run/shop-h2"
    assert "host all all 10.77.0.0/24 scram-sha-256" in config["postgresql"]["pg_hba"]
    assert config["postgresql"]["authentication"]["replication"]["password"] == "r3pl"


def test_etcd_yml_names_all_three_members_and_turns_on_what_patroni_needs(topology):
    config = yaml.safe_load(render_all(topology)["shop-h1/etcd.yml"])
    assert config["initial-cluster"] == (
        "shop-h1=http://10.77.0.11:22380,shop-h2=http://10.77.0.12:22380,"
        "shop-h3=http://10.77.0.13:22380"
    )
    assert config["listen-peer-urls"] == "http://10.77.0.11:22380"
    assert config["enable-grpc-gateway"] is True  # Patroni's etcd3 client; off in a config file
    assert config["pre-vote"] is True


def test_haproxy_checks_patronis_primary_and_replica_endpoints_on_every_database_host(topology):
    text = render_all(topology)["shop-h2/haproxy.cfg"]
    primary, replicas = text.split("listen pg_primary")[1].split("listen pg_replicas")
    # Every address of its host: the floating one too, when keepalived brings it there.
    assert "bind *:25000" in primary
    assert "option httpchk GET /primary" in primary
    assert "bind *:25001" in replicas
    assert "option httpchk GET /replica" in replicas
    for host in topology.hosts:
        server = f"server {host.name} {host.address}:25432 check port 28008"
        assert server in primary
        assert server in replicas
    assert "on-marked-down shutdown-sessions" in primary
    app = text.split("\nbackend app")[1]
    assert "server shop-h2 10.77.0.12:28001 check" in app
    assert "server shop-h3 10.77.0.13:28001 check" in app
    assert "shop-h1 10.77.0.11:28001" not in app
    assert "bind *:28080" in text


def test_every_balancer_host_runs_haproxy_and_keepalived_for_one_floating_address(topology):
    files = render_all(topology)
    balancers = topology.hosts_with("balancer")
    assert [host.name for host in balancers] == ["shop-h1", "shop-h2", "shop-h3"]
    # The same balancer on each (its header names its host).
    sections = {files[f"{h.name}/haproxy.cfg"].split("\nglobal")[1] for h in balancers}
    assert len(sections) == 1
    priorities = []
    for host in balancers:
        text = files[f"{host.name}/keepalived.conf"]
        assert "10.77.0.100/24 dev eth0" in text
        assert "virtual_router_id 100" in text
        assert "nopreempt" in text
        assert f"unicast_src_ip {host.address}" in text
        peers = text.split("unicast_peer {")[1].split("}")[0].split()
        assert sorted(peers) == sorted(h.address for h in balancers if h != host)
        assert 'script "/etc/keepalived/haproxy-alive.sh"' in text
        priorities.append(int(text.split("priority ")[1].split()[0]))
        assert f"/dev/tcp/{host.address}/28080" in files[f"{host.name}/haproxy-alive.sh"]
    assert len(set(priorities)) == len(priorities)  # no tie for the first election
    assert configs.balancer_url(topology) == "http://10.77.0.100:28080"


def test_a_topology_with_one_balancer_or_a_taken_vip_is_refused(data):
    one = copy.deepcopy(data)
    for host in one["hosts"][1:]:
        host["roles"].remove("balancer")
    with pytest.raises(TopologyError, match="balancer needs 2 hosts"):
        parse(one)
    taken = copy.deepcopy(data)
    taken["network"]["vip"] = "10.77.0.12"
    with pytest.raises(TopologyError, match="a host and the vip"):
        parse(taken)


def test_changing_the_addresses_changes_every_file_and_nothing_else_names_one(data):
    """The promise for real machines: addresses live in the topology only."""
    moved = copy.deepcopy(data)
    moved["network"].update(
        {"subnet": "192.168.50.0/24", "gateway": "192.168.50.1", "vip": "192.168.50.100"}
    )
    for number, host in enumerate(moved["hosts"], start=21):
        host["address"] = f"192.168.50.{number}"
    files = render_all(parse(moved))
    for name, text in files.items():
        assert "10.77." not in text, name
    assert "192.168.50.21:22380" in files["shop-h1/etcd.yml"]
    assert "server shop-h3 192.168.50.23:25432" in files["shop-h1/haproxy.cfg"]
    assert "192.168.50.100/24 dev eth0" in files["shop-h3/keepalived.conf"]
    assert "bind 192.168.50.21" in files["shop-h1/redis.conf"]
    assert "replicaof 192.168.50.21 26379" in files["shop-h3/redis.conf"]
    assert "sentinel monitor shop 192.168.50.21 26379 2" in files["shop-h2/sentinel.conf"]
    assert "host=192.168.50.100 port=25000" in files["shop-h2/pgbouncer.ini"]


def test_manage_py_reaches_the_leader_and_the_replicas_through_haproxy(topology):
    environment = configs.app_environment(topology, SECRETS, replica="manage")
    primary = environ.Env.db_url_config(environment["DATABASE_URL"])
    assert (primary["HOST"], primary["PORT"], primary["NAME"]) == ("10.77.0.100", 25000, "shop")
    assert primary["PASSWORD"] == "s3cret"
    assert primary["OPTIONS"] == {
        "connect_timeout": 2,
        "tcp_user_timeout": 10000,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
    }
    assert "DATABASE_POOLER" not in environment
    replicas = environ.Env.db_url_config(environment["DATABASE_REPLICA_URLS"])
    assert replicas["PORT"] == 25001
    assert environment["DJANGO_ALLOWED_HOSTS"] == (
        "127.0.0.1,localhost,10.77.0.100,10.77.0.12,10.77.0.13"
    )


def test_an_app_host_reaches_the_leader_through_its_own_pgbouncer(topology):
    host = topology.host("shop-h3")
    environment = configs.app_environment(topology, SECRETS, replica="shop-h3-app", host=host)
    primary = environ.Env.db_url_config(environment["DATABASE_URL"])
    assert (primary["HOST"], primary["PORT"]) == ("10.77.0.13", 26432)
    assert environment["DATABASE_POOLER"] == "transaction"
    replicas = environ.Env.db_url_config(environment["DATABASE_REPLICA_URLS"])
    assert (replicas["HOST"], replicas["PORT"]) == ("10.77.0.100", 25001)


def test_without_the_pooler_an_app_host_reaches_haproxy_directly(topology):
    host = topology.host("shop-h3")
    environment = configs.app_environment(topology, SECRETS, host=host, pooled=False)
    primary = environ.Env.db_url_config(environment["DATABASE_URL"])
    assert (primary["HOST"], primary["PORT"]) == ("10.77.0.100", 25000)
    assert "DATABASE_POOLER" not in environment


def test_every_django_process_finds_redis_and_the_broker_through_the_sentinels(topology):
    environment = configs.app_environment(topology, SECRETS, host=topology.host("shop-h2"))
    assert environment["REDIS_SENTINELS"] == "10.77.0.11:26380,10.77.0.12:26380,10.77.0.13:26380"
    assert environment["REDIS_SENTINEL_MASTER"] == "shop"
    assert (environment["REDIS_DB"], environment["REDIS_SENTINEL_BROKER_DB"]) == ("0", "1")
    assert "REDIS_URL" not in environment
    assert "CELERY_BROKER_URL" not in environment


@pytest.mark.timeout(120)
def test_the_settings_built_from_that_environment_use_sentinel_for_cache_and_broker(topology):
    """config/settings.py read with the HA environment, in a fresh interpreter."""
    environment = configs.app_environment(topology, SECRETS, host=topology.host("shop-h2"))
    script = (
        "from django.conf import settings as s; import json; print(json.dumps(["
        "s.CACHES['default']['OPTIONS']['CLIENT_CLASS'], s.CACHES['default']['LOCATION'],"
        " s.CELERY_BROKER_URL, s.CELERY_BROKER_TRANSPORT_OPTIONS['master_name'],"
        " s.REDIS_WAIT_REPLICAS, s.DATABASES['default']['DISABLE_SERVER_SIDE_CURSORS']]))"
    )
    output = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert json.loads(output) == [
        "django_redis.client.SentinelClient",
        ["redis://shop/0"],
        "sentinel://10.77.0.11:26380/1;sentinel://10.77.0.12:26380/1;sentinel://10.77.0.13:26380/1",
        "shop",
        1,
        True,
    ]


def test_redis_starts_with_a_master_on_the_first_redis_host_and_the_others_replicating(
    topology,
):
    files = render_all(topology)
    assert "\nreplicaof" not in files["shop-h1/redis.conf"]
    for name in ("shop-h2", "shop-h3"):
        text = files[f"{name}/redis.conf"]
        assert "replicaof 10.77.0.11 26379" in text
        assert f"bind {topology.host(name).address}" in text
    assert 'save ""' in files["shop-h1/redis.conf"]  # no persistence: see the template


def test_a_restarted_node_replicates_the_master_it_is_given(topology):
    text = configs.redis_config(
        topology,
        topology.host("shop-h1"),
        pidfile=Path("/run/redis.pid"),
        directory=Path("/var/redis"),
        master_address="10.77.0.13",
    )
    assert "replicaof 10.77.0.13 26379" in text
    text = configs.redis_config(
        topology,
        topology.host("shop-h3"),
        pidfile=Path("/run/redis.pid"),
        directory=Path("/var/redis"),
        master_address="10.77.0.13",
    )
    assert "\nreplicaof" not in text


def test_each_sentinel_watches_the_master_with_a_majority_quorum_and_short_timings(topology):
    for host in topology.hosts_with("sentinel"):
        text = render_all(topology)[f"{host.name}/sentinel.conf"]
        assert f"bind {host.address}\nport 26380\n" in text
        assert "sentinel monitor shop 10.77.0.11 26379 2\n" in text
        assert "sentinel down-after-milliseconds shop 5000\n" in text
        assert "sentinel failover-timeout shop 20000\n" in text


def test_pgbouncer_pools_transactions_on_its_app_host_towards_haproxys_leader_port(topology):
    files = render_all(topology)
    assert set(name for name in files if name.endswith("pgbouncer.ini")) == {
        "shop-h2/pgbouncer.ini",
        "shop-h3/pgbouncer.ini",
    }
    config = configparser.ConfigParser(inline_comment_prefixes=(";",), comment_prefixes=(";",))
    config.read_string(files["shop-h2/pgbouncer.ini"])
    assert config["databases"]["shop"] == "host=10.77.0.100 port=25000 dbname=shop"
    settings = config["pgbouncer"]
    # Every address of its host: the host's own, and docker_gwbridge's gateway for Swarm tasks.
    assert (settings["listen_addr"], settings["listen_port"]) == ("*", "26432")
    assert settings["pool_mode"] == "transaction"
    assert settings["auth_type"] == "scram-sha-256"
    assert int(settings["default_pool_size"]) == configs.PGBOUNCER_POOL_SIZE
    assert configs.pgbouncer_users(SECRETS) == '"postgres" "s3cret"\n'


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["hosts"][0].update(address="10.78.0.11"), "is not a host address"),
        (lambda d: d["hosts"][1].update(address="10.77.0.11"), "share a name or an address"),
        (lambda d: d["hosts"][0].update(name="h1"), "must match shop-"),
        (lambda d: d["hosts"][0].update(roles=["etcd", "mysql"]), "must be some of"),
        (lambda d: d["hosts"].pop(), "odd number of hosts"),
        (lambda d: d["patroni"].update(ttl=10), "ttl >= 20"),
        (lambda d: d["patroni"].update(retry_timeout=10), "loop_wait + 2 * retry_timeout"),
        (lambda d: d["ports"].update(app=25000), "share a port"),
        (lambda d: d["network"].update(gateway="10.1.1.1"), "is not in 10.77.0.0/24"),
        (lambda d: d["network"].update(bridge="br0"), "must match shop-"),
        (lambda d: d["ports"].pop("redis"), "missing ['redis']"),
        (lambda d: [h.update(roles=["etcd", "postgres"]) for h in d["hosts"]], "app role"),
        (lambda d: d["hosts"][2]["roles"].remove("sentinel"), "Sentinel needs an odd number"),
        (lambda d: [h["roles"].remove("redis") for h in d["hosts"][1:]], "Redis needs 2 hosts"),
        (lambda d: d["ports"].update(sentinel=26379), "share a port"),
        (lambda d: d["ports"].pop("pgbouncer"), "missing ['pgbouncer']"),
        (lambda d: d["sentinel"].update(quorum=2), "[sentinel]: unknown ['quorum']"),
    ],
)
def test_a_broken_topology_is_refused_with_what_is_wrong(data, change, message):
    broken = copy.deepcopy(data)
    change(broken)
    with pytest.raises(TopologyError, match=re.escape(message)):
        parse(broken)


def test_an_unreadable_topology_file_says_so(tmp_path):
    bad = tmp_path / "topology.toml"
    bad.write_text("[network\n")
    with pytest.raises(TopologyError, match="not valid TOML"):
        load(bad)
    with pytest.raises(TopologyError, match="cannot read it"):
        load(tmp_path / "missing.toml")


# --- The app tier on Docker Swarm (ha/swarm.py, deploy/ha/swarm/) -----------------------------


@pytest.fixture
def swarm_topology(data):
    """The shipped topology with every host an app node and a swarm manager."""
    changed = copy.deepcopy(data)
    for host in changed["hosts"]:
        host["roles"] = sorted({*host["roles"], "app", "swarm"})
    return parse(changed)


def test_the_stack_runs_web_worker_beat_and_a_balancer_on_the_app_nodes(swarm_topology, tmp_path):
    stack = yaml.safe_load(
        swarm.stack_config(
            swarm_topology,
            image="shop-app:abc",
            env_file=tmp_path / "app.env",
            balancer_cfg=tmp_path / "haproxy.cfg",
        )
    )
    services = stack["services"]
    assert sorted(services) == ["balancer", "beat", "web", "worker"]
    for name, service in services.items():
        assert service["image"] == "shop-app:abc", name
        assert service["deploy"]["placement"]["constraints"] == ["node.labels.shop.app == true"]
        assert service["networks"] == ["shop"], name
    web = services["web"]
    assert web["env_file"] == str(tmp_path / "app.env")
    assert web["deploy"]["endpoint_mode"] == "dnsrr"  # no IPVS for virtual IPs here
    assert web["deploy"]["replicas"] == 3
    update = web["deploy"]["update_config"]
    assert (update["parallelism"], update["order"], update["failure_action"]) == (
        1,
        "start-first",
        "rollback",
    )
    assert "http://127.0.0.1:8000/healthz" in web["healthcheck"]["test"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    beat = services["beat"]
    assert beat["deploy"]["replicas"] == 1
    assert beat["deploy"]["update_config"]["order"] == ("stop-first")
    balancer = services["balancer"]
    assert balancer["deploy"]["mode"] == "global"
    assert balancer["stop_signal"] == "SIGUSR1"  # soft stop: requests in flight finish
    assert balancer["ports"] == [
        {"target": 8080, "published": 28001, "protocol": "tcp", "mode": "host"}
    ]
    assert stack["configs"]["balancer"]["file"] == str(tmp_path / "haproxy.cfg")
    assert stack["networks"]["shop"]["driver"] == "overlay"


@pytest.mark.timeout(120)
def test_the_balancer_finds_web_by_dns_and_haproxy_accepts_its_config(swarm_topology, tmp_path):
    text = swarm.balancer_config(swarm_topology)
    assert "nameserver embedded 127.0.0.11:53" in text
    assert "server-template web 10 tasks.web:8000" in text
    assert "init-addr none" in text
    assert "option redispatch" in text
    if not shutil.which("haproxy"):
        pytest.skip("haproxy is not installed")
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    checked = subprocess.run(["haproxy", "-c", "-f", config], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_containers_get_the_apps_environment_without_the_machines_own(swarm_topology):
    app = configs.app_environment(swarm_topology, SECRETS, replica="swarm")
    environment = swarm.container_environment(swarm_topology, SECRETS)
    for name in ("DATABASE_REPLICA_URLS", "REDIS_SENTINELS", "DJANGO_ALLOWED_HOSTS"):
        assert environment[name] == app[name]
    assert not {"PATH", "HOME", "STATIC_ROOT"} & environment.keys()
    # The leader through the pgbouncer of the task's own node: docker_gwbridge's gateway.
    primary = environ.Env.db_url_config(environment["DATABASE_URL"])
    assert (primary["HOST"], primary["PORT"]) == (swarm.NODE_FROM_A_TASK, 26432)
    assert environment["DATABASE_POOLER"] == "transaction"
    # The broker: database 1 of the Sentinel group, as for every Django process.
    assert environment["REDIS_SENTINEL_BROKER_DB"] == "1"
    assert "CELERY_BROKER_URL" not in environment


def test_the_environment_file_is_readable_by_root_only(tmp_path):
    path = swarm.write_environment_file(tmp_path / "app.env", {"B": "2", "A": "x=y"})
    assert path.read_text() == "A=x=y\nB=2\n"
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_image_gets_the_apps_requirements_and_not_the_tools():
    names = {
        line.split("==")[0].lower()
        for line in swarm.image_requirements().splitlines()
        if "==" in line
    }
    assert {"django", "gunicorn", "celery", "psycopg2-binary", "django-redis"} <= names
    assert "async-timeout" in names  # Debian 12's Python 3.11.2: redis-py needs it there
    assert not {"pytest", "ruff", "locust", "playwright", "schemathesis"} & names


def test_the_build_context_is_the_same_bytes_for_the_same_tree(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "example-1.0-py3-none-any.whl").write_bytes(b"wheel")
    first, second = swarm.build_context(wheels), swarm.build_context(wheels)
    assert first == second
    with tarfile.open(fileobj=io.BytesIO(first)) as archive:
        names = archive.getnames()
    assert {"Dockerfile", "requirements.txt", "wheels/example-1.0-py3-none-any.whl"} <= set(names)
    assert "code/manage.py" in names
    assert "code/config/settings.py" in names
    assert not [n for n in names if n.startswith(("code/var/", "code/.venv/", "code/tests/"))]


def test_the_base_image_comes_from_the_mirror_apt_uses(tmp_path):
    deb822 = tmp_path / "debian.sources"
    deb822.write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n"
    )
    assert swarm.debian_mirror([deb822]) == "http://mirror.example/debian"
    one_line = tmp_path / "sources.list"
    one_line.write_text("# comment\ndeb [arch=amd64] http://other.example/debian bookworm main\n")
    assert swarm.debian_mirror([tmp_path / "missing", one_line]) == "http://other.example/debian"
    with pytest.raises(swarm.SwarmError, match="no Debian mirror"):
        swarm.debian_mirror([tmp_path / "missing"])


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        ({"shop-h1": ["swarm"], "shop-h2": ["swarm"]}, "every app host must be one of its nodes"),
        ({"shop-h2": ["swarm"], "shop-h3": ["swarm"]}, "odd number of hosts (raft)"),
    ],
)
def test_a_swarm_that_cannot_hold_the_app_or_a_quorum_is_refused(data, roles, message):
    broken = copy.deepcopy(data)
    for host in broken["hosts"]:
        host["roles"] += roles.get(host["name"], [])
    with pytest.raises(TopologyError, match=re.escape(message)):
        parse(broken)


def test_waiting_for_a_process_does_not_take_one_look_between_its_wrapper_and_exec_for_an_exit(
    monkeypatch,
):
    from ha import cli, hosts

    # The first look finds the pid without its program (nsenter exec'ing it); then it runs.
    looks = iter([False])
    monkeypatch.setattr(hosts, "pid_of", lambda name: 4242)
    monkeypatch.setattr(hosts, "running", lambda name: next(looks, True))
    readiness = iter([False, True])
    cli.wait_for("etcd on h1", lambda: next(readiness), seconds=5, logs=["h1-etcd"])


def test_waiting_for_a_process_that_stays_gone_reports_its_exit(monkeypatch):
    from ha import cli, hosts

    monkeypatch.setattr(hosts, "pid_of", lambda name: 4242)
    monkeypatch.setattr(hosts, "running", lambda name: False)
    with pytest.raises(cli.HaError, match="h1-etcd exited"):
        cli.wait_for("etcd on h1", lambda: False, seconds=5, logs=["h1-etcd"])
