"""The storefront's catalog pages: home, category listing, product detail and search."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.exceptions import ValidationError

from catalog.inputs import parse_product_query
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

SORT_CHOICES = [
    ("newest", "Newest"),
    ("price", "Price: low to high"),
    ("-price", "Price: high to low"),
    ("title", "Name: A to Z"),
]


def _listing_query(request: HttpRequest, **fixed: str) -> ProductQuery:
    # A blank parameter counts as absent: the filter form without JavaScript sends its empty
    # fields. The API refuses them (catalog/inputs.py).
    params = {key: value for key, value in {**request.GET.dict(), **fixed}.items() if value != ""}
    try:
        return parse_product_query(params=params)
    except ValidationError as error:
        raise BadRequest(error_summary(error.detail)) from error


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "catalog/home.html",
        {"featured": get_home().featured, "categories": get_category_tree()},
    )


@ratelimit("browsing")
def category(request: HttpRequest, slug: str) -> HttpResponse:
    node = get_category(slug=slug)
    query = _listing_query(request, category=slug)
    return render(
        request,
        "catalog/category.html",
        {
            "category": node,
            "page": get_product_page(query=query),
            "query": query,
            "sort_choices": SORT_CHOICES,
        },
    )


@ratelimit("browsing")
def product(request: HttpRequest, slug: str) -> HttpResponse:
    return render(request, "catalog/product.html", {"product": get_product_detail(slug=slug)})


@ratelimit("search")
def search(request: HttpRequest) -> HttpResponse:
    query = _listing_query(request)
    page = get_product_page(query=query) if query.q else None
    return render(
        request,
        "catalog/search.html",
        {"page": page, "query": query, "sort_choices": SORT_CHOICES},
    )
