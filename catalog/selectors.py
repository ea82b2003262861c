"""Catalog reads: querysets shaped for one page or endpoint, behind the catalog cache.

Everything returned here is a read model (catalog/read_models.py): a frozen value that is cached
as it is and rendered by both the storefront templates and the API serializers.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.core.cache import cache
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.urls import reverse

from catalog import cache as catalog_cache
from catalog.exceptions import CategoryNotFound, PageNotFound, ProductNotFound
from catalog.models import Category, Product
from catalog.read_models import (
    CategoryDetail,
    CategoryLink,
    CategoryNode,
    CategoryTree,
    HomePage,
    Offer,
    ProductCard,
    ProductDetail,
    ProductPage,
    in_stock_condition,
)
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
# Cached for a product that does not exist or is not for sale; falsy, unlike any read model.
NOT_FOR_SALE: Literal[False] = False
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
    page_size: int = field(default_factory=lambda: settings.CATALOG_PAGE_SIZE)


# --- Categories ---------------------------------------------------------------------------


def _visible_category_pks(*, rows: Iterable[tuple[int, int | None, bool]]) -> set[int]:
    """Return the pks of the categories shoppers see: active, under active ones up to the root."""
    parents: dict[int, int | None] = {}
    active: set[int] = set()
    for pk, parent_pk, is_active in rows:
        parents[pk] = parent_pk
        if is_active:
            active.add(pk)
    visible: dict[int, bool] = {}
    for start in parents:
        path: list[int] = []
        above: int | None = start
        while above is not None and above not in visible and above not in path:
            path.append(above)
            above = parents.get(above)
        # A root's parent is None (shown); a loop (refused by Category.clean) is hidden.
        shown = above is None or visible.get(above, False)
        for step in reversed(path):
            shown = shown and step in active
            visible[step] = shown
    return {pk for pk, shown in visible.items() if shown}


def _category_url(*, slug: str) -> str:
    return reverse("catalog:category", kwargs={"slug": slug})


def _build_category_tree() -> CategoryTree:
    rows = list(
        Category.objects.order_by("position", "name").values(
            "pk", "name", "slug", "parent_id", "description", "is_active"
        )
    )
    shown = _visible_category_pks(
        rows=((row["pk"], row["parent_id"], row["is_active"]) for row in rows)
    )
    children: dict[int | None, list[Mapping[str, Any]]] = {}
    for row in rows:
        if row["pk"] in shown:
            children.setdefault(row["parent_id"], []).append(row)
    by_slug: dict[str, CategoryDetail] = {}

    def node(
        *, row: Mapping[str, Any], ancestors: tuple[CategoryLink, ...]
    ) -> tuple[CategoryNode, list[int]]:
        """Return the row's node and the pks of its subtree, indexing its detail by slug."""
        link = CategoryLink(name=row["name"], slug=row["slug"], url=_category_url(slug=row["slug"]))
        nodes, pks = [], [row["pk"]]
        for child in children.get(row["pk"], []):
            child_node, child_pks = node(row=child, ancestors=(*ancestors, link))
            nodes.append(child_node)
            pks += child_pks
        by_slug[row["slug"]] = CategoryDetail(
            pk=row["pk"],
            name=row["name"],
            slug=row["slug"],
            description=row["description"],
            url=link.url,
            ancestors=ancestors,
            children=tuple(
                CategoryLink(name=child.name, slug=child.slug, url=child.url) for child in nodes
            ),
            subtree_pks=tuple(pks),
        )
        made = CategoryNode(
            pk=row["pk"],
            name=row["name"],
            slug=row["slug"],
            description=row["description"],
            url=link.url,
            children=tuple(nodes),
        )
        return made, pks

    roots = tuple(node(row=row, ancestors=())[0] for row in children.get(None, []))
    hidden = tuple(sorted(row["pk"] for row in rows if row["pk"] not in shown))
    return CategoryTree(roots=roots, by_slug=by_slug, hidden_pks=hidden)


