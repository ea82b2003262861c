"""The orders API: place an order (idempotently), list and read one's own, cancel."""

import re

import pycountry
from django.utils.decorators import method_decorator
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.idempotency import KEY_PATTERN, answer_once, idempotency_scope
from orders.models import Order
from orders.payments import is_known_card_token
from orders.selectors import get_order_for_customer, orders_for_customer
from orders.services import AddressData, PaymentData, cancel_order, place_order
from shop.inputs import StrictTextMixin, TextField, WholeNumberField
from shop.ratelimits import client_ip, ratelimit

# --- Input --------------------------------------------------------------------------------

# ISO 3166-1 alpha-2, from pycountry: "ZZ" and other made-up codes are refused (issue 12).
COUNTRY_CODES = sorted(country.alpha_2 for country in pycountry.countries)
COUNTRY_CODES_EITHER_CASE = [*COUNTRY_CODES, *(code.lower() for code in COUNTRY_CODES)]


@extend_schema_field(
    {
        "type": "string",
        "enum": COUNTRY_CODES_EITHER_CASE,
        "description": "An ISO 3166-1 alpha-2 country code, in either case, e.g. DE.",
    }
)
class CountryCodeField(serializers.ChoiceField):
    """An ISO 3166-1 alpha-2 code in upper or lower case; the order keeps it upper-case."""

    default_error_messages = {
        "invalid": "Enter a two-letter country code, e.g. DE.",
        "invalid_choice": "'{input}' is not an ISO 3166-1 country code; enter one such as DE.",
    }

    def __init__(self, **kwargs):
        super().__init__(choices=COUNTRY_CODES_EITHER_CASE, **kwargs)

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str) or not re.fullmatch(r"[A-Za-z]{2}", data):
            self.fail("invalid")
        return super().to_internal_value(data).upper()


class AddressInput(serializers.Serializer):
    name = TextField(max_length=120)
    line1 = TextField(max_length=200)
    city = TextField(max_length=100)
    # Checked as sent, untrimmed, and anchored with \A and \Z (Python's $ also matches before a
    # final newline): exactly what the schema's pattern says (issue 11).
    postal_code = serializers.RegexField(
        r"\A[A-Za-z0-9][A-Za-z0-9 -]{1,18}[A-Za-z0-9]\Z",
        max_length=20,
        trim_whitespace=False,
        error_messages={"invalid": "Enter a postal code of 3 to 20 letters, digits and spaces."},
    )
    country = CountryCodeField()
    phone = serializers.RegexField(
        r"\A\+?[0-9][0-9 ()-]{4,29}[0-9]\Z",
        max_length=32,
        trim_whitespace=False,
        error_messages={"invalid": "Enter a phone number of digits, spaces, ( ) and -."},
    )


class PaymentInput(serializers.Serializer):
    method = serializers.ChoiceField(choices=Order.PaymentMethod.choices)
    token = TextField(required=False, max_length=64, help_text="Card token: tok_visa, ...")

    def validate(self, data: dict) -> dict:
        if data["method"] == Order.PaymentMethod.CARD:
            token = data.get("token", "")
            if not token:
                raise serializers.ValidationError({"token": "A card payment needs a token."})
            if not is_known_card_token(token):
                raise serializers.ValidationError({"token": f"Unknown card token '{token}'."})
        return data


class StrictEmailField(StrictTextMixin, serializers.EmailField):
    pass


class OrderInput(serializers.Serializer):
    email = StrictEmailField(max_length=254)
    shipping_address = AddressInput()
    payment = PaymentInput()

    def to_arguments(self) -> dict:
        data = self.validated_data
        return {
            "email": data["email"].lower(),
            "address": AddressData(**data["shipping_address"]),
            "payment": PaymentData(
                method=data["payment"]["method"], token=data["payment"].get("token", "")
            ),
        }


# --- Output -------------------------------------------------------------------------------


