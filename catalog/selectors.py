"""Catalog reads: querysets shaped for one page or endpoint, behind the catalog cache.

Everything returned here is plain data (dicts and lists) so that it can be cached as it is and
rendered by both the storefront templates and the API serializers.
"""

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.core.cache import cache
from django.db import connection
from django.db.models import F, Q, QuerySet

from catalog import cache as catalog_cache
from catalog.exceptions import CategoryNotFound, PageNotFound, ProductNotFound
from catalog.models import Category, Product
from shop.db_router import PRIMARY, read_fresh, replica_catch_up_seconds

ORDERINGS = {
    "newest": ("-created_at", "-pk"),
    "-newest": ("created_at", "pk"),
    "price": ("price", "pk"),
    "-price": ("-price", "-pk"),
    "title": ("title", "pk"),
    "-title": ("-title", "-pk"),
}
DEFAULT_ORDERING = "newest"
HOME_FEATURED_COUNT = 8
SEARCH_CONFIG = "english"


@dataclass(frozen=True)
class ProductQuery:
    """One validated product listing request: filters, ordering and page."""

    category: str | None = None
    q: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    ordering: str | None = None
    page: int = 1
    page_size: int = settings.CATALOG_PAGE_SIZE


# --- Categories ---------------------------------------------------------------------------


def _visible_category_pks(rows: Iterable[tuple[int, int | None, bool]]) -> set[int]:
    """Return the pks of the categories shoppers see: active, under active ones up to the root."""
    parents: dict[int, int | None] = {}
    active: set[int] = set()
    for category_pk, parent_pk, is_active in rows:
        parents[category_pk] = parent_pk
        if is_active:
            active.add(category_pk)
    visible: dict[int, bool] = {}
    pk: int | None
    for pk in parents:
        path: list[int] = []
        while pk is not None and pk not in visible and pk not in path:
            path.append(pk)
            pk = parents.get(pk)
        # A root's parent is None (shown); a loop (refused by Category.clean) is hidden.
        shown = pk is None or visible.get(pk, False)
        for step in reversed(path):
            shown = shown and step in active
            visible[step] = shown
    return {pk for pk, shown in visible.items() if shown}


def _build_category_tree() -> dict[str, Any]:
    rows = list(
        Category.objects.order_by("position", "name").values(
            "pk", "name", "slug", "parent_id", "description", "is_active"
        )
    )
    shown = _visible_category_pks((row["pk"], row["parent_id"], row["is_active"]) for row in rows)
    nodes: dict[int, dict[str, Any]] = {
        row["pk"]: {
            "pk": row["pk"],
            "name": row["name"],
            "slug": row["slug"],
            "parent_id": row["parent_id"],
            "description": row["description"],
            "children": [],
        }
        for row in rows
        if row["pk"] in shown
    }
    roots: list[dict[str, Any]] = []
    for node in nodes.values():
        parent = node["parent_id"]
        (nodes[parent]["children"] if parent is not None else roots).append(node)
    by_slug: dict[str, dict[str, Any]] = {}

    def index(node: dict[str, Any], ancestors: list[dict[str, str]]) -> list[int]:
        pks = [node["pk"]]
        for child in node["children"]:
            pks += index(child, [*ancestors, {"name": node["name"], "slug": node["slug"]}])
        by_slug[node["slug"]] = {
            "pk": node["pk"],
            "name": node["name"],
            "slug": node["slug"],
            "description": node["description"],
            "ancestors": ancestors,
            "children": [{"name": c["name"], "slug": c["slug"]} for c in node["children"]],
            "subtree_pks": pks,
        }
        return pks

    for root in roots:
        index(root, [])
    hidden = sorted(row["pk"] for row in rows if row["pk"] not in shown)
    return {"roots": roots, "by_slug": by_slug, "hidden_pks": hidden}


def _category_tree() -> dict[str, Any]:
    return catalog_cache.cached(
        catalog_cache.category_tree_key(), "category", _build_category_tree, label="category_tree"
    )


def get_category_tree() -> list[dict[str, Any]]:
    """Return the active category tree: roots, each with its nested `children`."""
    return _category_tree()["roots"]


def get_category(*, slug: str) -> dict[str, Any]:
    """Return one active category with its ancestors, children and subtree; else raise."""
    category = _category_tree()["by_slug"].get(slug)
    if category is None:
        raise CategoryNotFound(f"No category with the slug '{slug}'.")
    return category


# --- Products -----------------------------------------------------------------------------


def hidden_category_pks(*, fresh: bool = False) -> list[int]:
    """Return the pks of categories hidden from shoppers: inactive, or under an inactive one.

    From the cached category tree, or with `fresh` from the database as it is now (checkout).
    """
    if fresh:
        rows = list(Category.objects.values_list("pk", "parent_id", "is_active"))
        shown = _visible_category_pks(rows)
        return [pk for pk, _, _ in rows if pk not in shown]
    return _category_tree()["hidden_pks"]


