"""The storefront's catalog pages: home, category listing, product detail and search.

Each is rendered once for every shopper and cached as bytes (catalog/rendered.py); a request
fills in its own header, messages and CSRF token (shop/shared_pages.py).
"""

from dataclasses import asdict

from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import ValidationError

from catalog import cache as catalog_cache
from catalog import rendered
from catalog.inputs import ProductQueryInput, parse_product_query
from catalog.selectors import (
    ProductQuery,
    get_category,
    get_category_tree,
    get_home,
    get_product_detail,
    get_product_page,
)
from shop.exceptions import BadRequest
from shop.inputs import error_summary
from shop.ratelimits import ratelimit
from shop.shared_pages import SharedPage, render_shared

SORT_CHOICES = [
    ("newest", "Newest"),
    ("price", "Price: low to high"),
    ("-price", "Price: high to low"),
    ("title", "Name: A to Z"),
]
LISTING_PARAMS = frozenset(ProductQueryInput().get_fields())  # what a listing's URL may carry


def _listing_query(request: HttpRequest, **fixed: str) -> ProductQuery:
    # A blank parameter counts as absent: the filter form without JavaScript sends its empty
    # fields. The API refuses them (catalog/inputs.py).
    params = {key: value for key, value in {**request.GET.dict(), **fixed}.items() if value != ""}
    try:
        return parse_product_query(params=params)
    except ValidationError as error:
        raise BadRequest(error_summary(error.detail)) from error


def home(request: HttpRequest) -> HttpResponse:
    def render() -> SharedPage:
        context = {"featured": get_home().featured, "categories": get_category_tree()}
        return render_shared(request, "catalog/home.html", context)

    return rendered.page(
        request, view="home", params=(), data_name=catalog_cache.HOME, kind="home", render=render
    )


@ratelimit("browsing")
def category(request: HttpRequest, slug: str) -> HttpResponse:
    query = _listing_query(request, category=slug)

    def render() -> SharedPage:
        context = {
            "category": get_category(slug=slug),
            "page": get_product_page(query=query),
            "query": query,
            "sort_choices": SORT_CHOICES,
        }
        return render_shared(request, "catalog/category.html", context)

    return rendered.page(
        request,
        view="category",
        params=LISTING_PARAMS - {"category"},
        data_name=catalog_cache.product_page_name(params=asdict(query)),
        kind="category",
        render=render,
    )


@ratelimit("browsing")
def product(request: HttpRequest, slug: str) -> HttpResponse:
    def render() -> rendered.Priced:
        detail = get_product_detail(slug=slug)
        shared = render_shared(request, "catalog/product.html", {"product": detail})
        return rendered.Priced(pk=detail.pk, price=detail.price, stock=detail.stock, body=shared)

    return rendered.product_page(request, slug=slug, render=render)


@ratelimit("search")
def search(request: HttpRequest) -> HttpResponse:
    query = _listing_query(request)

    def render() -> SharedPage:
        page = get_product_page(query=query) if query.q else None
        context = {"page": page, "query": query, "sort_choices": SORT_CHOICES}
        return render_shared(request, "catalog/search.html", context)

    data_name = (
        catalog_cache.product_page_name(params=asdict(query))
        if query.q
        else catalog_cache.CATEGORY_TREE
    )
    return rendered.page(
        request,
        view="search",
        params=LISTING_PARAMS,
        data_name=data_name,
        kind="search" if query.q else "category",
        render=render,
    )
