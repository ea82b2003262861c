"""The cart API: /api/v1/cart/ and its items, reached only through the caller's session or token."""

from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from carts.inputs import AddItemInput, SetQuantityInput
from carts.selectors import get_cart
from carts.services import add_to_cart, remove_line, set_line_quantity
from shop.customers import Customer
from shop.ratelimits import ratelimit


class CartItemOutput(serializers.Serializer):
    product_id = serializers.IntegerField(source="product_pk")
    slug = serializers.CharField()
    title = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    quantity = serializers.IntegerField()
    line_total = serializers.DecimalField(max_digits=14, decimal_places=2)
    price_when_added = serializers.DecimalField(max_digits=12, decimal_places=2)
    price_changed = serializers.BooleanField()
    available = serializers.IntegerField(help_text="Units in stock now")
    in_stock = serializers.BooleanField()
    problem = serializers.CharField(help_text="Why this line needs attention, or empty")


class CartOutput(serializers.Serializer):
    items = CartItemOutput(many=True)
    item_count = serializers.IntegerField(help_text="Units in the cart")
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField()


def _cart_response(request: Request) -> Response:
    return Response(CartOutput(get_cart(customer=Customer.of(request))).data)


class CartRetrieveView(APIView):
    @extend_schema(responses=CartOutput, summary="The caller's cart", operation_id="cart_retrieve")
    def get(self, request: Request) -> Response:
        return _cart_response(request)


class CartItemsView(APIView):
    @method_decorator(ratelimit("add_to_cart"))
    @extend_schema(
        request=AddItemInput,
        responses=CartOutput,
        summary="Add units of a product",
        operation_id="cart_items_add",
    )
    def post(self, request: Request) -> Response:
        body = AddItemInput(data=request.data)
        body.is_valid(raise_exception=True)
        add_to_cart(
            customer=Customer.of(request),
            product_pk=body.validated_data["product_id"],
            quantity=body.validated_data["quantity"],
        )
        return _cart_response(request)


class CartItemView(APIView):
    @extend_schema(
        request=SetQuantityInput,
        responses=CartOutput,
        summary="Set a line's quantity",
        operation_id="cart_items_update",
    )
    def patch(self, request: Request, product_id: str) -> Response:
        body = SetQuantityInput(data=request.data)
        body.is_valid(raise_exception=True)
        set_line_quantity(
            customer=Customer.of(request),
            product_pk=int(product_id),
            quantity=body.validated_data["quantity"],
        )
        return _cart_response(request)

    # The cart, as every cart write answers; drf-spectacular documents a DELETE as 204 unless told.
    @extend_schema(
        responses={200: CartOutput}, summary="Remove a line", operation_id="cart_items_remove"
    )
    def delete(self, request: Request, product_id: str) -> Response:
        remove_line(customer=Customer.of(request), product_pk=int(product_id))
        return _cart_response(request)
