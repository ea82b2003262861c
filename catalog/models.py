from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from catalog.read_models import Stocked


def shop_currency() -> str:
    """Return the currency the shop sells in: every price, cart and order is in it (issue 12)."""
    return settings.SHOP_CURRENCY


class Category(models.Model):
    """A node of the category tree; products hang off any node."""

    parent = models.ForeignKey(
        "self", null=True, blank=True, related_name="children", on_delete=models.PROTECT
    )
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0, help_text="Order among its siblings.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"
        constraints = [
            models.CheckConstraint(
                condition=~Q(parent=models.F("pk")), name="category_not_its_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:category", kwargs={"slug": self.slug})

    def clean(self) -> None:
        """Refuse a parent that would make the tree a loop."""
        ancestor = self.parent
        while ancestor is not None:
            if ancestor.pk == self.pk and self.pk is not None:
                raise ValidationError({"parent": "A category cannot sit inside itself."})
            ancestor = ancestor.parent


class Product(Stocked, models.Model):
    """Something the shop sells, with its price and the units on hand.

    The price is in the shop's currency (shop_currency): a product has none of its own, so a
    page cannot show one currency while the cart charges another (issue 12).
    """

    category = models.ForeignKey(Category, related_name="products", on_delete=models.PROTECT)
    sku = models.CharField("SKU", max_length=32, unique=True)
    slug = models.SlugField(max_length=160, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    brand = models.CharField(max_length=80, blank=True)
    price = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))]
    )
    stock = models.PositiveIntegerField(default=0, help_text="Units on hand, available to sell.")
    image = models.ImageField(upload_to="products/", blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    is_featured = models.BooleanField(default=False)
    # Filled by a PostgreSQL trigger (migration 0002) from title, brand and description;
    # always empty on SQLite, where search falls back to plain matching.
    search_vector = SearchVectorField(null=True, editable=False)
    # A default rather than auto_now_add, so that bulk writes (seed_catalog, imports) keep theirs.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(stock__gte=0), name="product_stock_not_negative"),
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
        ]
        indexes = [
            # The listing's filters and orderings, each within the active products.
            models.Index(
                fields=["category", "price"],
                name="product_category_price",
                condition=Q(is_active=True),
            ),
            models.Index(
                fields=["category", "-created_at"],
                name="product_category_newest",
                condition=Q(is_active=True),
            ),
            models.Index(fields=["price"], name="product_price", condition=Q(is_active=True)),
            models.Index(
                fields=["-created_at"], name="product_newest", condition=Q(is_active=True)
            ),
            models.Index(fields=["title"], name="product_title", condition=Q(is_active=True)),
            models.Index(
                fields=["-created_at"],
                name="product_featured",
                condition=Q(is_active=True, is_featured=True),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("catalog:product", kwargs={"slug": self.slug})


class StockMovement(models.Model):
    """One change to a product's stock: how many units, why, for which order, by whom."""

    class Reason(models.TextChoices):
        SALE = "sale", "Sold in an order"
        RETURN = "return", "Returned by a cancelled or refunded order"
        ADJUSTMENT = "adjustment", "Adjusted by an operator"

    product = models.ForeignKey(Product, related_name="stock_movements", on_delete=models.CASCADE)
    change = models.IntegerField(help_text="Units added (positive) or taken (negative).")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    reference = models.CharField(max_length=32, blank=True, help_text="The order number, if any.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        related_name="+",
        on_delete=models.SET_NULL,
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.change:+d} {self.product_id} ({self.reason})"
