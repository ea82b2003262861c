"""Catalog writes. Each one invalidates the catalog cache when its transaction commits.

Every service owns its transaction (durable). The admin's form, delete and list-edit views open
one of their own around the save (with its log entry, and every row of a list edit: all or
nothing), so the admin calls the `_step` a service is made of, which joins the transaction it
is in.
"""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from catalog.cache import bump_catalog_version
from catalog.models import Category, Product, StockMovement
from shop.accounts.models import User


def _invalidate_on_commit() -> None:
    transaction.on_commit(bump_catalog_version)


@transaction.atomic(durable=True)
def save_product(
    *,
    product: Product,
    fields: Iterable[str] | None = None,
    actor: User | None = None,
    note: str = "",
) -> Product:
    """Create or update a product (only `fields`, when given) and refresh the catalog cache."""
    return save_product_step(product=product, fields=fields, actor=actor, note=note)


@transaction.atomic
def save_product_step(
    *,
    product: Product,
    fields: Iterable[str] | None = None,
    actor: User | None = None,
    note: str = "",
) -> Product:
    """Save the product as `save_product` does, within the caller's transaction (the admin).

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


@transaction.atomic(durable=True)
def delete_products(*, products: QuerySet[Product]) -> int:
    """Delete products and refresh the catalog cache; return how many went."""
    return delete_products_step(products=products)


@transaction.atomic
def delete_products_step(*, products: QuerySet[Product]) -> int:
    """Delete products as `delete_products` does, within the caller's transaction (the admin)."""
    deleted, _ = products.delete()
    _invalidate_on_commit()
    return deleted


@transaction.atomic(durable=True)
def set_products_active(*, products: QuerySet[Product], active: bool) -> int:
    """Show (active) or hide the products in the storefront and API; return how many changed."""
    changed = products.exclude(is_active=active).update(is_active=active, updated_at=timezone.now())
    _invalidate_on_commit()
    return changed


@transaction.atomic(durable=True)
def save_category(*, category: Category) -> Category:
    """Create or update a category and refresh the catalog cache."""
    return save_category_step(category=category)


@transaction.atomic
def save_category_step(*, category: Category) -> Category:
    """Save the category as `save_category` does, within the caller's transaction (the admin)."""
    category.full_clean()
    category.save()
    _invalidate_on_commit()
    return category


@transaction.atomic(durable=True)
def delete_categories(*, categories: QuerySet[Category]) -> int:
    """Delete categories that hold no products and refresh the catalog cache."""
    return delete_categories_step(categories=categories)


@transaction.atomic
def delete_categories_step(*, categories: QuerySet[Category]) -> int:
    """Delete categories as `delete_categories` does, within the caller's transaction."""
    deleted, _ = categories.delete()
    _invalidate_on_commit()
    return deleted
