from shop.exceptions import ShopError


class EmptyCart(ShopError):
    status_code = 400
    code = "empty_cart"
    default_detail = "Your cart is empty."


class ProductNoLongerSold(ShopError):
    """A product in the cart was hidden or deleted since it was added."""

    status_code = 409
    code = "product_no_longer_sold"


class PaymentDeclined(ShopError):
    status_code = 402
    code = "payment_declined"
    default_detail = "Your card was declined; nothing was ordered."


class OrderNotFound(ShopError):
    status_code = 404
    code = "order_not_found"
    default_detail = "No such order."


class TransitionRefused(ShopError):
    status_code = 409
    code = "transition_refused"


class OrderCancelledDuringPayment(ShopError):
    """The order was cancelled while its card was charged; the charge is being refunded."""

    status_code = 409
    code = "order_cancelled_during_payment"


class IdempotencyKeyReused(ShopError):
    status_code = 422
    code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used with a different request body."


class IdempotencyKeyInvalid(ShopError):
    status_code = 400
    code = "idempotency_key_invalid"
    default_detail = "The Idempotency-Key header must be 1 to 255 printable ASCII characters."


class RequestInProgress(ShopError):
    status_code = 409
    code = "request_in_progress"
    default_detail = "A request with this Idempotency-Key is still being processed; retry shortly."


class CashOnDeliveryLimit(ShopError):
    """A cash-on-delivery order over its per-order or per-customer unit cap (issue 12)."""

    status_code = 409
    code = "cod_limit"


class ConfirmationLinkInvalid(ShopError):
    status_code = 404
    code = "confirmation_link_invalid"
    default_detail = "This confirmation link is not valid; use the link from your e-mail."
