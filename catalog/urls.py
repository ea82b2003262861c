from django.urls import path

from catalog import api, views

app_name = "catalog"

urlpatterns = [
    path("", views.home, name="home"),
    path("c/<slug:slug>/", views.category, name="category"),
    path("p/<slug:slug>/", views.product, name="product"),
    path("search/", views.search, name="search"),
]

api_urlpatterns = [
    path("categories/", api.CategoryTreeView.as_view(), name="category-tree"),
    path("products/", api.ProductListView.as_view(), name="product-list"),
    path("products/<slug:slug>/", api.ProductDetailView.as_view(), name="product-detail"),
    path("search/", api.SearchView.as_view(), name="search"),
]
