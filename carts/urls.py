from django.urls import path, re_path

from carts import api, views

app_name = "carts"

# A product pk in a path has at most 18 digits: it always fits a bigint.
PRODUCT = r"(?P<product_id>[0-9]{1,18})"

urlpatterns = [
    path("", views.cart, name="cart"),
    path("add/", views.add, name="add"),
    re_path(rf"^update/{PRODUCT}/$", views.update, name="update"),
    re_path(rf"^remove/{PRODUCT}/$", views.remove, name="remove"),
]

api_urlpatterns = [
    path("cart/", api.CartRetrieveView.as_view(), name="cart"),
    path("cart/items/", api.CartItemsView.as_view(), name="cart-items"),
    re_path(rf"^cart/items/{PRODUCT}/$", api.CartItemView.as_view(), name="cart-item"),
]
