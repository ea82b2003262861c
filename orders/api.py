"""The orders API: place an order (idempotently), list and read one's own, cancel."""

from django.utils.decorators import method_decorator
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.idempotency import KEY_PATTERN
from orders.inputs import OrderInput
from orders.outputs import OrderOutput
from orders.selectors import ORDERS_PER_PAGE, get_order_for_customer, orders_for_customer
from orders.services import cancel_order, place_order_once
from shop.customers import Customer
from shop.inputs import WholeNumberField
from shop.ratelimits import client_ip, ratelimit


class OrderPagination(PageNumberPagination):
    page_size = ORDERS_PER_PAGE


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
        orders = orders_for_customer(customer=Customer.of(request))
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

        answer = place_order_once(
            customer=Customer.of(request),
            details=body.to_details(),
            idempotency_key=request.headers.get("Idempotency-Key"),
            client_address=client_ip(request),
        )
        return Response(answer.body, status=answer.status)


class OrderDetailView(APIView):
    @extend_schema(
        responses=OrderOutput, summary="One of the caller's orders", operation_id="orders_retrieve"
    )
    def get(self, request: Request, number: str) -> Response:
        order = get_order_for_customer(customer=Customer.of(request), number=number)
        return Response(OrderOutput(order).data)


class OrderCancelView(APIView):
    @extend_schema(
        request=None,
        responses=OrderOutput,
        summary="Cancel an order not yet shipped",
        operation_id="orders_cancel",
    )
    def post(self, request: Request, number: str) -> Response:
        customer = Customer.of(request)
        order = get_order_for_customer(customer=customer, number=number)
        order = cancel_order(order=order, customer=customer)
        return Response(OrderOutput(order).data)
