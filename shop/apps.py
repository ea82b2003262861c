from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Shop"

    def ready(self) -> None:
        from shop import checks  # noqa: F401 (registers the deploy checks)


class ShopAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, with the shop's admin site as `admin.site`."""

    default = False  # "shop" itself is ShopConfig
    default_site = "shop.admin.ShopAdminSite"