def _category_tree() -> CategoryTree:
    return catalog_cache.cached(
        name=catalog_cache.CATEGORY_TREE,
        kind="category",
        build=_build_category_tree,
        label="category_tree",
    )


def get_category_tree() -> tuple[CategoryNode, ...]:
    """Return the shown category tree: roots, each with its nested `children`."""
    return _category_tree().roots


def get_category(*, slug: str) -> CategoryDetail:
    """Return one shown category with its ancestors, children and subtree; else raise."""
    category = _category_tree().by_slug.get(slug)
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
        shown = _visible_category_pks(rows=rows)
        return [pk for pk, _, _ in rows if pk not in shown]
    return list(_category_tree().hidden_pks)


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


def _card_fields(*, product: Product) -> dict[str, Any]:
    """Return the fields of the product's card, for a ProductCard or a ProductDetail."""
    category = product.category
    return {
        "pk": product.pk,
        "sku": product.sku,
        "slug": product.slug,
        "title": product.title,
        "brand": product.brand,
        "price": product.price,
        "stock": product.stock,
        "image": product.image.url if product.image else "",
        "category": CategoryLink(
            name=category.name, slug=category.slug, url=_category_url(slug=category.slug)
        ),
        "created_at": product.created_at,
        "url": product.get_absolute_url(),
    }


def _product_card(*, product: Product) -> ProductCard:
    return ProductCard(**_card_fields(product=product))


def _search(*, products: QuerySet[Product], text: str) -> QuerySet[Product]:
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


def _filtered(*, query: ProductQuery) -> QuerySet[Product]:
    """Return the products the query asks for, in its order (relevance for a search)."""
    products = _listed_products()
    if query.category:
        products = products.filter(category_id__in=get_category(slug=query.category).subtree_pks)
    if query.min_price is not None:
        products = products.filter(price__gte=query.min_price)
    if query.max_price is not None:
        products = products.filter(price__lte=query.max_price)
    if query.in_stock is not None:
        stocked = in_stock_condition()
        products = products.filter(stocked) if query.in_stock else products.exclude(stocked)
    if query.q:
        products = _search(products=products, text=query.q)
    if query.ordering or not query.q:
        products = products.order_by(*ORDERINGS[query.ordering or DEFAULT_ORDERING])
    return products


def _build_product_page(*, query: ProductQuery) -> ProductPage:
    products = _filtered(query=query)
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
    return ProductPage(
        count=count,
        count_capped=capped,
        page=query.page,
        page_size=query.page_size,
        num_pages=num_pages,
        results=tuple(
            _product_card(product=product)
            for product in _page(products=products, query=query, start=start)
        ),
    )


def _page(*, products: QuerySet[Product], query: ProductQuery, start: int) -> list[Product]:
    """Return the page's products, merging per-category index scans for a parent category.

    `category_id IN (...)` ordered by price cannot walk the (category, price) index, so on a
    big catalog PostgreSQL would scan the whole price index; one ordered, limited scan per
    category, merged, reads at most a page's worth from each.
    """
    end = start + query.page_size
    subtree = get_category(slug=query.category).subtree_pks if query.category else ()
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


def get_product_page(*, query: ProductQuery) -> ProductPage:
    """Return one page of the products the query asks for, or raise PageNotFound past the last.

    Cached per query: searches for the search TTL, plain listings for the category TTL.
    """
    if query.category:
        get_category(slug=query.category)  # an unknown category is a 404, not an empty page
    return catalog_cache.cached(
        name=catalog_cache.product_page_name(params=asdict(query)),
        kind="search" if query.q else "category",
        build=lambda: _build_product_page(query=query),
    )


