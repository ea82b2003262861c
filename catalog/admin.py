"""Operators' catalog admin. Every write goes through catalog.services, so the cache follows.

The form, delete and list-edit views save inside a transaction Django's admin opens itself, so
they call the services' steps; the actions, which run in none, call the services.

Stock edits are recorded as StockMovements with the operator as actor; the low-stock view is the
product list filtered by StockLevelFilter.
"""

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from catalog.models import Category, Product, StockMovement
from catalog.read_models import in_stock_condition, low_stock_condition
from catalog.services import (
    delete_categories,
    delete_categories_step,
    delete_products,
    delete_products_step,
    save_category_step,
    save_product_step,
    set_products_active,
)
from shop.admin import ReadOnlyAdmin


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "parent", "slug", "position", "is_active"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active", ("parent", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["parent"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]

    def save_model(self, request: HttpRequest, obj: Category, form, change: bool) -> None:
        save_category_step(category=obj)

    def delete_model(self, request: HttpRequest, obj: Category) -> None:
        delete_categories_step(categories=Category.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Category]) -> None:
        delete_categories(categories=queryset)


STOCK_LEVELS = {"out": "Out of stock", "low": "Low", "in": "In stock"}
# Red, amber (catalog/static/catalog/admin.css); in stock: unmarked.
STOCK_LEVEL_CLASSES = {"out": "stock-out", "low": "stock-low"}


def stock_level(*, product: Product) -> str:
    """Return the product's key in STOCK_LEVELS (the rules are catalog.read_models')."""
    if not product.in_stock:
        return "out"
    return "low" if product.low_stock else "in"


class StockLevelFilter(admin.SimpleListFilter):
    """Products out of stock, low (1 to LOW_STOCK_THRESHOLD units) or in stock above that.

    The low-stock view operators bookmark: /admin/catalog/product/?stock_level=low
    """

    title = "stock level"
    parameter_name = "stock_level"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        threshold = settings.LOW_STOCK_THRESHOLD
        return [
            ("out", STOCK_LEVELS["out"]),
            ("low", f"{STOCK_LEVELS['low']} (1 to {threshold})"),
            ("in", f"{STOCK_LEVELS['in']} (more than {threshold})"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> QuerySet[Product]:
        match self.value():
            case "out":
                return queryset.exclude(in_stock_condition())
            case "low":
                return queryset.filter(low_stock_condition())
            case "in":
                return queryset.filter(in_stock_condition()).exclude(low_stock_condition())
        return queryset


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    """Products; stock edits (form or list) are recorded with the operator as a StockMovement."""

    list_display = [
        "thumbnail",
        "title",
        "sku",
        "brand",
        "category",
        "price",
        "stock",
        "stock_badge",
        "is_active",
        "is_featured",
        "updated_at",
    ]
    list_display_links = ["thumbnail", "title"]
    list_editable = ["price", "stock", "is_active"]
    list_filter = [
        StockLevelFilter,
        "is_active",
        "is_featured",
        "category",
        "created_at",
    ]
    list_select_related = ["category"]
    list_per_page = 50
    search_fields = ["title", "sku", "brand", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["category"]
    readonly_fields = ["image_preview", "stock_history", "created_at", "updated_at"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # no COUNT(*) over the whole catalog on every page
    actions = ["activate", "deactivate"]
    fieldsets = (
        (None, {"fields": ("title", "slug", "sku", "category", "brand", "description")}),
        ("Price and stock", {"fields": ("price", "stock", "stock_history")}),
        ("Image", {"fields": ("image", "image_preview")}),
        ("Details", {"fields": ("attributes", "is_active", "is_featured")}),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )

    class Media:
        css = {"all": ["catalog/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Product]:
        return super().get_queryset(request).defer("search_vector")

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "stock":
            # Compare the posted stock with the one the operator was shown, not with today's:
            # a sale while the form was open must not count as their edit and be written back.
            formfield.show_hidden_initial = True
        return formfield

    @admin.display(description="")
    def thumbnail(self, product: Product) -> str:
        if not product.image:
            return "—"
        return format_html(
            '<img src="{}" alt="" width="40" height="40" class="product-thumbnail">',
            product.image.url,
        )

    @admin.display(description="Preview")
    def image_preview(self, product: Product) -> str:
        if not product.image:
            return "No image"
        return format_html('<img src="{}" alt="" class="product-preview">', product.image.url)

    @admin.display(description="Stock level", ordering="stock")
    def stock_badge(self, product: Product) -> str:
        level = stock_level(product=product)
        if level not in STOCK_LEVEL_CLASSES:
            return STOCK_LEVELS[level]
        return format_html(
            '<strong class="{}">{}</strong>', STOCK_LEVEL_CLASSES[level], STOCK_LEVELS[level]
        )

    @admin.display(description="Stock history")
    def stock_history(self, product: Product) -> str:
        if product.pk is None:
            return "—"
        url = reverse("admin:catalog_stockmovement_changelist")
        return format_html('<a href="{}?product__id__exact={}">Movements</a>', url, product.pk)

    def save_model(self, request: HttpRequest, obj: Product, form, change: bool) -> None:
        # The product list's editable columns (list_editable) are saved through here too.
        save_product_step(
            product=obj,
            fields=form.changed_data if change else None,
            actor=request.user,
            note="Edited in the admin",
        )

    def delete_model(self, request: HttpRequest, obj: Product) -> None:
        delete_products_step(products=Product.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        delete_products(products=queryset)

    @admin.action(description="Activate the selected products")
    def activate(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        changed = set_products_active(products=queryset, active=True)
        self.message_user(request, f"Activated {changed} products.", messages.SUCCESS)

    @admin.action(description="Deactivate the selected products")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        changed = set_products_active(products=queryset, active=False)
        self.message_user(request, f"Deactivated {changed} products.", messages.SUCCESS)


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    """Every change to stock, read-only: sales and returns by orders, adjustments by operators."""

    list_display = ["created_at", "product", "change", "reason", "reference", "actor", "note"]
    list_filter = ["reason", "created_at"]
    list_select_related = ["product", "actor"]
    search_fields = ["product__title", "product__sku", "reference"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[StockMovement]:
        return super().get_queryset(request).defer("product__search_vector")
