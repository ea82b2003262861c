"""The catalog's REST API: categories, products and search under /api/v1/."""

from dataclasses import asdict

from django.http import HttpResponse
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import rendered
from catalog.inputs import ProductQueryInput, SearchInput, parse_product_query
from catalog.models import shop_currency
from catalog.read_models import CategoryNode, ProductCard
from catalog.selectors import (
    ProductQuery,
    get_category_tree,
    get_product_detail,
    get_product_page,
)
from shop.links import absolute_url
from shop.ratelimits import ratelimit

# --- Output -------------------------------------------------------------------------------


class CategoryRefOutput(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField()


class ProductOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
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

    def get_currency(self, product: ProductCard) -> str:
        return shop_currency()  # the shop's one currency, never a product's own (issue 12)

    def get_image(self, product: ProductCard) -> str | None:
        return absolute_url(product.image) if product.image else None


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
    def get_children(self, node: CategoryNode) -> list:
        return CategoryOutput(node.children, many=True).data


ProductPageOutput = inline_serializer(
    name="ProductPage",
    fields={
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": ProductOutput(many=True),
    },
)


def _page_response(*, request: Request, query: ProductQuery) -> HttpResponse:
    """Answer with one page of products: results serialized once per page, links per request."""
    return rendered.products_json(
        request,
        params=asdict(query),
        kind="search" if query.q else "category",
        build=lambda: get_product_page(query=query),
        results=lambda page: ProductOutput(page.results, many=True).data,
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
    def get(self, request: Request) -> HttpResponse:
        query = parse_product_query(params=request.query_params)
        return _page_response(request=request, query=query)


class ProductDetailView(APIView):
    @method_decorator(ratelimit("browsing"))
    @extend_schema(
        responses=ProductDetailOutput,
        summary="One product, by slug",
        operation_id="products_retrieve",
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        def render() -> rendered.Priced:
            product = get_product_detail(slug=slug)
            body = JSONRenderer().render(ProductDetailOutput(product).data)
            return rendered.Priced(
                pk=product.pk, price=product.price, stock=product.stock, body=body
            )

        return rendered.product_json(slug=slug, render=render)


class SearchView(APIView):
    @method_decorator(ratelimit("search"))
    @extend_schema(
        parameters=[SearchInput],
        responses=ProductPageOutput,
        summary="Full-text product search",
        operation_id="search",
    )
    def get(self, request: Request) -> HttpResponse:
        query = parse_product_query(params=request.query_params, input_class=SearchInput)
        return _page_response(request=request, query=query)
