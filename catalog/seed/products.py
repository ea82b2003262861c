"""Product number `n` of the demo catalog, made from the words in catalog.seed.data.

Product number `n` is drawn from its own `random.Random(f"{seed}:{n}")`, so it comes out the same
whatever the total or the batch size: a larger run only appends, and a rerun only confirms.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils.text import slugify

from catalog.models import Product
from catalog.seed.data import CLOSINGS, MIDDLES, OPENINGS, Department, Leaf

SKU_PREFIX = "SKU-"
SKU_DIGITS = 7
# Products are spread over the last two years. Age = number * STRIDE mod SPREAD: STRIDE is near
# the golden ratio of SPREAD and coprime to it, so any run of numbers covers the two years evenly
# and the first 63 million products all get distinct ages.
SPREAD_SECONDS = 730 * 24 * 3600
STRIDE_SECONDS = 38_980_639
FEATURED_SHARE = 0.03
INACTIVE_SHARE = 0.02
OUT_OF_STOCK_SHARE = 0.05
LOW_STOCK_SHARE = 0.10


@dataclass(frozen=True)
class SeededLeaf:
    """A subcategory's words as saved: the category its products go in, and their picture."""

    department: Department
    leaf: Leaf
    category_pk: int
    image: str


def sku_for(number: int) -> str:
    return f"{SKU_PREFIX}{number:0{SKU_DIGITS}d}"


def build_product(
    *, number: int, seed: int, leaves: Sequence[SeededLeaf], anchor: datetime
) -> Product:
    """Return product `number` of the catalog for `seed`, unsaved; the same on every call."""
    rng = random.Random(f"{seed}:{number}")
    seeded = rng.choice(leaves)
    department, leaf = seeded.department, seeded.leaf
    brand = rng.choice(department.brands)
    noun = rng.choice(leaf.nouns)
    # An adjective the noun already starts with would read twice ("Smart Smart Plug").
    adjectives = [
        word
        for word in leaf.adjectives or department.adjectives
        if not noun.lower().startswith(word.lower())
    ]
    title = leaf.title.format(
        brand=brand,
        adjective=rng.choice(adjectives),
        noun=noun,
        variant=rng.choice(leaf.variants or department.variants),
    )
    sku = sku_for(number)
    middles = rng.randint(1, 2)
    sentences = [
        rng.choice(OPENINGS).format(title=title, brand=brand, use=rng.choice(department.uses)),
        *(
            middle.format(benefit=benefit)
            for middle, benefit in zip(
                rng.sample(MIDDLES, middles), rng.sample(department.benefits, middles), strict=True
            )
        ),
    ]
    if rng.random() < 0.5:
        sentences.append(rng.choice(CLOSINGS).format(brand=brand))
    attributes = {**department.attributes, **leaf.attributes}
    return Product(
        category_id=seeded.category_pk,
        sku=sku,
        slug=f"{slugify(title)}-{sku.lower()}",
        title=title,
        description=" ".join(sentences),
        brand=brand,
        price=_price(rng, *leaf.prices),
        stock=_stock(rng),
        image=seeded.image,
        attributes={name: rng.choice(choices) for name, choices in attributes.items()},
        is_active=rng.random() >= INACTIVE_SHARE,
        is_featured=rng.random() < FEATURED_SHARE,
        created_at=anchor - timedelta(seconds=number * STRIDE_SECONDS % SPREAD_SECONDS),
    )


def _price(rng: random.Random, low: int, high: int) -> Decimal:
    """Return a price between `low` and `high`, cheap ones likelier, ending in .99 or .00."""
    whole = round(low * (high / low) ** rng.random())
    if whole >= 100 and rng.random() < 0.3:
        return Decimal(f"{whole}.00")
    return Decimal(f"{max(whole, low + 1) - 1}.99")


def _stock(rng: random.Random) -> int:
    draw = rng.random()
    if draw < OUT_OF_STOCK_SHARE:
        return 0
    if draw < OUT_OF_STOCK_SHARE + LOW_STOCK_SHARE:
        return rng.randint(1, 5)
    return rng.randint(6, 500)
