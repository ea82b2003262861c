"""The demo catalog: departments, brands, word lists, and the one function that seeds them.

Product number `n` is drawn from its own `random.Random(f"{seed}:{n}")`, so it comes out the same
whatever the total or the batch size: a larger run only appends, and a rerun only confirms.
"""

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from PIL import Image, ImageDraw, ImageFont

from catalog.cache import bump_catalog_version
from catalog.models import Category, Product

DEFAULT_SEED = 2024
SKU_PREFIX = "SKU-"
SKU_DIGITS = 7
IMAGE_FOLDER = "products/seed"
IMAGE_SIZE = 480
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
class Leaf:
    """A category that holds products, with the words its product titles are made of."""

    name: str
    nouns: tuple[str, ...]
    prices: tuple[int, int]
    adjectives: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    title: str = "{brand} {adjective} {noun} {variant}"


@dataclass(frozen=True)
class Group:
    """A subcategory that only holds further subcategories."""

    name: str
    children: tuple[Leaf, ...]


@dataclass(frozen=True)
class Department:
    """A root category: its colour, brands, and what its products share."""

    name: str
    colour: str
    brands: tuple[str, ...]
    adjectives: tuple[str, ...]
    variants: tuple[str, ...]
    attributes: dict[str, tuple[str, ...]]
    uses: tuple[str, ...]
    benefits: tuple[str, ...]
    children: tuple[Leaf | Group, ...]


@dataclass(frozen=True)
class SeededLeaf:
    department: Department
    leaf: Leaf
    category_pk: int
    image: str


@dataclass(frozen=True)
class SeedResult:
    products: int
    created: int
    departments: int
    subcategories: int


COLOURS = ("Black", "White", "Graphite", "Silver", "Navy", "Forest Green", "Sand", "Coral")

