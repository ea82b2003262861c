"""Operators' catalog admin. Every write goes through catalog.services, so the cache follows."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from catalog.models import Category, Product
from catalog.services import (
    delete_categories,
    delete_products,
    save_category,
    save_product,
    set_products_active,
)


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
        save_category(category=obj)

    def delete_model(self, request: HttpRequest, obj: Category) -> None:
        delete_categories(categories=Category.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Category]) -> None:
        delete_categories(categories=queryset)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "thumbnail",
        "title",
        "sku",
        "brand",
        "category",
        "price",
        "stock",
        "is_active",
        "is_featured",
        "updated_at",
    ]
    list_display_links = ["thumbnail", "title"]
    list_editable = ["price", "stock", "is_active"]
    list_filter = ["is_active", "is_featured", "currency", "category", "created_at"]
    list_select_related = ["category"]
    list_per_page = 50
    search_fields = ["title", "sku", "brand", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["category"]
    readonly_fields = ["image_preview", "created_at", "updated_at"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # no COUNT(*) over the whole catalog on every page
    actions = ["activate", "deactivate"]
    fieldsets = (
        (None, {"fields": ("title", "slug", "sku", "category", "brand", "description")}),
        ("Price and stock", {"fields": ("price", "currency", "stock")}),
        ("Image", {"fields": ("image", "image_preview")}),
        ("Details", {"fields": ("attributes", "is_active", "is_featured")}),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Product]:
        return super().get_queryset(request).defer("search_vector")

    @admin.display(description="")
    def thumbnail(self, product: Product) -> str:
        if not product.image:
            return "—"
        return format_html(
            '<img src="{}" alt="" width="40" height="40" style="object-fit:cover">',
            product.image.url,
        )

    @admin.display(description="Preview")
    def image_preview(self, product: Product) -> str:
        if not product.image:
            return "No image"
        return format_html('<img src="{}" alt="" style="max-width:240px">', product.image.url)

    def save_model(self, request: HttpRequest, obj: Product, form, change: bool) -> None:
        save_product(product=obj, fields=form.changed_data if change else None)

    def delete_model(self, request: HttpRequest, obj: Product) -> None:
        delete_products(products=Product.objects.filter(pk=obj.pk))

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