def for_sale(products: QuerySet[Product], *, fresh: bool = False) -> QuerySet[Product]:
    """Narrow `products` to those for sale: active, priced above zero, every category up active.

    The one definition, used by listings, search, the product page, the cart's offers and the
    reservation at checkout (`fresh`: categories read now, not from the cache).
    """
    products = products.filter(is_active=True, price__gt=0)
    hidden = hidden_category_pks(fresh=fresh)
    return products.exclude(category_id__in=hidden) if hidden else products


def _listed_products() -> QuerySet[Product]:
    return (
        for_sale(Product.objects.all())
        .select_related("category")
        .only(
            "pk",
            "sku",
            "slug",
            "title",
            "brand",
            "price",
            "stock",
            "image",
            "is_featured",
            "created_at",
            "category__name",
            "category__slug",
        )
    )


def product_card(product: Product) -> dict[str, Any]:
    """Return what a listing shows of a product."""
    return {
        "id": product.pk,
        "sku": product.sku,
        "slug": product.slug,
        "title": product.title,
        "brand": product.brand,
        "price": product.price,
        "stock": product.stock,
        "in_stock": product.stock > 0,
        "image": product.image.url if product.image else "",
        "category": {"name": product.category.name, "slug": product.category.slug},
        "created_at": product.created_at,
    }


def _search(products: QuerySet[Product], text: str) -> QuerySet[Product]:
    """Filter to products matching `text`, ranked by relevance (PostgreSQL) or title match."""
    if connection.vendor == "postgresql":
        query = SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)
        matches = products.filter(search_vector=query)
        if matches.exists():
            return matches.annotate(rank=SearchRank(F("search_vector"), query)).order_by(
                "-rank", "pk"
            )
        # No word matched: the title within a small typo of the words (pg_trgm). Only then,
        # because a trigram match of a common word is a large set to rank on a big catalog.
        return (
            products.filter(title__trigram_word_similar=text)
            .annotate(similarity=TrigramWordSimilarity(text, "title"))
            .order_by("-similarity", "pk")
        )
    for word in text.split():
        products = products.filter(
            Q(title__icontains=word) | Q(brand__icontains=word) | Q(description__icontains=word)
        )
    return products.order_by("title", "pk")


def _filtered(query: ProductQuery) -> QuerySet[Product]:
    products = _listed_products()
    if query.category:
        products = products.filter(category_id__in=get_category(slug=query.category)["subtree_pks"])
    if query.min_price is not None:
        products = products.filter(price__gte=query.min_price)
    if query.max_price is not None:
        products = products.filter(price__lte=query.max_price)
    if query.in_stock is not None:
        products = products.filter(stock__gt=0) if query.in_stock else products.filter(stock=0)
    if query.q:
        products = _search(products, query.q)
    if query.ordering or not query.q:
        products = products.order_by(*ORDERINGS[query.ordering or DEFAULT_ORDERING])
    return products


def _build_product_page(query: ProductQuery) -> dict[str, Any]:
    products = _filtered(query)
    # Never COUNT(*) a million rows per request: count at most CATALOG_COUNT_CAP of them (a
    # LIMITed subquery), and serve pages up to there, as a search engine's "about 10,000".
    cap = settings.CATALOG_COUNT_CAP
    count = products.order_by()[: cap + 1].count()
    capped = count > cap
    count = min(count, cap)
    num_pages = max(1, math.ceil(count / query.page_size))
    if query.page > num_pages:
        raise PageNotFound(f"Invalid page {query.page}: the last page is {num_pages}.")
    start = (query.page - 1) * query.page_size
    return {
        "count": count,
        "count_capped": capped,
        "page": query.page,
        "page_size": query.page_size,
        "num_pages": num_pages,
        "results": [product_card(p) for p in _page(products, query, start)],
    }


def _page(products: QuerySet[Product], query: ProductQuery, start: int) -> list[Product]:
    """Return the page's products, merging per-category index scans for a parent category.

    `category_id IN (...)` ordered by price cannot walk the (category, price) index, so on a
    big catalog PostgreSQL would scan the whole price index; one ordered, limited scan per
    category, merged, reads at most a page's worth from each.
    """
    end = start + query.page_size
    subtree = get_category(slug=query.category)["subtree_pks"] if query.category else []
    if len(subtree) < 2 or query.q or connection.vendor != "postgresql":
        return list(products[start:end])
    ordering = ORDERINGS[query.ordering or DEFAULT_ORDERING]
    columns = [field.lstrip("-") for field in ordering]
    parts = [
        products.filter(category_id=pk).order_by(*ordering).values_list(*columns)[:end]
        for pk in subtree
    ]
    merged = parts[0].union(*parts[1:], all=True).order_by(*ordering)[start:end]
    pks = [row[columns.index("pk")] for row in merged]
    found = {product.pk: product for product in products.filter(pk__in=pks)}
    return [found[pk] for pk in pks if pk in found]


