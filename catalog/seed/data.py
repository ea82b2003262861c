"""The demo catalog's words: departments, their subcategories, brands, titles and sentences.

Plain data, read by catalog.seed.products to make each product.
"""

from dataclasses import dataclass, field


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


def count_subcategories(*, department: Department) -> int:
    """Return how many categories the department holds below itself, at every level."""
    return sum(
        1 + (len(child.children) if isinstance(child, Group) else 0)
        for child in department.children
    )