DEPARTMENTS: tuple[Department, ...] = (
    Department(
        name="Electronics",
        colour="#3b82f6",
        brands=("Nordlys", "Voltara", "Kestrel", "Auralis", "Pixelforge", "Lumen & Co"),
        adjectives=("Wireless", "Compact", "Smart", "Ultra-Slim", "Portable", "Pro-Grade"),
        variants=("2nd Gen", "Pro", "Max", "Mini", "Plus", "2025 Edition", "Lite"),
        attributes={"colour": COLOURS, "warranty": ("1 year", "2 years", "3 years")},
        uses=("daily commutes", "long working days", "travel", "the home office"),
        benefits=(
            "a battery that lasts all day",
            "a firmware that keeps improving with free updates",
            "a sturdy aluminium frame",
            "fast USB-C charging",
        ),
        children=(
            Group(
                name="Audio",
                children=(
                    Leaf(
                        name="Headphones",
                        nouns=("Noise-Cancelling Headphones", "Earbuds", "Over-Ear Headphones"),
                        prices=(29, 449),
                        attributes={"battery life": ("20 h", "30 h", "40 h", "60 h")},
                    ),
                    Leaf(
                        name="Speakers",
                        nouns=("Bluetooth Speaker", "Soundbar", "Bookshelf Speakers"),
                        prices=(39, 899),
                        attributes={"output": ("10 W", "20 W", "40 W", "120 W")},
                    ),
                ),
            ),
            Leaf(
                name="Phones & Tablets",
                nouns=("Smartphone", "Tablet", "E-Reader"),
                prices=(129, 1499),
                attributes={"storage": ("64 GB", "128 GB", "256 GB", "512 GB")},
            ),
            Leaf(
                name="Laptops & Computers",
                nouns=("Laptop", "Ultrabook", "Mini PC", "Monitor"),
                prices=(299, 2499),
                attributes={"memory": ("8 GB", "16 GB", "32 GB"), "storage": ("512 GB", "1 TB")},
            ),
            Leaf(
                name="Cameras",
                nouns=("Mirrorless Camera", "Action Camera", "Instant Camera"),
                prices=(79, 2299),
                attributes={
                    "sensor": ("APS-C", "Full Frame", '1"'),
                    "resolution": ("24 MP", "33 MP"),
                },
            ),
            Leaf(
                name="Smart Home",
                nouns=("Smart Plug", "Video Doorbell", "Thermostat", "Security Camera"),
                prices=(19, 299),
                attributes={"connectivity": ("Wi-Fi", "Zigbee", "Thread", "Matter")},
            ),
            Leaf(
                name="Wearables",
                nouns=("Smartwatch", "Fitness Tracker", "Smart Ring"),
                prices=(39, 799),
                attributes={"case size": ("38 mm", "41 mm", "45 mm")},
            ),
        ),
    ),
    Department(
        name="Home & Kitchen",
        colour="#f59e0b",
        brands=("Hearthwell", "Oakmere", "Casa Lumo", "Brightnest", "Ironleaf"),
        adjectives=("Classic", "Non-Stick", "Stainless", "Handcrafted", "Modern", "Everyday"),
        variants=("Set", "Large", "Deluxe", "Family Size", "Essentials"),
        attributes={
            "colour": ("Cream", "Charcoal", "Sage", "Terracotta", "Natural Oak", "White"),
            "material": ("Stainless steel", "Cast iron", "Ceramic", "Bamboo", "Linen", "Glass"),
        },
        uses=("busy weeknights", "slow Sunday mornings", "small apartments", "family dinners"),
        benefits=(
            "parts that go straight into the dishwasher",
            "a finish that stays good-looking for years",
            "a design that stores away flat",
        ),
        children=(
            Leaf(
                name="Cookware",
                nouns=("Frying Pan", "Dutch Oven", "Saucepan", "Wok"),
                prices=(19, 349),
                attributes={"diameter": ("20 cm", "24 cm", "28 cm")},
            ),
            Leaf(
                name="Small Appliances",
                nouns=("Blender", "Kettle", "Toaster", "Espresso Machine", "Air Fryer"),
                prices=(24, 899),
                attributes={"power": ("800 W", "1200 W", "1800 W")},
            ),
            Leaf(
                name="Furniture",
                nouns=("Side Table", "Bookshelf", "Desk", "Lounge Chair"),
                prices=(59, 1899),
                attributes={"width": ("45 cm", "80 cm", "120 cm", "160 cm")},
            ),
            Leaf(
                name="Bedding",
                nouns=("Duvet Cover", "Pillow", "Fitted Sheet", "Throw Blanket"),
                prices=(14, 249),
                attributes={"size": ("Single", "Double", "Queen", "King")},
            ),
            Leaf(
                name="Home Decor",
                nouns=("Vase", "Table Lamp", "Wall Mirror", "Scented Candle"),
                prices=(9, 299),
            ),
            Leaf(
                name="Storage & Organisation",
                nouns=("Storage Basket", "Drawer Organiser", "Shoe Rack", "Food Containers"),
                prices=(7, 149),
                attributes={"capacity": ("5 L", "12 L", "30 L")},
            ),
        ),
    ),
    Department(
        name="Fashion",
        colour="#ec4899",
        brands=("Maren & Vale", "Northline", "Atelier Brume", "Copperfield", "Sola"),
        adjectives=("Relaxed", "Slim-Fit", "Organic Cotton", "Merino", "Waterproof", "Vintage"),
        variants=("Classic", "Essential", "Limited Edition", "Heritage"),
        attributes={
            "colour": ("Black", "Ecru", "Olive", "Rust", "Indigo", "Camel", "Grey Marl"),
            "size": ("XS", "S", "M", "L", "XL"),
        },
        uses=("everyday wear", "weekends away", "the office", "cool evenings"),
        benefits=(
            "a fit that keeps its shape wash after wash",
            "fabric sourced from certified mills",
            "reinforced seams",
        ),
        children=(
            Leaf(
                name="Women's Clothing",
                nouns=("Wrap Dress", "Blouse", "Cardigan", "Trench Coat", "Wide-Leg Trousers"),
                prices=(19, 349),
            ),
            Leaf(
                name="Men's Clothing",
                nouns=("Oxford Shirt", "Chinos", "Crew Neck Jumper", "Overshirt", "Parka"),
                prices=(19, 399),
            ),
            Group(
                name="Shoes",
                children=(
                    Leaf(
                        name="Sneakers",
                        nouns=("Runner Sneakers", "Court Sneakers", "Canvas Trainers"),
                        prices=(39, 229),
                        attributes={"size": ("38", "39", "40", "41", "42", "43", "44", "45")},
                    ),
                    Leaf(
                        name="Boots",
                        nouns=("Chelsea Boots", "Hiking Boots", "Ankle Boots"),
                        prices=(59, 349),
                        attributes={"size": ("37", "38", "39", "40", "41", "42", "43", "44")},
                    ),
                ),
            ),
            Leaf(
                name="Bags & Accessories",
                nouns=("Tote Bag", "Backpack", "Leather Belt", "Wool Scarf"),
                prices=(14, 399),
                attributes={"size": ("One size",), "material": ("Leather", "Canvas", "Wool")},
            ),
            Leaf(
                name="Jewellery & Watches",
                nouns=("Pendant Necklace", "Hoop Earrings", "Automatic Watch", "Signet Ring"),
                prices=(24, 1299),
                attributes={"size": ("One size",), "metal": ("Sterling silver", "Gold vermeil")},
            ),
        ),
    ),
    Department(
        name="Sports & Outdoors",
        colour="#10b981",
        brands=("Summitra", "Trailhawk", "Bluefjord", "Velocita", "Ridgeback"),
        adjectives=("Lightweight", "All-Weather", "Ultralight", "Insulated", "Adjustable"),
        variants=("Trail", "Pro", "Expedition", "Sport", "Junior"),
        attributes={
            "colour": ("Alpine Blue", "Moss", "Volcanic Orange", "Black", "Glacier White"),
            "weight": ("350 g", "800 g", "1.2 kg", "2.5 kg", "6 kg"),
        },
        uses=("weekend adventures", "early-morning training", "multi-day trips"),
        benefits=(
            "materials tested in wind and rain",
            "a pack size that fits any bag",
            "grip that holds when it matters",
        ),
        children=(
            Leaf(
                name="Fitness Equipment",
                nouns=("Dumbbell Set", "Yoga Mat", "Kettlebell", "Resistance Bands"),
                prices=(12, 599),
            ),
            Leaf(
                name="Camping & Hiking",
                nouns=("2-Person Tent", "Sleeping Bag", "Trekking Poles", "Daypack"),
                prices=(19, 699),
                attributes={"capacity": ("20 L", "30 L", "45 L", "2 person")},
            ),
            Leaf(
                name="Cycling",
                nouns=("Bike Helmet", "Bike Light Set", "Gravel Bike", "Saddle Bag"),
                prices=(14, 2499),
            ),
            Leaf(
                name="Team Sports",
                nouns=("Football", "Basketball", "Shin Guards", "Goalkeeper Gloves"),
                prices=(9, 149),
                attributes={"size": ("3", "4", "5")},
            ),
            Leaf(
                name="Water Sports",
                nouns=("Wetsuit", "Paddle Board", "Swim Goggles", "Dry Bag"),
                prices=(9, 999),
            ),
        ),
    ),
    Department(
        name="Books",
        colour="#8b5cf6",
        brands=("Larkspur Press", "Harrow & Finch", "Greywater Books", "Quillstone"),
        adjectives=(),
        variants=("Paperback", "Hardcover", "Illustrated Edition", "Anniversary Edition"),
        attributes={
            "pages": ("192", "256", "320", "416", "544"),
            "language": ("English",),
        },
        uses=("long train journeys", "quiet evenings", "book clubs", "gifting"),
        benefits=(
            "prose that critics called unforgettable",
            "a new afterword by the author",
            "a beautifully designed cover",
        ),
        children=(
            Leaf(
                name="Fiction",
                nouns=("Harbour", "Orchard", "Lighthouse", "Winter", "Kingdom", "Garden"),
                adjectives=("Silent", "Last", "Hidden", "Distant", "Burning", "Forgotten"),
                prices=(8, 29),
                title="The {adjective} {noun} ({variant})",
            ),
            Leaf(
                name="Non-Fiction",
                nouns=("Salt", "Maps", "Sleep", "Bridges", "Money", "Bees"),
                adjectives=("A Short History of", "The Hidden Life of", "In Praise of"),
                prices=(12, 39),
                title="{adjective} {noun} ({variant})",
            ),
            Leaf(
                name="Children's Books",
                nouns=("Little Fox", "Brave Snail", "Sleepy Bear", "Tiny Dragon"),
                adjectives=("Where Is the", "Goodnight,", "The Adventures of the"),
                prices=(5, 19),
                title="{adjective} {noun} ({variant})",
            ),
            Leaf(
                name="Cookbooks",
                nouns=("Weeknight Suppers", "Baking", "Vegetables", "One-Pot Meals"),
                adjectives=("Simply", "The Joy of", "Everyday", "Slow"),
                prices=(14, 45),
                title="{adjective} {noun} ({variant})",
            ),
        ),
    ),
    Department(
        name="Toys",
        colour="#ef4444",
        brands=("Puddleduck", "Brickworks", "Tumbletoy", "Little Orbit"),
        adjectives=("Wooden", "Deluxe", "Glow-in-the-Dark", "Magnetic", "Classic"),
        variants=("Starter Set", "Deluxe Set", "Travel Edition", "Mega Pack"),
        attributes={
            "age": ("3+", "5+", "8+", "12+"),
            "colour": ("Multicolour", "Red", "Blue", "Yellow"),
            "pieces": ("12", "48", "250", "500", "1000"),
        },
        uses=("rainy afternoons", "family game night", "curious young minds"),
        benefits=(
            "safety-tested, child-friendly materials",
            "hours of open-ended play",
            "rules that take a minute to learn",
        ),
        children=(
            Leaf(
                name="Building Sets",
                nouns=("Castle Kit", "Space Station", "Marble Run", "Train Set"),
                prices=(14, 249),
            ),
            Leaf(
                name="Board Games & Puzzles",
                nouns=("Strategy Game", "Jigsaw Puzzle", "Card Game", "Chess Set"),
                prices=(9, 89),
            ),
            Leaf(
                name="Dolls & Figures",
                nouns=("Doll House", "Action Figure", "Plush Bear", "Puppet Theatre"),
                prices=(9, 179),
            ),
            Leaf(
                name="Outdoor Play",
                nouns=("Balance Bike", "Kite", "Sandpit Set", "Scooter"),
                prices=(12, 199),
            ),
        ),
    ),
    Department(
        name="Beauty",
        colour="#f472b6",
        brands=("Velour", "Petal & Pine", "Lumière Skin", "Oréa Botanics"),
        adjectives=("Hydrating", "Brightening", "Fragrance-Free", "Nourishing", "Vegan"),
        variants=("Travel Size", "Refill", "Duo", "Full Size"),
        attributes={
            "volume": ("15 ml", "30 ml", "50 ml", "100 ml", "250 ml"),
            "skin type": ("All", "Dry", "Oily", "Sensitive"),
        },
        uses=("morning routines", "sensitive skin", "a quick refresh on the go"),
        benefits=(
            "ingredients chosen by dermatologists",
            "recyclable packaging",
            "a light texture that absorbs fast",
        ),
        children=(
            Leaf(
                name="Skincare",
                nouns=("Face Serum", "Day Cream", "Cleansing Balm", "Sunscreen SPF 50"),
                prices=(9, 129),
            ),
            Leaf(
                name="Makeup",
                nouns=("Lipstick", "Mascara", "Foundation", "Eyeshadow Palette"),
                prices=(7, 69),
                attributes={"shade": ("Rose", "Nude", "Berry", "Warm Beige", "Espresso")},
            ),
            Leaf(
                name="Hair Care",
                nouns=("Shampoo", "Conditioner", "Hair Oil", "Styling Cream"),
                prices=(6, 59),
            ),
            Leaf(
                name="Fragrance",
                nouns=("Eau de Parfum", "Eau de Toilette", "Body Mist"),
                prices=(19, 189),
                attributes={"notes": ("Citrus", "Woody", "Floral", "Amber")},
            ),
        ),
    ),
    Department(
        name="Grocery",
        colour="#84cc16",
        brands=("Hearthfield", "Green Acre", "Mill & Marrow", "Saltmarsh"),
        adjectives=("Organic", "Fair Trade", "Small-Batch", "Wholegrain", "Single-Origin"),
        variants=("250 g", "500 g", "1 kg", "6-Pack", "Family Pack"),
        attributes={
            "diet": ("Vegan", "Vegetarian", "Gluten-free", "None"),
            "origin": ("Italy", "Colombia", "Kenya", "Spain", "Local farms"),
            "shelf life": ("3 months", "6 months", "12 months"),
        },
        uses=("the weekly shop", "a well-stocked pantry", "slow breakfasts"),
        benefits=(
            "ingredients traced back to the farm",
            "no artificial colours or flavourings",
            "packaging that is fully recyclable",
        ),
        children=(
            Leaf(
                name="Coffee & Tea",
                nouns=("Dark Roast Coffee Beans", "Ground Coffee", "Green Tea", "Earl Grey"),
                prices=(4, 39),
            ),
            Leaf(
                name="Snacks",
                nouns=("Sea Salt Crisps", "Granola Bars", "Dark Chocolate", "Trail Mix"),
                prices=(2, 19),
            ),
            Leaf(
                name="Pantry Staples",
                nouns=("Extra Virgin Olive Oil", "Basmati Rice", "Spaghetti", "Honey"),
                prices=(2, 34),
            ),
            Leaf(
                name="Beverages",
                nouns=("Sparkling Water", "Cold Brew", "Kombucha", "Orange Juice"),
                prices=(2, 24),
            ),
        ),
    ),
)