def get_product_page(*, query: ProductQuery) -> dict[str, Any]:
    """Return one page of products: `{count, page, page_size, num_pages, results}`.

    Cached per query: searches for the search TTL, plain listings for the category TTL.
    """
    if query.category:
        get_category(slug=query.category)  # an unknown category is a 404, not an empty page
    return catalog_cache.cached(
        catalog_cache.product_page_key(asdict(query)),
        "search" if query.q else "category",
        lambda: _build_product_page(query),
    )


def _build_product_detail(slug: str) -> dict[str, Any] | None:
    product = (
        for_sale(Product.objects.filter(slug=slug))
        .select_related("category")
        .defer("search_vector")
        .first()
    )
    if product is None:
        return None
    category = get_category(slug=product.category.slug)
    if product._state.db == PRIMARY:  # a replica's stock may be behind: leave offers to the primary
        _remember_offers({product.pk: _offer(product)})  # spares get_product_detail a query
    return {
        **product_card(product),
        "description": product.description,
        "attributes": product.attributes,
        "low_stock": product.low_stock,
        "breadcrumbs": [
            *category["ancestors"],
            {"name": category["name"], "slug": category["slug"]},
        ],
        "updated_at": product.updated_at,
    }


def get_product_detail(*, slug: str) -> dict[str, Any]:
    """Return one active product with its description, attributes and breadcrumbs; else raise."""
    detail = catalog_cache.cached(
        catalog_cache.product_key(slug), "product", lambda: _build_product_detail(slug) or {}
    )
    if not detail:
        raise ProductNotFound(f"No product with the slug '{slug}'.")
    # Price and stock move faster than the rest: they come from the product's offer, which
    # lives for the price TTL and is dropped whenever an order takes or returns stock.
    offer = get_product_offers(pks=[detail["id"]]).get(detail["id"])
    if offer is None:
        raise ProductNotFound(f"No product with the slug '{slug}'.")
    stock = offer["stock"]
    return {
        **detail,
        "price": offer["price"],
        "stock": stock,
        "in_stock": stock > 0,
        "low_stock": 0 < stock <= settings.LOW_STOCK_THRESHOLD,
    }


def _offer(product: Product) -> dict[str, Any]:
    return {
        "pk": product.pk,
        "slug": product.slug,
        "title": product.title,
        "price": product.price,
        "stock": product.stock,
        "image": product.image.url if product.image else "",
    }


def _remember_offers(offers: dict[int, dict[str, Any]], *, fresh: bool = True) -> None:
    keys = catalog_cache.offer_keys(offers)
    lifetime = catalog_cache.ttl("price") if fresh else math.ceil(replica_catch_up_seconds())
    cache.set_many({keys[pk]: offer for pk, offer in offers.items()}, lifetime)


def get_product_offers(*, pks: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Return what a cart needs of each product for sale among `pks`: title, price, stock.

    Cached per product for the price TTL; one cache round trip, and one query for the misses.
    Products that do not exist or are not for sale are absent from the result.
    """
    keys = catalog_cache.offer_keys(set(pks))
    found = cache.get_many(list(keys.values()))
    missing = [pk for pk, key in keys.items() if key not in found]
    if missing:
        offers: dict[int, dict[str, Any]] = {
            pk: {} for pk in missing
        }  # {}: remembered as not for sale
        # From the primary: a replica still behind could cache stock an order just took. While
        # the primary is away, from a replica, kept briefly (orders check stock on the primary).
        listed, fresh = read_fresh(lambda: list(_listed_products().filter(pk__in=missing)))
        offers.update({product.pk: _offer(product) for product in listed})
        _remember_offers(offers, fresh=fresh)
        found.update({keys[pk]: offer for pk, offer in offers.items()})
    return {pk: found[key] for pk, key in keys.items() if found.get(key)}


def _build_home() -> dict[str, Any]:
    featured = _listed_products().filter(is_featured=True).order_by("-created_at", "-pk")
    cards = [product_card(p) for p in featured[:HOME_FEATURED_COUNT]]
    if len(cards) < HOME_FEATURED_COUNT:
        newest = _listed_products().exclude(pk__in=[c["id"] for c in cards]).order_by("-created_at")
        cards += [product_card(p) for p in newest[: HOME_FEATURED_COUNT - len(cards)]]
    return {"featured": cards}


def get_home() -> dict[str, Any]:
    """Return the home page's featured products (topped up with the newest)."""
    return catalog_cache.cached(catalog_cache.home_key(), "home", _build_home)
