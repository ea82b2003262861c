from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Category, Product

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

ROW_FIELDS = ("sku", "title", "price")


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def seed(products: int, **options) -> str:
    output = StringIO()
    call_command("seed_catalog", products=products, stdout=output, **options)
    return output.getvalue()


def product_rows(*fields: str) -> list[tuple]:
    return list(Product.objects.order_by("sku").values_list(*fields))


def test_seeding_creates_exactly_the_products_asked_for_in_a_category_tree():
    output = seed(120)

    assert Product.objects.count() == 120
    assert Category.objects.filter(parent=None).count() == 8
    assert Category.objects.exclude(parent=None).count() == 42
    assert not Product.objects.exclude(category__in=Category.objects.all()).exists()
    assert output.startswith("Seeded 120 products (120 new) in 8 categories / 42 subcategories")


def test_seeding_twice_keeps_the_same_products():
    seed(80)
    first = product_rows(*ROW_FIELDS)

    output = seed(80)

    assert product_rows(*ROW_FIELDS) == first
    assert len(first) == 80
    assert "(0 new)" in output


def test_the_same_seed_gives_the_same_products_on_a_fresh_catalog():
    fields = ("sku", "slug", "title", "description", "brand", "price", "stock", "attributes")
    seed(50, seed=7)
    first = product_rows(*fields)
    Product.objects.all().delete()

    seed(50, seed=7)

    assert product_rows(*fields) == first


def test_another_seed_gives_other_products():
    seed(50, seed=7)
    first = product_rows("title")
    Product.objects.all().delete()

    seed(50, seed=8)

    assert product_rows("title") != first


def test_a_larger_count_adds_only_the_missing_products():
    seed(60)
    first = product_rows(*ROW_FIELDS, "created_at")

    output = seed(100)

    rows = product_rows(*ROW_FIELDS, "created_at")
    assert len(rows) == 100
    assert rows[:60] == first
    assert rows[60][0] == "SKU-0000061"
    assert "Seeded 100 products (40 new)" in output


def test_prices_are_positive_with_two_decimal_places():
    seed(150)

    prices = Product.objects.values_list("price", flat=True)

    assert all(isinstance(price, Decimal) for price in prices)
    assert all(price > 0 for price in prices)
    assert {price.as_tuple().exponent for price in prices} == {-2}


def test_every_product_shows_its_subcategory_picture(tmp_path):
    seed(60)

    images = set(Product.objects.values_list("image", flat=True))

    assert images
    for image in images:
        assert image.startswith("products/seed/")
        assert (tmp_path / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_negative_product_count_raises_and_seeds_nothing():
    with pytest.raises(CommandError, match="--products must be 0 or more, not -1"):
        seed(-1)

    assert Product.objects.count() == 0
    assert Category.objects.count() == 0
