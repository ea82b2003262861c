"""Admin pieces every app shares, and the admin site itself."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator

from shop.ratelimits import limit_password_checks, signed_in_account, signing_in_account


class ShopAdminSite(admin.AdminSite):
    """Django's admin, whose password checks count against the shop's password limits (#12).

    The sign-in form names the account in `username` (it holds the e-mail); a limited request
    gets the shop's 429 page from ShopErrorMiddleware.
    """

    @method_decorator(limit_password_checks(signing_in_account))
    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        return super().login(request, extra_context)

    @method_decorator(limit_password_checks(signed_in_account))
    def password_change(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        return super().password_change(request, extra_context)


class ReadOnlyMixin:
    """A record to look at: no adding, editing or deleting in the admin (inlines too)."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    pass


class ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    extra = 0
    can_delete = False
