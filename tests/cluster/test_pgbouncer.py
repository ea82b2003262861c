"""The app replicas reach the primary through pgbouncer, which holds few server connections."""

import subprocess
import uuid

from cluster import cluster
from tests.cluster.shopper import Shopper

CONSOLE = [
    "psql",
    "-X",
    "-q",
    "-A",
    "-F",
    "|",
    "-h",
    cluster.HOST,
    "-p",
    str(cluster.PGBOUNCER_PORT),
]
CONSOLE += ["-U", cluster.DB_USER, "-d", "pgbouncer"]
POOL_SIZE = cluster.PGBOUNCER_POOL_SIZE + 5  # and the template's reserve_pool_size


def console(command: str) -> list[dict[str, str]]:
    """Run a pgbouncer console command; its rows as dicts by column name."""
    result = subprocess.run(
        [*CONSOLE, "-P", "footer=off", "-c", command],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    header, *rows = [line.split("|") for line in result.stdout.splitlines() if line]
    return [dict(zip(header, row, strict=True)) for row in rows]


def shop_transactions() -> int:
    stats = {row["database"]: row for row in console("SHOW STATS")}
    return int(stats["shop"]["total_xact_count"])


def test_an_acknowledged_write_went_through_pgbouncer():
    before = shop_transactions()
    email = f"pooled-{uuid.uuid4().hex[:12]}@example.com"
    reply = Shopper().post(
        "/api/v1/auth/register/", {"email": email, "password": "a-pooled-passphrase-7"}
    )
    assert reply.status == 201
    assert shop_transactions() > before


def test_the_replicas_are_pgbouncers_clients_and_it_holds_few_server_connections():
    clients = [row for row in console("SHOW CLIENTS") if row["database"] == "shop"]
    servers = [row for row in console("SHOW SERVERS") if row["database"] == "shop"]
    assert clients, "no app connection goes through pgbouncer"
    assert len(servers) <= POOL_SIZE
