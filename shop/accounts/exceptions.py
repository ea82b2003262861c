"""The accounts' domain errors, rendered by the API's handler and shown by the storefront."""

from shop.exceptions import ShopError


class InvalidCredentials(ShopError):
    """Deliberately vague: it never says whether the e-mail or the password was wrong."""

    status_code = 400
    code = "invalid_credentials"
    default_detail = "Invalid e-mail or password."


class InvalidResetLink(ShopError):
    status_code = 400
    code = "invalid_reset_link"
    default_detail = "This password reset link is invalid or has expired."
