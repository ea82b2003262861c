"""Seeding the demo catalog into the database: its categories, pictures and products.

Reruns add only what is missing: categories by slug, pictures by path, products by SKU.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from catalog.cache import bump_catalog_version
from catalog.models import Category, Product
from catalog.seed.data import DEPARTMENTS, Group, count_subcategories
from catalog.seed.pictures import draw_picture
from catalog.seed.products import SeededLeaf, build_product, sku_for

DEFAULT_SEED = 2024
IMAGE_FOLDER = "products/seed"


@dataclass(frozen=True)
class SeedResult:
    """What a seeding run reports: products asked for, how many were new, the category counts."""

    products: int
    created: int
    departments: int
    subcategories: int


def seed_catalog(*, products: int, seed: int, batch_size: int) -> SeedResult:
    """Create the demo catalog's first `products` products, adding only the missing ones."""
    leaves = _seed_categories()
    for seeded in leaves:
        _save_picture(seeded=seeded)
    # Midnight, so every run on one day gives byte-identical rows.
    anchor = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    created = 0
    for start in range(1, products + 1, batch_size):
        numbers = range(start, min(start + batch_size, products + 1))
        created += _seed_batch(numbers=numbers, seed=seed, leaves=leaves, anchor=anchor)
    bump_catalog_version()
    return SeedResult(
        products=products,
        created=created,
        departments=len(DEPARTMENTS),
        subcategories=sum(count_subcategories(department=department) for department in DEPARTMENTS),
    )


def _seed_categories() -> list[SeededLeaf]:
    """Create the categories still missing; return the ones that hold products."""
    leaves = []
    for position, department in enumerate(DEPARTMENTS):
        root = _category(name=department.name, parent=None, position=position)
        for child_position, child in enumerate(department.children):
            node = _category(name=child.name, parent=root, position=child_position)
            children = child.children if isinstance(child, Group) else (child,)
            for leaf_position, leaf in enumerate(children):
                if isinstance(child, Group):
                    category = _category(name=leaf.name, parent=node, position=leaf_position)
                else:
                    category = node
                image = f"{IMAGE_FOLDER}/{category.slug}.png"
                leaves.append(SeededLeaf(department, leaf, category.pk, image))
    return leaves


def _category(*, name: str, parent: Category | None, position: int) -> Category:
    slug = slugify(name)
    where = f"in {parent.name}" if parent else "across the shop"
    category, _ = Category.objects.get_or_create(
        slug=slug,
        defaults={
            "name": name,
            "parent": parent,
            "position": position,
            "description": f"Our pick of {name.lower()} {where}.",
        },
    )
    return category


def _save_picture(*, seeded: SeededLeaf) -> None:
    if default_storage.exists(seeded.image):
        return
    picture = draw_picture(label=seeded.leaf.name, colour=seeded.department.colour)
    default_storage.save(seeded.image, ContentFile(picture))


def _seed_batch(
    *, numbers: range, seed: int, leaves: Sequence[SeededLeaf], anchor: datetime
) -> int:
    """Insert the products of `numbers` not there yet; return how many were inserted."""
    skus = (sku_for(numbers[0]), sku_for(numbers[-1]))
    with transaction.atomic(durable=True):
        existing = set(Product.objects.filter(sku__range=skus).values_list("sku", flat=True))
        missing = [
            build_product(number=number, seed=seed, leaves=leaves, anchor=anchor)
            for number in numbers
            if sku_for(number) not in existing
        ]
        if not missing:
            return 0
        Product.objects.bulk_create(missing, batch_size=len(missing))
    return len(missing)
