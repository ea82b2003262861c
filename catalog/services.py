"""Catalog writes. Each one invalidates the catalog cache when its transaction commits."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from catalog.cache import bump_catalog_version
from catalog.models import Category, Product, StockMovement


def _invalidate_on_commit() -> None:
    transaction.on_commit(bump_catalog_version)


@transaction.atomic
def save_product(
    *,
    product: Product,
    fields: Iterable[str] | None = None,
    actor=None,
    note: str = "",
) -> Product:
    """Create or update a product (only `fields`, when given) and refresh the catalog cache.

    A changed stock on an existing product is recorded as an adjustment by `actor`, measured
    against the stock locked here, so the movements add up to the stock even when a sale
    committed in the meantime.
    """
    product.full_clean(exclude=["search_vector"])
    fields = None if fields is None else list(fields)
    stock_before = None
    if not product._state.adding and (fields is None or "stock" in fields):
        stock_before = (
            Product.objects.select_for_update()
            .filter(pk=product.pk)
            .values_list("stock", flat=True)
            .get()
        )
    if fields is None or product._state.adding:
        product.save()
    else:
        product.save(update_fields=[*fields, "updated_at"])
    if stock_before is not None and product.stock != stock_before:
        StockMovement.objects.create(
            product=product,
            change=product.stock - stock_before,
            reason=StockMovement.Reason.ADJUSTMENT,
            actor=actor,
            note=note,
        )
    _invalidate_on_commit()
    return product


@transaction.atomic
def delete_products(*, products: QuerySet[Product]) -> int:
    """Delete products and refresh the catalog cache; return how many went."""
    deleted, _ = products.delete()
    _invalidate_on_commit()
    return deleted


@transaction.atomic
def set_products_active(*, products: QuerySet[Product], active: bool) -> int:
    """Show (active) or hide the products in the storefront and API; return how many changed."""
    changed = products.exclude(is_active=active).update(is_active=active, updated_at=timezone.now())
    _invalidate_on_commit()
    return changed


@transaction.atomic
def save_category(*, category: Category) -> Category:
    """Create or update a category and refresh the catalog cache."""
    category.full_clean()
    category.save()
    _invalidate_on_commit()
    return category


@transaction.atomic
def delete_categories(*, categories: QuerySet[Category]) -> int:
    """Delete categories that hold no products and refresh the catalog cache."""
    deleted, _ = categories.delete()
    _invalidate_on_commit()
    return deleted
