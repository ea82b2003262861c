from django.urls import re_path

from orders import api

app_name = "orders"

NUMBER = r"(?P<number>[0-9A-Za-z-]{1,20})"

urlpatterns: list = []

api_urlpatterns = [
    re_path(r"^orders/$", api.OrderListView.as_view(), name="order-list"),
    re_path(rf"^orders/{NUMBER}/$", api.OrderDetailView.as_view(), name="order-detail"),
    re_path(rf"^orders/{NUMBER}/cancel/$", api.OrderCancelView.as_view(), name="order-cancel"),
]
