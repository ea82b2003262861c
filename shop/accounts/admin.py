from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from shop.accounts.models import OutgoingMail, User
from shop.admin import ReadOnlyAdmin


class ShopUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class ShopUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = ShopUserChangeForm
    add_form = ShopUserCreationForm
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal", {"fields": ("full_name",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(OutgoingMail)
class OutgoingMailAdmin(ReadOnlyAdmin):
    """What the accounts' outbox sent, holds or parked (shop/accounts/outbox.py)."""

    list_display = ["kind", "email", "created_at", "sent_at", "attempts", "parked_at"]
    list_filter = ["kind", "parked_at"]
    search_fields = ["email"]