OPENINGS = (
    "{title} is made for {use}.",
    "Meet {title}, chosen for {use}.",
    "Made by {brand} with {use} in mind.",
)
MIDDLES = (
    "It comes with {benefit}.",
    "Expect {benefit}, and nothing you do not need.",
    "Customers keep mentioning {benefit}.",
    "Every detail is considered, down to {benefit}.",
)
CLOSINGS = (
    "Ships within two working days.",
    "Returns are free for 30 days.",
    "Backed by the {brand} satisfaction guarantee.",
)


def seed_catalog(*, products: int, seed: int, batch_size: int) -> SeedResult:
    """Create the demo catalog's first `products` products, adding only the missing ones."""
    leaves = _seed_categories()
    for seeded in leaves:
        _save_picture(seeded)
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
        subcategories=sum(_count_subcategories(department) for department in DEPARTMENTS),
    )


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


def draw_picture(*, label: str, colour: str) -> bytes:
    """Return a small PNG: a soft gradient in `colour`, a rounded card, and `label`."""
    base = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE))
    draw = ImageDraw.Draw(image)
    for y in range(IMAGE_SIZE):
        draw.line([(0, y), (IMAGE_SIZE, y)], fill=_tint(base, 0.82 - 0.4 * y / IMAGE_SIZE))
    draw.rounded_rectangle((70, 60, 410, 330), radius=56, fill=_tint(base, 0.93))
    draw.ellipse((170, 95, 310, 235), fill=base)
    draw.rounded_rectangle((150, 250, 330, 285), radius=18, fill=_tint(base, 0.55))
    size = 40
    font = ImageFont.load_default(size=size)
    while draw.textlength(label, font=font) > IMAGE_SIZE - 60:
        size -= 2
        font = ImageFont.load_default(size=size)
    draw.text((IMAGE_SIZE / 2, 400), label, font=font, fill=_shade(base, 0.45), anchor="mm")
    output = io.BytesIO()
    image.quantize(colors=64).save(output, format="PNG", optimize=True)
    return output.getvalue()


def _seed_categories() -> list[SeededLeaf]:
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


def _count_subcategories(department: Department) -> int:
    return sum(
        1 + (len(child.children) if isinstance(child, Group) else 0)
        for child in department.children
    )


def _save_picture(seeded: SeededLeaf) -> None:
    if default_storage.exists(seeded.image):
        return
    picture = draw_picture(label=seeded.leaf.name, colour=seeded.department.colour)
    default_storage.save(seeded.image, ContentFile(picture))


def _seed_batch(
    *, numbers: range, seed: int, leaves: Sequence[SeededLeaf], anchor: datetime
) -> int:
    """Insert the products of `numbers` not there yet; return how many were inserted."""
    skus = (sku_for(numbers[0]), sku_for(numbers[-1]))
    with transaction.atomic():
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


def _tint(colour: tuple[int, ...], amount: float) -> tuple[int, ...]:
    return tuple(round(channel + (255 - channel) * amount) for channel in colour)


def _shade(colour: tuple[int, ...], amount: float) -> tuple[int, ...]:
    return tuple(round(channel * amount) for channel in colour)
