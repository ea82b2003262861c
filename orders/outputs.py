"""What a client is shown of an order: the API's body, which an idempotent replay answers too."""

from rest_framework import serializers


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
