"""Operators' order admin: read-only records, and status changes only through transition_order.

Orders come from checkout and change only by the actions below, which apply the same transition
rules as the API (ALLOWED_TRANSITIONS, can_move), each moving orders from any status the table
lets them leave for the new one; their money, lines, events and sales are never edited. A parked
outbox event is retried by an action.
"""

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from orders.exceptions import TransitionRefused
from orders.models import (
    IdempotencyKey,
    Order,
    OrderLine,
    OutboxEvent,
    SaleRecord,
    statuses_before,
)
from orders.outbox import retry_parked_event
from orders.services import confirm_cod_order, transition_order
from shop.admin import ReadOnlyAdmin, ReadOnlyInline

Status = Order.Status


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["product", "sku", "title", "unit_price", "quantity", "line_total"]
    readonly_fields = fields


class OutboxEventInline(ReadOnlyInline):
    model = OutboxEvent
    verbose_name = "event"
    fields = ["kind", "created_at", "delivered_at", "attempts", "parked_at", "last_error"]
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """Orders, read-only; the actions move them through their statuses, one order at a time.

    Editing an order's e-mail or address would need an orders service; until one exists the
    admin shows orders and changes nothing but their status.
    """

    list_display = [
        "number",
        "email",
        "status",
        "payment_method",
        "total",
        "currency",
        "created_at",
    ]
    list_filter = ["status", "payment_method", "created_at"]
    date_hierarchy = "created_at"
    search_fields = ["number", "email"]
    show_full_result_count = False
    inlines = [OrderLineInline, OutboxEventInline]
    actions = ["confirm_cod", "mark_shipped", "mark_delivered", "cancel_with_restock", "refund"]
    fieldsets = (
        (None, {"fields": ("number", "status", "customer", "email", "created_at", "updated_at")}),
        (
            "Payment",
            {
                "fields": (
                    "payment_method",
                    "payment_reference",
                    "refund_reference",
                    "reconciled_at",
                    "total",
                    "currency",
                    "reserved_until",
                    "confirmed_at",
                )
            },
        ),
        (
            "Shipping",
            {
                "fields": (
                    "shipping_name",
                    "shipping_line1",
                    "shipping_city",
                    "shipping_postal_code",
                    "shipping_country",
                    "shipping_phone",
                    "client_address",
                )
            },
        ),
    )
    readonly_fields = [field for fieldset in fieldsets for field in fieldset[1]["fields"]]

    def has_transition_permission(self, request: HttpRequest) -> bool:
        """Whether the operator may run the status actions (Django's "change order")."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(
        description="Confirm the selected cash-on-delivery orders", permissions=["transition"]
    )
    def confirm_cod(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        # An operator's confirmation, e.g. by phone: the order keeps its stock (issue 12).
        self._apply(
            request,
            queryset,
            lambda pk: confirm_cod_order(order_pk=pk),
            done="confirmed",
        )

    @admin.action(description="Mark the selected orders shipped", permissions=["transition"])
    def mark_shipped(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        # From pending payment: cash on delivery only, once confirmed (can_move checks).
        self._transition(request, queryset, to=Status.SHIPPED)

    @admin.action(description="Mark the selected orders delivered", permissions=["transition"])
    def mark_delivered(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._transition(request, queryset, to=Status.DELIVERED)

    @admin.action(
        description="Cancel the selected orders and return their stock", permissions=["transition"]
    )
    def cancel_with_restock(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._transition(request, queryset, to=Status.CANCELLED)

    @admin.action(
        description="Refund the selected orders (stock returned if not shipped)",
        permissions=["transition"],
    )
    def refund(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._transition(request, queryset, to=Status.REFUNDED)

    def _transition(self, request: HttpRequest, queryset: QuerySet[Order], *, to: str) -> None:
        """Move each order in its own transaction; report the moved count and every refusal."""
        expected = statuses_before(to)
        self._apply(
            request,
            queryset,
            lambda pk: transition_order(order_pk=pk, expected=expected, to=to, actor=request.user),
            done=Order.Status(to).label.lower(),
        )

    def _apply(
        self,
        request: HttpRequest,
        queryset: QuerySet[Order],
        change: Callable[[int], Order],
        *,
        done: str,
    ) -> None:
        """Change each order in its own transaction; report the changed count and every refusal."""
        moved, refusals = 0, []
        for pk, number in queryset.order_by("pk").values_list("pk", "number"):
            try:
                change(pk)
            except TransitionRefused as refusal:
                refusals.append(refusal.detail)
            except Order.DoesNotExist:
                refusals.append(f"Order {number} no longer exists.")
            else:
                moved += 1
        if moved:
            self.message_user(request, f"{moved} order(s) now {done}.", messages.SUCCESS)
        if refusals:
            self.message_user(
                request,
                f"{len(refusals)} order(s) refused, unchanged: {' '.join(refusals)}",
                messages.WARNING,
            )


class DeliveredFilter(admin.SimpleListFilter):
    title = "delivered"
    parameter_name = "delivered"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]):
        match self.value():
            case "yes":
                return queryset.filter(delivered_at__isnull=False)
            case "no":
                return queryset.filter(delivered_at__isnull=True)
        return queryset


class ParkedFilter(admin.SimpleListFilter):
    title = "parked"
    parameter_name = "parked"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]):
        match self.value():
            case "yes":
                return queryset.filter(parked_at__isnull=False)
            case "no":
                return queryset.filter(parked_at__isnull=True)
        return queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    """Order events and their delivery; the beat task resends undelivered ones when due.

    An event that failed OUTBOX_MAX_ATTEMPTS times is parked: the "parked" filter lists them,
    and the retry action queues them again once the cause (the last error) is dealt with.
    """

    list_display = [
        "kind",
        "order",
        "created_at",
        "state",
        "attempts",
        "next_attempt_at",
        "last_error",
    ]
    list_filter = [ParkedFilter, DeliveredFilter, "kind"]
    list_select_related = ["order"]
    search_fields = ["order__number"]
    show_full_result_count = False
    actions = ["retry_events"]

    class Media:
        css = {"all": ["orders/admin.css"]}

    @admin.display(description="state")
    def state(self, event: OutboxEvent) -> str:
        if event.delivered_at is not None:
            state = "delivered"
        elif event.parked_at is not None:
            state = "parked"
        else:
            state = "waiting"
        return format_html('<span class="outbox-badge outbox-{}">{}</span>', state, state)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        """Whether the operator may retry events (Django's "change outbox event")."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description="Retry the selected parked events now", permissions=["retry"])
    def retry_events(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]) -> None:
        retried, unchanged = 0, []
        for event in queryset.select_related("order").order_by("pk"):
            if retry_parked_event(event_pk=event.pk):
                retried += 1
            else:
                unchanged.append(f"{event.kind} of order {event.order.number}")
        if retried:
            self.message_user(
                request, f"{retried} event(s) queued for delivery again.", messages.SUCCESS
            )
        if unchanged:
            self.message_user(
                request,
                f"{len(unchanged)} event(s) not parked, unchanged: {'; '.join(unchanged)}.",
                messages.WARNING,
            )


@admin.register(SaleRecord)
class SaleRecordAdmin(ReadOnlyAdmin):
    list_display = ["order_number", "total", "currency", "units", "payment_method", "created_at"]
    list_filter = ["payment_method", "created_at"]
    search_fields = ["order_number"]
    show_full_result_count = False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ["key", "scope", "response_status", "order", "created_at"]
    list_select_related = ["order"]
    search_fields = ["key"]
    show_full_result_count = False
    readonly_fields = [
        "scope",
        "key",
        "request_digest",
        "response_status",
        "response_body",
        "order",
        "created_at",
    ]