class OrderLineOutput(serializers.Serializer):
    product_id = serializers.IntegerField(allow_null=True)
    sku = serializers.CharField()
    title = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    quantity = serializers.IntegerField()
    line_total = serializers.DecimalField(max_digits=12, decimal_places=2)


class ShippingAddressOutput(serializers.Serializer):
    name = serializers.CharField(source="shipping_name")
    line1 = serializers.CharField(source="shipping_line1")
    city = serializers.CharField(source="shipping_city")
    postal_code = serializers.CharField(source="shipping_postal_code")
    country = serializers.CharField(source="shipping_country")
    phone = serializers.CharField(source="shipping_phone")


class OrderOutput(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.CharField()
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    email = serializers.EmailField()
    payment_method = serializers.CharField()
    reserved_until = serializers.DateTimeField(
        allow_null=True,
        help_text="A card order not paid by then, or a cash-on-delivery order not confirmed by "
        "then (the link e-mailed), is cancelled and its stock returned; null once it is.",
    )
    shipping_address = ShippingAddressOutput(source="*")
    lines = OrderLineOutput(many=True)
    created_at = serializers.DateTimeField()


class OrderPagination(PageNumberPagination):
    page_size = 20


class OrderPageInput(serializers.Serializer):
    page = WholeNumberField(required=False, min_value=1, help_text="Page number, from 1")


ORDER_PAGE = inline_serializer(
    name="OrderPage",
    fields={
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": OrderOutput(many=True),
    },
)


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    type={"type": "string", "pattern": KEY_PATTERN, "minLength": 1, "maxLength": 255},
    location=OpenApiParameter.HEADER,
    required=False,
    description="Send the same key to retry safely: the order is placed once (kept 24 h).",
)


# --- Views --------------------------------------------------------------------------------


class OrderListView(APIView):
    @extend_schema(
        responses=ORDER_PAGE,
        parameters=[OrderPageInput],
        summary="The caller's orders, newest first",
        operation_id="orders_list",
    )
    def get(self, request: Request) -> Response:
        # Checked before DRF's paginator, which reads a blank or repeated page as page 1.
        OrderPageInput(data=request.query_params.dict()).is_valid(raise_exception=True)
        pages = OrderPagination()
        orders = orders_for_customer(user=request.user, session=request.session)
        page = pages.paginate_queryset(orders, request, view=self)
        return pages.get_paginated_response(OrderOutput(page, many=True).data)

    @method_decorator(ratelimit("place_order"))
    @extend_schema(
        request=OrderInput,
        responses={201: OrderOutput},
        parameters=[IDEMPOTENCY_HEADER],
        summary="Place an order from the cart",
        operation_id="orders_create",
    )
    def post(self, request: Request) -> Response:
        body = OrderInput(data=request.data)
        body.is_valid(raise_exception=True)

        status, data = answer_once(
            scope=idempotency_scope(request),
            key=request.headers.get("Idempotency-Key"),
            body=request.data,
            place=lambda claim: place_order(
                user=request.user,
                session=request.session,
                idempotency_claim=claim,
                client_address=client_ip(request),
                **body.to_arguments(),
            ),
            answer_for=lambda order: (201, OrderOutput(order).data),
        )
        return Response(data, status=status)


class OrderDetailView(APIView):
    @extend_schema(
        responses=OrderOutput, summary="One of the caller's orders", operation_id="orders_retrieve"
    )
    def get(self, request: Request, number: str) -> Response:
        order = get_order_for_customer(user=request.user, session=request.session, number=number)
        return Response(OrderOutput(order).data)


class OrderCancelView(APIView):
    @extend_schema(
        request=None,
        responses=OrderOutput,
        summary="Cancel an order not yet shipped",
        operation_id="orders_cancel",
    )
    def post(self, request: Request, number: str) -> Response:
        order = get_order_for_customer(user=request.user, session=request.session, number=number)
        order = cancel_order(
            order=order, actor=request.user if request.user.is_authenticated else None
        )
        return Response(OrderOutput(order).data)
