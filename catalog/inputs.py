"""Listing and search parameters as the API and the storefront both parse them.

The limits that are settings (the longest search, the page sizes) are read when a request is
parsed, not when this module is imported, so a changed setting applies at once (issue 14).
"""

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.selectors import ORDERINGS, ProductQuery
from shop.inputs import WholeNumberField

# A price bound as the schema states it: plain digits, then at most 2 decimals. Decimal()
# alone also took "-5", "1e3" and " 5 " where the schema allowed "-" and "." (issue 11).
PRICE_PATTERN = r"^[0-9]{1,8}(\.[0-9]{1,2})?$"
MAX_PAGE = 1_000_000


@extend_schema_field({"type": "string", "format": "decimal", "pattern": PRICE_PATTERN})
class PriceBoundField(serializers.DecimalField):
    """A price in a query string, never negative: exactly what PRICE_PATTERN allows."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=10, decimal_places=2, min_value=Decimal("0"), **kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if not isinstance(data, str) or not re.fullmatch(PRICE_PATTERN, data):
            self.fail("invalid")
        return super().to_internal_value(data)


class ProductQueryInput(serializers.Serializer):
    """The product list's query parameters; also validates the storefront's listings."""

    def get_fields(self) -> dict[str, serializers.Field]:
        """Return the parameters' fields, with the limits the settings give now."""
        return {
            "category": serializers.SlugField(
                required=False, max_length=140, help_text="Category slug"
            ),
            "q": serializers.CharField(
                required=False,
                allow_blank=True,
                max_length=settings.SEARCH_MAX_QUERY_LENGTH,
                help_text="Words to search for",
            ),
            "min_price": PriceBoundField(required=False),
            "max_price": PriceBoundField(required=False),
            "in_stock": serializers.BooleanField(required=False),
            "ordering": serializers.ChoiceField(required=False, choices=sorted(ORDERINGS)),
            "page": WholeNumberField(required=False, min_value=1, max_value=MAX_PAGE, default=1),
            "page_size": WholeNumberField(
                required=False,
                min_value=1,
                max_value=settings.CATALOG_MAX_PAGE_SIZE,
                default=settings.CATALOG_PAGE_SIZE,
            ),
        }

    def validate_q(self, value: str) -> str | None:
        return " ".join(value.split()) or None

    def validate(self, data: dict) -> dict:
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"min_price": "Must not be above max_price."})
        return data

    def to_query(self) -> ProductQuery:
        return ProductQuery(**self.validated_data)


class SearchInput(ProductQueryInput):
    """The search's query parameters: the listing's, with the words required."""

    def get_fields(self) -> dict[str, serializers.Field]:
        """Return the listing's fields, with `q` required and not blank."""
        fields = super().get_fields()
        del fields["q"]  # and added last, where errors have always listed it
        fields["q"] = serializers.CharField(
            max_length=settings.SEARCH_MAX_QUERY_LENGTH, help_text="Words"
        )
        return fields


def parse_product_query(
    *, params: Mapping[str, str], input_class: type[ProductQueryInput] = ProductQueryInput
) -> ProductQuery:
    """Validate listing parameters (a QueryDict or dict) into a ProductQuery, or raise a 400.

    A blank parameter is refused like any bad value: the schema says so (the storefront drops
    its form's empty fields before calling this). A plain dict, because DRF reads a QueryDict's
    blanks as absent.
    """
    body = input_class(data={key: params.get(key) for key in params})
    body.is_valid(raise_exception=True)
    return body.to_query()
