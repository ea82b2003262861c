"""What catalog tests do through the admin: the product change form as an operator sends it."""

from catalog.models import Product

CHANGELIST = "/admin/catalog/product/"


def product_form(product: Product, **changes) -> dict:
    """Return the product change form as the operator was shown it, with their changes."""
    data = {
        "title": product.title,
        "slug": product.slug,
        "sku": product.sku,
        "category": product.category_id,
        "brand": product.brand,
        "description": product.description,
        "price": str(product.price),
        "stock": product.stock,
        "initial-stock": product.stock,
        "attributes": "{}",
        "is_active": "on",
    }
    return {**data, **changes}
