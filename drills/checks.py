"""After a drill: was anything lost? Asked of the primary (psql) and of the shop (HTTP).

Each check returns a `Check`: its name, whether it passed, and a line of evidence for the report.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from cluster.cluster import DB_NAME, DB_USER, HOST, PRIMARY_PORT, ROOT, STATE
from drills.load import NGINX, TIMEOUT, Load, Shopper

MAIL_DIR = STATE / "mail"
PSQL = [shutil.which("psql") or "psql", "-X", "-q", "-At", "-F", "\t"]
PSQL += ["-h", HOST, "-p", str(PRIMARY_PORT), "-U", DB_USER, "-d", DB_NAME]

# The beat re-sender runs every 60 s and leaves an event alone for its first 60 s
# (orders/handlers.py REDELIVERY_DELAY): an event whose send was lost is queued again
# 60 to 120 s after it was created.
DELIVERY_WAIT_SECONDS = 150
# Subjects of orders/handlers.py's e-mails, by purpose. A cash-on-delivery order's
# "confirmation" asks the customer to confirm it (issue 12), as the drills' orders do.
SUBJECTS = {
    "confirmation": "Please confirm your order {number}",
    "shipped": "Your order {number} is on its way",
    "cancelled": "Your order {number} was cancelled",
    "refunded": "Your order {number} was refunded",
    "low_stock": "Low stock after order {number}",
}


@dataclass
class Check:
    name: str
    passed: bool
    evidence: str


def sql(query: str) -> list[list[str]]:
    """Run a query on the primary; return its rows as lists of strings."""
    result = subprocess.run(
        [*PSQL, "-c", query], capture_output=True, text=True, timeout=30, check=True
    )
    return [line.split("\t") for line in result.stdout.splitlines() if line]


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- Orders ---------------------------------------------------------------------------------


def check_orders(load: Load) -> list[Check]:
    """Every order a buyer recorded exists once; no order exists that no buyer learned of."""
    recorded = {key: number for buyer in load.buyers for key, number in buyer.numbers.items()}
    numbers = set(recorded.values())
    in_database = Counter(
        row[0] for row in sql(f"SELECT number FROM orders_order WHERE email = {quote(load.email)}")
    )
    missing = sorted(numbers - set(in_database))
    unknown = sorted(set(in_database) - numbers)
    keys = sql(
        "SELECT k.key, count(*), count(k.order_id), max(o.number), max(k.response_status) "
        "FROM orders_idempotencykey k LEFT JOIN orders_order o ON o.id = k.order_id "
        f"WHERE k.key LIKE {quote(load.key_prefix + '-%')} GROUP BY k.key"
    )
    duplicate_keys = [row[0] for row in keys if int(row[1]) > 1]
    stuck_keys = [row[0] for row in keys if row[4] == ""]  # claimed, never answered
    wrong_keys = [row[0] for row in keys if row[0] in recorded and row[3] != recorded[row[0]]]
    unanswered = [key for buyer in load.buyers for key in buyer.unanswered]
    placed = sum(in_database.values())
    return [
        Check(
            "orders placed",
            len(numbers) > 0,
            f"{len(numbers)} order numbers recorded by {len(load.buyers)} buyers",
        ),
        Check(
            "every recorded order exists exactly once",
            not missing and all(in_database[number] == 1 for number in numbers),
            f"{placed} orders with the drill's e-mail for {len(numbers)} distinct numbers; "
            f"missing {missing[:5]}",
        ),
        Check(
            "no order placed twice or unknown to its buyer",
            not unknown and placed == len(numbers),
            f"orders no buyer was answered with: {unknown[:5]}",
        ),
        Check(
            "one order per Idempotency-Key",
            not duplicate_keys and not wrong_keys and not stuck_keys,
            f"{len(keys)} keys; duplicated {duplicate_keys[:3]}, answered with another order "
            f"{wrong_keys[:3]}, claimed but never answered {stuck_keys[:3]}",
        ),
        Check(
            "every order request was answered",
            not unanswered,
            f"keys still unanswered after {len(unanswered) and 'retrying'}: {unanswered[:3]}"
            if unanswered
            else "every key got a 201 or a definite 4xx",
        ),
    ]


# --- The outbox -----------------------------------------------------------------------------


def _events(order_email: str, *, query=sql) -> list[list[str]]:
    return query(
        "SELECT e.id, o.number, e.kind, e.delivered_at IS NOT NULL, "
        "coalesce(extract(epoch FROM e.delivered_at), 0), extract(epoch FROM e.created_at) "
        "FROM orders_outboxevent e JOIN orders_order o ON o.id = e.order_id "
        f"WHERE o.email = {quote(order_email)} ORDER BY e.id"
    )


def wait_for_delivery(
    order_email: str, *, seconds: float = DELIVERY_WAIT_SECONDS, query=sql
) -> float:
    """Wait until every event of the drill's orders is delivered; return the seconds waited.

    `query` runs SQL on the primary: the cluster's (default), or another deployment's.
    """
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if all(row[3] == "t" for row in _events(order_email, query=query)):
            break
        time.sleep(2)
    return time.monotonic() - started


def _mail_subjects(since: float, mail_dir: Path = MAIL_DIR) -> Counter:
    """Count the subjects of the mail files written since `since` (Django's file backend)."""
    subjects = Counter()
    for path in mail_dir.glob("*.log"):
        if path.stat().st_mtime < since - 1:
            continue
        for text in path.read_text(errors="replace").split("\n" + "-" * 79 + "\n"):
            if text.strip():
                message = email.message_from_string(text.lstrip(), policy=email.policy.default)
                subjects[str(message["Subject"] or "")] += 1
    return subjects


def check_outbox(
    load: Load, *, since: float, waited: float, query=sql, mail_dir: Path = MAIL_DIR
) -> list[Check]:
    """Every event of the drill's orders delivered once: one e-mail per (event, purpose).

    `query` and `mail_dir`: another deployment's primary and mail files than the cluster's.
    """
    events = _events(load.email, query=query)
    undelivered = [f"{row[1]} {row[2]}" for row in events if row[3] != "t"]
    placed_events = [row[0] for row in events if row[2] == "order.placed"]
    sent = query(
        "SELECT s.event_id, s.purpose, count(*), max(o.number) FROM orders_sentemail s "
        "JOIN orders_outboxevent e ON e.id = s.event_id "
        "JOIN orders_order o ON o.id = e.order_id "
        f"WHERE o.email = {quote(load.email)} GROUP BY s.event_id, s.purpose"
    )
    sent_twice = [row for row in sent if int(row[2]) != 1]
    confirmations = {row[0] for row in sent if row[1] == "confirmation"}
    without_confirmation = [pk for pk in placed_events if pk not in confirmations]
    sales = query(
        "SELECT count(*), count(DISTINCT event_id) FROM orders_salerecord "
        f"WHERE event_id IN ({','.join(placed_events) or 'NULL'})"
    )[0]
    subjects = _mail_subjects(since, mail_dir)
    files_off = [
        f"{row[3]} {row[1]}: {subjects[SUBJECTS[row[1]].format(number=row[3])]} files"
        for row in sent
        if row[1] in SUBJECTS and subjects[SUBJECTS[row[1]].format(number=row[3])] != 1
    ]
    return [
        Check(
            "every outbox event delivered",
            bool(events) and not undelivered,
            f"{len(events)} events, {len(undelivered)} undelivered after {waited:.0f} s "
            f"{undelivered[:3]}",
        ),
        Check(
            "one e-mail per (event, purpose)",
            not sent_twice and not without_confirmation,
            f"{len(sent)} sent-email rows; sent twice {sent_twice[:3]}; order.placed events "
            f"without a confirmation {without_confirmation[:3]}",
        ),
        Check(
            "one sale record per order.placed event",
            int(sales[0]) == int(sales[1]) == len(placed_events),
            f"{sales[0]} sale records for {len(placed_events)} order.placed events",
        ),
        Check(
            "mail files match the sent e-mails",
            not files_off,
            f"{sum(subjects.values())} messages in {mail_dir.relative_to(ROOT)} since the drill "
            f"began; mismatched {files_off[:3]}",
        ),
    ]


def orders_created_between(load: Load, start: float, end: float) -> int:
    return int(
        sql(
            f"SELECT count(*) FROM orders_order WHERE email = {quote(load.email)} "
            f"AND created_at BETWEEN to_timestamp({start}) AND to_timestamp({end})"
        )[0][0]
    )


# --- Carts and sessions ---------------------------------------------------------------------


def check_carts(load: Load) -> list[Check]:
    """Each cart shopper's cart still holds what it last read, and every acknowledged add."""
    problems = []
    for number, record in enumerate(load.carts):
        reply = record.shopper.get("/api/v1/cart/")
        now = reply.body["item_count"] if reply.ok else f"HTTP {reply.status}"
        low, high = record.acknowledged_adds, record.acknowledged_adds + record.uncertain_adds
        if record.last_item_count is None or now != record.last_item_count:
            problems.append(f"cart {number}: read {record.last_item_count}, now {now}")
        elif not low <= now <= high:
            problems.append(f"cart {number}: {now} items for {low} acknowledged adds")
    counts = [record.last_item_count for record in load.carts]
    return [
        Check(
            "no cart vanished",
            not problems,
            "; ".join(problems) or f"item counts {counts} read again after the drill",
        )
    ]


def check_sessions(members: list[Shopper], emails: list[str]) -> list[Check]:
    answers = [member.get("/api/v1/auth/me/") for member in members]
    signed_in = [
        reply.status == 200 and (reply.body or {}).get("email") == address
        for reply, address in zip(answers, emails, strict=True)
    ]
    return [
        Check(
            "no session vanished",
            all(signed_in),
            f"/api/v1/auth/me/ after the drill: {[reply.status for reply in answers]}",
        )
    ]


def check_catalog_never_failed(load: Load) -> Check:
    tally = load.tallies["catalog"]
    return Check(
        "catalog pages never answered 5xx",
        tally.server_errors == 0 and tally.connection_errors == 0,
        f"{tally.requests} catalog GETs: {dict(tally.statuses)}",
    )


def readyz(shopper: Shopper) -> dict:
    """/readyz's checks as the monitoring sees them: asked from 127.0.0.1, not from `shopper`'s
    own address (nginx serves /readyz to loopback and the monitoring networks only, issue 12)."""
    try:
        with urllib.request.urlopen(NGINX + "/readyz", timeout=TIMEOUT) as response:
            body = json.load(response)
    except urllib.error.HTTPError as error:  # a 503 still says which dependency is down
        try:
            body = json.load(error)
        except ValueError:
            return {}
    except (urllib.error.URLError, OSError, ValueError):
        return {}
    return body.get("checks", {}) if isinstance(body, dict) else {}


def source_words() -> list[str]:
    words = re.findall(r"[a-z]{4,}", " ".join(row[0].lower() for row in sql(_TITLES)))
    return sorted(set(words))[:200] or ["lamp"]


_TITLES = "SELECT title FROM catalog_product WHERE is_active ORDER BY id LIMIT 200"
