"""Schemathesis against /api/schema/: every operation under every check schemathesis has.

Beyond "no 5xx" and "answers as documented" (status, content type, headers, body), the data
checks hold the schema to the code both ways: a request the schema allows is not refused with
a 400 (positive_data_acceptance), and one it forbids is refused (negative_data_rejection).
No check is switched off. A request the schema allows may still be refused for a reason no
JSON Schema can state: SCHEMA_VALID_BUT_REFUSED lists those operations, each reason, and how
its 400 names it; any other 400 to a schema-valid request fails.
"""

from dataclasses import dataclass

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from catalog.tests.factories import CategoryFactory, ProductFactory
from config.wsgi import application

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]


@dataclass(frozen=True)
class Refusal:
    """Why a request the schema allows may still be a 400, and how that 400 shows it."""

    reason: str
    codes: frozenset[str] = frozenset()  # the answer's `code`, or
    fields: frozenset[str] = frozenset()  # the only fields a `code: invalid` answer names


PRODUCT_NOT_FOR_SALE = Refusal(
    "a product id that names no product for sale", codes=frozenset({"product_unavailable"})
)
PRICE_RANGE_UPSIDE_DOWN = Refusal(
    "min_price above max_price: a rule between two parameters", fields=frozenset({"min_price"})
)

# By operation id.
SCHEMA_VALID_BUT_REFUSED = {
    "auth_register": Refusal(
        "a password Django's validators refuse (too common, too like the e-mail, all digits)",
        fields=frozenset({"password"}),
    ),
    "auth_login": Refusal(
        "wrong credentials are a 400 (DESIGN.md)", codes=frozenset({"invalid_credentials"})
    ),
    "auth_password_reset_confirm": Refusal(
        "a uid and token the shop never issued", codes=frozenset({"invalid_reset_link"})
    ),
    "cart_items_add": PRODUCT_NOT_FOR_SALE,
    "cart_items_update": PRODUCT_NOT_FOR_SALE,
    "orders_create": Refusal(
        "an empty cart, or a card token the payment gateway does not know",
        codes=frozenset({"empty_cart"}),
        fields=frozenset({"payment"}),
    ),
    "products_list": PRICE_RANGE_UPSIDE_DOWN,
    "search": PRICE_RANGE_UPSIDE_DOWN,
}

# What positive_data_acceptance accepts by default, less its 5xx (not_a_server_error's job).
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]

CONFIG = SchemathesisConfig.from_dict(
    {
        # No text the API takes may hold NUL (PostgreSQL cannot store it; DRF refuses it), a rule
        # the API's description states once rather than a pattern on every string.
        "generation": {"allow-x00": False},
        "operations": [
            {
                "include-operation-id": operation_id,
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}},
            }
            for operation_id in SCHEMA_VALID_BUT_REFUSED
        ],
    }
)


@pytest.fixture
def api_schema(db):
    """Load the schema the shop serves (its request passes the middleware, which reads the
    database)."""
    # In a fixture, not at import: loading it takes seconds that collecting or running any
    # other test would pay (issue 14).
    return schemathesis.openapi.from_wsgi("/api/schema/", application, config=CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    # Schemathesis's lazy schema reads and renames `node._nodeid` to name each operation's
    # subtest; pytest 9 keeps node ids elsewhere, so give it the attribute it expects.
    request.node._nodeid = request.node.nodeid


def refused_only_for_its_listed_reason(ctx, response, case) -> None:
    """A 400 to a schema-valid request is the refusal its operation lists, and nothing else."""
    if response.status_code != 400 or case.meta is None:
        return
    if not case.meta.generation.mode.is_positive:
        return
    refusal = SCHEMA_VALID_BUT_REFUSED.get(case.operation.schema.get_operation_id(case.operation))
    body = response.json()
    named = refusal is not None and (
        body.get("code") in refusal.codes
        or (body.get("code") == "invalid" and set(body.get("errors", {})) <= refusal.fields)
    )
    assert named, f"{case.operation.label}: a schema-valid request was refused: {body}"


@pytest.fixture(autouse=True)
def catalog(db):
    ProductFactory.create_batch(3, category=CategoryFactory(slug="kitchen"))


@pytest.fixture(autouse=True)
def connections_kept_open():
    """As Django's test client does: a request must not close the test's open transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented_under_every_check(case):
    case.call_and_validate(additional_checks=[refused_only_for_its_listed_reason])