def _build_product_detail(*, slug: str) -> ProductDetail | Literal[False]:
    product = (
        for_sale(Product.objects.filter(slug=slug))
        .select_related("category")
        .defer("search_vector")
        .first()
    )
    if product is None:
        return NOT_FOR_SALE
    category = get_category(slug=product.category.slug)
    if product._state.db == PRIMARY:  # a replica's stock may be behind: leave offers to the primary
        _remember_offers(  # spares a query below
            offers={product.pk: _offer(product=product)}, version=catalog_cache.catalog_version()
        )
    return ProductDetail(
        **_card_fields(product=product),
        description=product.description,
        attributes=product.attributes,
        breadcrumbs=(
            *category.ancestors,
            CategoryLink(name=category.name, slug=category.slug, url=category.url),
        ),
        updated_at=product.updated_at,
    )


def get_product_detail(*, slug: str) -> ProductDetail:
    """Return one product for sale with its description, attributes and breadcrumbs; else raise."""
    detail = catalog_cache.cached(
        name=catalog_cache.product_name(slug=slug),
        kind="product",
        build=lambda: _build_product_detail(slug=slug),
    )
    if not detail:
        raise ProductNotFound(f"No product with the slug '{slug}'.")
    # Price and stock move faster than the rest: they come from the product's offer, which
    # lives for the price TTL and is dropped whenever an order takes or returns stock.
    offer = get_product_offers(pks=[detail.pk]).get(detail.pk)
    if offer is None:
        raise ProductNotFound(f"No product with the slug '{slug}'.")
    return replace(detail, price=offer.price, stock=offer.stock)


def _offer(*, product: Product) -> Offer:
    return Offer(
        pk=product.pk,
        slug=product.slug,
        title=product.title,
        price=product.price,
        stock=product.stock,
        image=product.image.url if product.image else "",
        url=product.get_absolute_url(),
    )


def _remember_offers(
    *, offers: dict[int, Offer | Literal[False]], version: int, fresh: bool = True
) -> None:
    keys = catalog_cache.offer_keys(pks=offers, version=version)
    lifetime = catalog_cache.ttl(kind="price") if fresh else math.ceil(replica_catch_up_seconds())
    cache.set_many({keys[pk]: offer for pk, offer in offers.items()}, lifetime)


def get_product_offers(*, pks: Iterable[int]) -> dict[int, Offer]:
    """Return what a cart needs of each product for sale among `pks`: title, price, stock.

    Cached per product for the price TTL; one cache round trip, and one query for the misses.
    Products that do not exist or are not for sale are absent from the result.
    """
    names = {pk: catalog_cache.offer_name(pk=pk) for pk in set(pks)}
    got = catalog_cache.read(names=names.values())
    found = {pk: got.values[name] for pk, name in names.items()}
    missing = [pk for pk, offer in found.items() if offer is None]
    if missing:
        offers: dict[int, Offer | Literal[False]] = dict.fromkeys(missing, NOT_FOR_SALE)
        # From the primary: a replica still behind could cache stock an order just took. While
        # the primary is away, from a replica, kept briefly (orders check stock on the primary).
        listed, fresh = read_fresh(lambda: list(_listed_products().filter(pk__in=missing)))
        offers.update({product.pk: _offer(product=product) for product in listed})
        _remember_offers(offers=offers, version=got.version, fresh=fresh)
        found.update(offers)
    return {pk: offer for pk, offer in found.items() if offer}


def _build_home() -> HomePage:
    featured = _listed_products().filter(is_featured=True).order_by("-created_at", "-pk")
    cards = [_product_card(product=product) for product in featured[:HOME_FEATURED_COUNT]]
    if len(cards) < HOME_FEATURED_COUNT:
        newest = _listed_products().exclude(pk__in=[card.pk for card in cards])
        newest = newest.order_by("-created_at")[: HOME_FEATURED_COUNT - len(cards)]
        cards += [_product_card(product=product) for product in newest]
    return HomePage(featured=tuple(cards))


def get_home() -> HomePage:
    """Return the home page's featured products (topped up with the newest)."""
    return catalog_cache.cached(name=catalog_cache.HOME, kind="home", build=_build_home)
