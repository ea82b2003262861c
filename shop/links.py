"""Absolute links to the shop: from settings.SHOP_PUBLIC_URL, never from the request's Host,
which the client writes (issue 12: `Host: shop.example:1337` went into the API's links)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.utils.encoding import iri_to_uri


def absolute_url(location: str) -> str:
    """Return `location`, a path of this shop (with its query), as a URL on the public address.

    A location that already names its host (a MEDIA_URL on a CDN) is returned as it is.
    """
    parts = urlsplit(location)
    if parts.scheme or parts.netloc:
        return location
    return settings.SHOP_PUBLIC_URL + iri_to_uri(location)
