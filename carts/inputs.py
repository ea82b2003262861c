"""What a cart change takes as input, parsed alike by the API and the storefront's forms."""

from typing import Any

from django.conf import settings
from rest_framework import serializers

from shop.inputs import WholeNumberField

PRODUCT_PK_MAX = 2**63 - 1


class LineQuantityField(WholeNumberField):
    """Units of a product in a line: at most CART_LINE_MAX_QUANTITY, as the setting reads when the
    request is parsed (DRF builds a serializer's fields afresh for each one)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_value=settings.CART_LINE_MAX_QUANTITY, **kwargs)


class AddItemInput(serializers.Serializer):
    product_id = WholeNumberField(min_value=1, max_value=PRODUCT_PK_MAX)
    quantity = LineQuantityField(min_value=1)


class SetQuantityInput(serializers.Serializer):
    quantity = LineQuantityField(min_value=0, help_text="0 removes the line")
