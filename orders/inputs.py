"""What an order is placed with, checked once for the API and the storefront's checkout form.

Both parse through OrderInput, so each rule (postal code, country, card token, ...) is written
once, and both hand place_order_once the same normalised CheckoutDetails.
"""

import re
from typing import Any

import pycountry
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from orders.models import Order
from orders.payments import is_known_card_token
from orders.services import AddressData, CheckoutDetails, PaymentData
from shop.inputs import StrictTextMixin, TextField

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

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=COUNTRY_CODES_EITHER_CASE, **kwargs)

    def to_internal_value(self, data: Any) -> str:
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
            if not is_known_card_token(token=token):
                raise serializers.ValidationError({"token": f"Unknown card token '{token}'."})
        return data


class StrictEmailField(StrictTextMixin, serializers.EmailField):
    pass


class OrderInput(serializers.Serializer):
    email = StrictEmailField(max_length=254)
    shipping_address = AddressInput()
    payment = PaymentInput()

    def to_details(self) -> CheckoutDetails:
        """Return the validated input as the details an order is placed (and recognised) by."""
        data = self.validated_data
        return CheckoutDetails(
            email=data["email"].lower(),
            address=AddressData(**data["shipping_address"]),
            payment=PaymentData(
                method=data["payment"]["method"], token=data["payment"].get("token", "")
            ),
        )
