"""The checkout form: it renders the fields and shows errors; OrderInput decides what is valid.

The storefront and the API take an order through the same serializer (orders/inputs.py), so each
rule (postal code, country, card token, ...) is written once. This form only maps its flat field
names onto OrderInput's nested ones and OrderInput's errors back onto its fields.
"""

from typing import Any

from django import forms

from orders.inputs import OrderInput
from orders.models import Order

# Where each form field goes in OrderInput's data.
ORDER_INPUT_PATHS = {
    "email": ("email",),
    "name": ("shipping_address", "name"),
    "line1": ("shipping_address", "line1"),
    "city": ("shipping_address", "city"),
    "postal_code": ("shipping_address", "postal_code"),
    "country": ("shipping_address", "country"),
    "phone": ("shipping_address", "phone"),
    "payment_method": ("payment", "method"),
    "card_token": ("payment", "token"),
}


def _text(label: str, autocomplete: str, help_text: str = "", **attrs) -> forms.CharField:
    """A text input that accepts anything: OrderInput does the checking."""
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        help_text=help_text,
        widget=forms.TextInput(attrs={"autocomplete": autocomplete, **attrs}),
    )


class CheckoutForm(forms.Form):
    email = forms.CharField(
        label="E-mail",
        required=False,
        strip=False,
        help_text="We send the order confirmation here.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    name = _text("Full name", "shipping name")
    line1 = _text("Street and number", "shipping address-line1")
    city = _text("City", "shipping address-level2")
    postal_code = _text("Postal code", "shipping postal-code")
    country = _text(
        "Country",
        "shipping country",
        help_text="Two letters, e.g. DE, FR, US.",
        size="2",
        maxlength="2",
        placeholder="DE",
    )
    phone = _text(
        "Phone",
        "shipping tel",
        help_text="For the courier, only if they cannot find you.",
        type="tel",
    )
    payment_method = forms.CharField(
        label="Payment",
        required=False,
        widget=forms.RadioSelect(choices=Order.PaymentMethod.choices),
    )
    card_token = _text(
        "Card token",
        "off",
        help_text="This shop runs a test card gateway: tok_visa is charged, tok_declined is "
        "declined. Not needed for cash on delivery.",
        spellcheck="false",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.order_input: OrderInput | None = None
        rules = OrderInput()
        for name, path in ORDER_INPUT_PATHS.items():
            rule: Any = rules
            for part in path:
                rule = rule.fields[part]
            max_length = getattr(rule, "max_length", None)
            if max_length:
                self.fields[name].widget.attrs["maxlength"] = str(max_length)

    def clean(self) -> dict:
        """Validate with OrderInput; keep it (bound and valid) in `self.order_input`."""
        data: dict = {"shipping_address": {}, "payment": {}}
        for name, path in ORDER_INPUT_PATHS.items():
            value = self.data.get(name, "")
            if value:  # a blank field is a missing one: "This field is required."
                *groups, leaf = path
                target = data
                for group in groups:
                    target = target[group]
                target[leaf] = value
        body = OrderInput(data=data)
        if body.is_valid():
            self.order_input = body
        else:
            self._add_order_input_errors(body.errors)
        return self.cleaned_data

    def _add_order_input_errors(self, errors: dict) -> None:
        for name, path in ORDER_INPUT_PATHS.items():
            found: Any = errors
            for part in path:
                found = found.get(part) if isinstance(found, dict) else None
            if found:
                self.add_error(name, list(found))
        for group in (errors, errors.get("shipping_address"), errors.get("payment")):
            if isinstance(group, dict) and group.get("non_field_errors"):
                self.add_error(None, list(group["non_field_errors"]))
        if not self.errors:  # an error on no field we know: still refuse, and say so
            self.add_error(None, "Please check the form.")
