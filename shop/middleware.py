"""Storefront rendering of domain errors: a ShopError outside the API becomes a proper page."""

from django.shortcuts import render

from shop.exceptions import ShopError

ERROR_TEMPLATES = {400: "400.html", 404: "404.html"}


class ShopErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, ShopError) or request.path.startswith("/api/"):
            return None
        template = ERROR_TEMPLATES.get(exception.status_code, "400.html")
        return render(request, template, {"detail": exception.detail}, status=exception.status_code)
