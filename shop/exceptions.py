"""The shop's domain errors: each knows its HTTP status and a stable code."""


class ShopError(Exception):
    status_code = 400
    code = "shop_error"
    default_detail = "The request could not be completed."

    def __init__(self, detail: str | None = None, **extra):
        self.detail = detail or self.default_detail
        self.extra = extra  # more fields for the error's JSON body, e.g. OutOfStock's shortages
        super().__init__(self.detail)


class BadRequest(ShopError):
    status_code = 400
    code = "bad_request"
    default_detail = "The request was not understood."


class DatabaseUnavailable(ShopError):
    """The primary did not answer: a failover moves it, and a retry reaches the new one."""

    status_code = 503
    code = "database_unavailable"
    default_detail = (
        "The shop's database did not answer just now (it may be moving to another server). "
        "Please retry the request in a moment."
    )
    retry_after = 2  # seconds: about one health check of the database's HAProxy (issue 13)
