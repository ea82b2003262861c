from django.conf import settings
from django.db import models
from django.db.models import Q


class Cart(models.Model):
    """A shopper's cart: an account's (owner set) or a guest's (found through its session).

    Redis holds the live copy (carts/store.py); these rows are its write-through backup, from
    which a lost or flushed Redis rebuilds the cart.
    """

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        related_name="cart",
        on_delete=models.CASCADE,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["updated_at"], name="guest_cart_idle", condition=Q(owner=None)),
        ]

    def __str__(self) -> str:
        return f"Cart {self.pk} ({self.owner or 'guest'})"


class CartLine(models.Model):
    """Units of one product in a cart, with the price the shopper saw when adding it."""

    cart = models.ForeignKey(Cart, related_name="lines", on_delete=models.CASCADE)
    product = models.ForeignKey("catalog.Product", related_name="+", on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField()
    price_when_added = models.DecimalField(max_digits=10, decimal_places=2)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cart", "product"], name="one_line_per_product"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="cart_line_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x product {self.product_id}"
