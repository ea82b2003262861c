"""DATABASE_POOLER=transaction: what Django needs behind pgbouncer's transaction pooling (the
cluster's pgbouncer; tests/cluster/test_pgbouncer.py shows the replicas going through it)."""

import pytest

from tests.fixtures import clean_environment, run_manage

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

PRINT_CURSORS = (
    "from django.conf import settings; "
    "print(settings.DATABASES['default'].get('DISABLE_SERVER_SIDE_CURSORS', False))"
)


def _shell(**values: str):
    environment = clean_environment(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL="postgres://postgres@127.0.0.1:16432/shop",  # never connected to here
        **values,
    )
    return run_manage("shell", "--no-imports", "-c", PRINT_CURSORS, env=environment)


@pytest.mark.parametrize(("pooler", "disabled"), [("transaction", "True"), ("", "False")])
def test_transaction_pooling_turns_server_side_cursors_off(pooler, disabled):
    result = _shell(DATABASE_POOLER=pooler)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == disabled


def test_an_unknown_pooler_refuses_to_start():
    result = _shell(DATABASE_POOLER="session")
    assert result.returncode != 0
    assert "DATABASE_POOLER is 'transaction' or empty." in result.stderr
