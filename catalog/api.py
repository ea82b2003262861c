"""The catalog's REST API: categories, products and search under /api/v1/."""

import re
from decimal import Decimal

from django.conf import settings
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from catalog.models import shop_currency
from catalog.selectors import (
    ORDERINGS,
    ProductQuery,
    get_category_tree,
    get_product_detail,
    get_product_page,
)
from shop.inputs import WholeNumberField
from shop.links import absolute_url
from shop.ratelimits import ratelimit

# --- Input --------------------------------------------------------------------------------

# A price bound as the schema states it: plain digits, then at most 2 decimals. Decimal()
# alone also took "-5", "1e3" and " 5 " where the schema allowed "-" and "." (issue 11).
PRICE_PATTERN = r"^[0-9]{1,8}(\.[0-9]{1,2})?$"


@extend_schema_field({"type": "string", "format": "decimal", "pattern": PRICE_PATTERN})
class PriceBoundField(serializers.DecimalField):
    """A price in a query string, never negative: exactly what PRICE_PATTERN allows."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=10, decimal_places=2, min_value=Decimal("0"), **kwargs)

    def to_internal_value(self, data) -> Decimal:
        if not isinstance(data, str) or not re.fullmatch(PRICE_PATTERN, data):
            self.fail("invalid")
        return super().to_internal_value(data)


class ProductQueryInput(serializers.Serializer):
    """The product list's query parameters; also validates the storefront's listings."""

    category = serializers.SlugField(required=False, max_length=140, help_text="Category slug")
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=settings.SEARCH_MAX_QUERY_LENGTH,
        help_text="Words to search for",
    )
    min_price = PriceBoundField(required=False)
    max_price = PriceBoundField(required=False)
    in_stock = serializers.BooleanField(required=False)
    ordering = serializers.ChoiceField(required=False, choices=sorted(ORDERINGS))
    page = WholeNumberField(required=False, min_value=1, max_value=1_000_000, default=1)
    page_size = WholeNumberField(
        required=False,
        min_value=1,
        max_value=settings.CATALOG_MAX_PAGE_SIZE,
        default=settings.CATALOG_PAGE_SIZE,
    )

    def validate_q(self, value: str) -> str | None:
        return " ".join(value.split()) or None

    def validate(self, data: dict) -> dict:
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"min_price": "Must not be above max_price."})
        return data

    def to_query(self) -> ProductQuery:
        return ProductQuery(**self.validated_data)


class SearchInput(ProductQueryInput):
    q = serializers.CharField(max_length=settings.SEARCH_MAX_QUERY_LENGTH, help_text="Words")


def parse_product_query(params, serializer_class=ProductQueryInput) -> ProductQuery:
    """Validate listing parameters (a QueryDict or dict) into a ProductQuery, or raise a 400.

    A blank parameter is refused like any bad value: the schema says so (the storefront drops
    its form's empty fields before calling this). A plain dict, because DRF reads a QueryDict's
    blanks as absent.
    """
    body = serializer_class(data={key: params.get(key) for key in params})
    body.is_valid(raise_exception=True)
    return body.to_query()


# --- Output -------------------------------------------------------------------------------


class CategoryRefOutput(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField()


class ProductOutput(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    slug = serializers.CharField()
    title = serializers.CharField()
    brand = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.SerializerMethodField(help_text="The shop's currency (ISO 4217)")
    stock = serializers.IntegerField(help_text="Units available")
    in_stock = serializers.BooleanField()
    image = serializers.SerializerMethodField()
    category = CategoryRefOutput()

    def get_currency(self, product: dict) -> str:
        return shop_currency()  # the shop's one currency, never a product's own (issue 12)

    def get_image(self, product: dict) -> str | None:
        return absolute_url(product["image"]) if product["image"] else None


class ProductDetailOutput(ProductOutput):
    description = serializers.CharField()
    attributes = serializers.DictField()
    breadcrumbs = CategoryRefOutput(many=True)


class CategoryOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    slug = serializers.CharField()
    children = serializers.SerializerMethodField()

    @extend_schema(exclude=True)
    def get_children(self, node: dict) -> list:
        return CategoryOutput(node["children"], many=True).data


ProductPageOutput = inline_serializer(
    name="ProductPage",
    fields={
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": ProductOutput(many=True),
    },
)


def _page_response(request: Request, page: dict) -> Response:
    url = absolute_url(request.get_full_path())
    number = page["page"]
    return Response(
        {
            "count": page["count"],
            "next": replace_query_param(url, "page", number + 1)
            if number < page["num_pages"]
            else None,
            "previous": replace_query_param(url, "page", number - 1) if number > 1 else None,
            "results": ProductOutput(page["results"], many=True).data,
        }
    )


# --- Views --------------------------------------------------------------------------------


class CategoryTreeView(APIView):
    @extend_schema(
        responses=CategoryOutput(many=True),
        summary="The category tree",
        operation_id="categories_list",
    )
    def get(self, request: Request) -> Response:
        return Response(CategoryOutput(get_category_tree(), many=True).data)


class ProductListView(APIView):
    @method_decorator(ratelimit("browsing"))
    @extend_schema(
        parameters=[ProductQueryInput],
        responses=ProductPageOutput,
        summary="List products",
        operation_id="products_list",
    )
    def get(self, request: Request) -> Response:
        page = get_product_page(query=parse_product_query(request.query_params))
        return _page_response(request, page)


class ProductDetailView(APIView):
    @method_decorator(ratelimit("browsing"))
    @extend_schema(
        responses=ProductDetailOutput,
        summary="One product, by slug",
        operation_id="products_retrieve",
    )
    def get(self, request: Request, slug: str) -> Response:
        product = get_product_detail(slug=slug)
        return Response(ProductDetailOutput(product).data)


class SearchView(APIView):
    @method_decorator(ratelimit("search"))
    @extend_schema(
        parameters=[SearchInput],
        responses=ProductPageOutput,
        summary="Full-text product search",
        operation_id="search",
    )
    def get(self, request: Request) -> Response:
        page = get_product_page(query=parse_product_query(request.query_params, SearchInput))
        return _page_response(request, page)
