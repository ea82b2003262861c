from django.urls import path, re_path

from orders import api, views

app_name = "orders"

NUMBER = r"(?P<number>[0-9A-Za-z-]{1,20})"

urlpatterns = [
    path("", views.history, name="history"),
    path("checkout/", views.checkout, name="checkout"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    re_path(rf"^{NUMBER}/$", views.detail, name="detail"),
    re_path(rf"^{NUMBER}/confirmation/$", views.confirmation, name="confirmation"),
    re_path(rf"^{NUMBER}/cancel/$", views.cancel, name="cancel"),
]

api_urlpatterns = [
    re_path(r"^orders/$", api.OrderListView.as_view(), name="order-list"),
    re_path(rf"^orders/{NUMBER}/$", api.OrderDetailView.as_view(), name="order-detail"),
    re_path(rf"^orders/{NUMBER}/cancel/$", api.OrderCancelView.as_view(), name="order-cancel"),
]
