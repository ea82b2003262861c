import os
import subprocess
import sys
from pathlib import Path

from catalog.models import Product

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_stay_up_to_date_under_another_shop_currency():
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": "sqlite:///:memory:",
        "SHOP_CURRENCY": "EUR",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run", "-v1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "No changes detected"


def test_a_new_product_is_priced_in_the_currency_the_shop_is_set_to_now(settings):
    settings.SHOP_CURRENCY = "EUR"
    assert Product().currency == "EUR"
