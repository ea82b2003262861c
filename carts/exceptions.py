from shop.exceptions import ShopError


class ProductUnavailable(ShopError):
    status_code = 400
    code = "product_unavailable"
    default_detail = "That product does not exist or is not for sale."


class LineNotFound(ShopError):
    status_code = 404
    code = "line_not_found"
    default_detail = "Your cart holds no such product."


class NotEnoughStock(ShopError):
    status_code = 409
    code = "not_enough_stock"


class LineLimitReached(ShopError):
    status_code = 409
    code = "line_limit_reached"


class CartFull(ShopError):
    status_code = 409
    code = "cart_full"
