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
