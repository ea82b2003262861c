"""Payments behind one small interface. Built in: a test card gateway and cash on delivery.

A real gateway (Stripe, Adyen, ...) is one more class with `charge`, `refund` and `find_charge`;
nothing else in the shop knows which one runs. Each is a network call: never make one inside a
transaction.
"""

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.db import transaction

from orders.models import GatewayCharge


@dataclass(frozen=True)
class PaymentResult:
    succeeded: bool
    reference: str = ""
    message: str = ""


@dataclass(frozen=True)
class Charge:
    """A successful charge as the gateway reports it."""

    reference: str
    amount: Decimal
    currency: str
    refunded: bool


class Gateway(Protocol):
    def charge(
        self, *, amount: Decimal, currency: str, token: str, reference: str
    ) -> PaymentResult: ...

    def refund(self, *, amount: Decimal, currency: str, reference: str) -> PaymentResult: ...

    def find_charge(self, *, reference: str) -> Charge | None: ...


class TestCardGateway:
    """The built-in card gateway for development and tests: no network, fixed test tokens.

    Its records are GatewayCharge rows, each committed on its own (durable: calling it inside a
    transaction is an error, as a network call there would be), so any process can look a charge
    up by order number. Refunding a charge twice gives the money back once.
    """

    __test__ = False  # not a pytest test class
    # token: whether its charges succeed
    TOKENS = {"tok_visa": True, "tok_declined": False, "tok_refund_declined": True}
    # Charged, but refunds are declined while the charge's `refunds_declined` is set: a gateway
    # that keeps refusing, for the outbox's retries (#11).
    REFUNDS_DECLINED = {"tok_refund_declined"}

    def charge(
        self, *, amount: Decimal, currency: str, token: str, reference: str
    ) -> PaymentResult:
        succeeded = self.TOKENS[token]
        with transaction.atomic(durable=True):
            charge = GatewayCharge.objects.create(
                reference=f"test_ch_{secrets.token_hex(8)}",
                order_number=reference,
                amount=amount,
                currency=currency,
                succeeded=succeeded,
                refunds_declined=token in self.REFUNDS_DECLINED,
            )
        if not succeeded:
            return PaymentResult(False, message="Your card was declined.")
        return PaymentResult(True, reference=charge.reference)

    def refund(self, *, amount: Decimal, currency: str, reference: str) -> PaymentResult:
        with transaction.atomic(durable=True):
            charge = (
                GatewayCharge.objects.select_for_update()
                .filter(reference=reference, succeeded=True)
                .first()
            )
            if charge is None or (charge.amount, charge.currency) != (amount, currency):
                return PaymentResult(
                    False, message=f"No charge {reference} of {amount} {currency}."
                )
            if charge.refunds_declined:
                return PaymentResult(False, message="The gateway declined the refund.")
            if not charge.refund_reference:
                charge.refund_reference = f"test_re_{secrets.token_hex(8)}"
                charge.save(update_fields=["refund_reference"])
        return PaymentResult(True, reference=charge.refund_reference)

    def find_charge(self, *, reference: str) -> Charge | None:
        charge = (
            GatewayCharge.objects.filter(order_number=reference, succeeded=True)
            .order_by("pk")
            .first()
        )
        if charge is None:
            return None
        return Charge(
            reference=charge.reference,
            amount=charge.amount,
            currency=charge.currency,
            refunded=bool(charge.refund_reference),
        )


def card_gateway() -> Gateway:
    """Return the gateway that charges and refunds cards."""
    return TestCardGateway()


def is_known_card_token(*, token: str) -> bool:
    """Return whether the built-in gateway knows the card token."""
    return token in TestCardGateway.TOKENS
