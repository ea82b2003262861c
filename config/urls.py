"""Where every request goes: storefront, API, admin, probes and (without nginx) media."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from carts.urls import api_urlpatterns as carts_api
from catalog.urls import api_urlpatterns as catalog_api
from orders.urls import api_urlpatterns as orders_api
from shop import health, observability, views
from shop.accounts.urls import api_urlpatterns as accounts_api

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", observability.metrics, name="metrics"),
    # nginx's error_page for a request line over its limit (nginx/limits.conf).
    path("api/uri-too-long/", views.uri_too_long, name="api-uri-too-long"),
    path("uri-too-long/", views.uri_too_long, name="uri-too-long"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((catalog_api, "catalog-api"))),
    path("api/v1/", include((carts_api, "carts-api"))),
    path("api/v1/", include((orders_api, "orders-api"))),
    path("api/v1/auth/", include((accounts_api, "accounts-api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI from this origin (drf-spectacular-sidecar), its start-up script a file of its
    # own (the split view): only its page's inline <style> widens the CSP.
    path(
        "api/docs/",
        csp_update({"style-src": [UNSAFE_INLINE]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
    path("accounts/", include("shop.accounts.urls")),
    path("cart/", include("carts.urls")),
    path("orders/", include("orders.urls")),
    path("", include("catalog.urls")),
]

if settings.SERVE_MEDIA:
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    ]

handler400 = "shop.views.bad_request"
handler404 = "shop.views.page_not_found"
handler500 = "shop.views.server_error"
