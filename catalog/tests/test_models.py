import pytest

from tests.fixtures import clean_environment, run_manage

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_migrations_stay_up_to_date_under_another_shop_currency():
    env = clean_environment(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL="sqlite:///:memory:",
        SHOP_CURRENCY="EUR",
    )
    result = run_manage("makemigrations", "--check", "--dry-run", "-v1", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "No changes detected"
