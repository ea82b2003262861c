"""Catalog pages and API answers kept as bytes: rendered once per page and catalog version, then
served to every shopper with only their own parts filled in (shop/shared_pages.py).

A rendered entry is keyed like the data it shows (under the catalog version, so an edit makes it
unreachable at once) and lives no longer than that data's entry has left, so it is never staler
than the TTL table allows. Price and stock move faster: a product's page and API answer keep the
price and stock they were rendered with and are rendered again when the product's offer (dropped
whenever an order takes stock) says otherwise.

A storefront page is keyed by its whole path, so its links keep the shopper's own query string;
a request with a parameter the page does not read is rendered and not cached (no one can fill
the cache with made-up queries).
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.urls import replace_query_param

from catalog import cache as catalog_cache
from catalog.read_models import ProductPage
from catalog.selectors import get_product_offers
from shop.links import absolute_url
from shop.observability import record_cache_lookup
from shop.shared_pages import SharedPage, fill

JSON = "application/json"


Body = TypeVar("Body", SharedPage, bytes)


@dataclass(frozen=True)
class Priced(Generic[Body]):
    """A rendered product (a page or JSON), with the price and stock it shows."""

    pk: int
    price: Decimal
    stock: int
    body: Body

    def shows_current_offer(self) -> bool:
        offer = get_product_offers(pks=[self.pk]).get(self.pk)
        return offer is not None and (offer.price, offer.stock) == (self.price, self.stock)


@dataclass(frozen=True)
class ListedPage:
    """An API page of products without its links, which name the request's own query."""

    count: int
    page: int
    num_pages: int
    results: bytes


def _served(kind: str) -> None:
    # A request answered from rendered bytes counts as a hit of its data's kind; one rendered
    # again counts the data's own lookup, hit or miss, so each request counts once.
    record_cache_lookup(kind, hit=True)


def _keep(*, name: str, version: int, value: object, data_name: str, kind: str) -> None:
    data_key = catalog_cache.key_of(data_name, version=version)
    lifetime = catalog_cache.remaining_lifetime(key=data_key, kind=kind)
    cache.set(catalog_cache.key_of(name, version=version), value, timeout=lifetime)


def _reads_only(request: HttpRequest, params: Collection[str]) -> bool:
    return request.method in ("GET", "HEAD") and all(key in params for key in request.GET)


def page(
    request: HttpRequest,
    *,
    view: str,
    params: Collection[str],
    data_name: str,
    kind: str,
    render: Callable[[], SharedPage],
) -> HttpResponse:
    """Answer with the page `render` makes, cached while the data `data_name` lives."""
    if not _reads_only(request, params):
        return fill(render(), request)
    name = catalog_cache.rendered_name(view=view, params={"path": request.get_full_path()})
    got = catalog_cache.read(names=[name])
    shared = got.values[name]
    if shared is None:
        shared = render()
        _keep(name=name, version=got.version, value=shared, data_name=data_name, kind=kind)
    else:
        _served(kind)
    return fill(shared, request)


def product_page(request: HttpRequest, *, slug: str, render: Callable[[], Priced]) -> HttpResponse:
    """Answer with a product's page, rendered again when its price or stock moved."""
    if not _reads_only(request, ()):
        return fill(render().body, request)
    name = catalog_cache.rendered_name(view="product", params={"path": request.get_full_path()})
    got = catalog_cache.read(names=[name])
    priced = got.values[name]
    if priced is None or not priced.shows_current_offer():
        priced = render()
        data_name = catalog_cache.product_name(slug=slug)
        _keep(name=name, version=got.version, value=priced, data_name=data_name, kind="product")
    else:
        _served("product")
    return fill(priced.body, request)


def product_json(*, slug: str, render: Callable[[], Priced[bytes]]) -> HttpResponse:
    """Answer with a product's API representation, serialized again when its offer moved."""
    name = catalog_cache.rendered_name(view="api-product", params={"slug": slug})
    got = catalog_cache.read(names=[name])
    priced = got.values[name]
    if priced is None or not priced.shows_current_offer():
        priced = render()
        data_name = catalog_cache.product_name(slug=slug)
        _keep(name=name, version=got.version, value=priced, data_name=data_name, kind="product")
    else:
        _served("product")
    return HttpResponse(priced.body, content_type=JSON)


def products_json(
    request: HttpRequest,
    *,
    params: dict[str, Any],
    kind: str,
    build: Callable[[], ProductPage],
    results: Callable[[ProductPage], Any],
) -> HttpResponse:
    """Answer with a page of products: its results serialized once, its links per request."""
    name = catalog_cache.rendered_name(view="api-products", params=params)
    got = catalog_cache.read(names=[name])
    listed = got.values[name]
    if listed is None:
        products = build()
        listed = ListedPage(
            count=products.count,
            page=products.page,
            num_pages=products.num_pages,
            results=JSONRenderer().render(results(products)),
        )
        data_name = catalog_cache.product_page_name(params=params)
        _keep(name=name, version=got.version, value=listed, data_name=data_name, kind=kind)
    else:
        _served(kind)
    url = absolute_url(request.get_full_path())
    number = listed.page
    links = {
        "count": listed.count,
        "next": replace_query_param(url, "page", number + 1) if number < listed.num_pages else None,
        "previous": replace_query_param(url, "page", number - 1) if number > 1 else None,
    }
    # {"count":..,"next":..,"previous":..} with the results spliced in before its closing brace.
    body = JSONRenderer().render(links)[:-1] + b',"results":' + listed.results + b"}"
    return HttpResponse(body, content_type=JSON)
