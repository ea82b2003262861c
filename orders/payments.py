"""Payments behind one small interface. Built in: a test card gateway and cash on delivery.

A real gateway (Stripe, Adyen, ...) is one more class with `charge` and `refund`; nothing else
in the shop knows which one runs.
"""

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class PaymentResult:
    succeeded: bool
    reference: str = ""
    message: str = ""


class Gateway(Protocol):
    def charge(
        self, *, amount: Decimal, currency: str, token: str, reference: str
    ) -> PaymentResult: ...

    def refund(self, *, amount: Decimal, currency: str, reference: str) -> PaymentResult: ...


class TestCardGateway:
    """The built-in card gateway for development and tests: no network, fixed test tokens."""

    TOKENS = {"tok_visa": True, "tok_declined": False}

    def charge(
        self, *, amount: Decimal, currency: str, token: str, reference: str
    ) -> PaymentResult:
        if not self.TOKENS[token]:
            return PaymentResult(False, message="Your card was declined.")
        return PaymentResult(True, reference=f"test_ch_{secrets.token_hex(8)}")

    def refund(self, *, amount: Decimal, currency: str, reference: str) -> PaymentResult:
        return PaymentResult(True, reference=f"test_re_{secrets.token_hex(8)}")


def card_gateway() -> Gateway:
    return TestCardGateway()


def is_known_card_token(token: str) -> bool:
    return token in TestCardGateway.TOKENS
