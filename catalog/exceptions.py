from shop.exceptions import ShopError


class ProductNotFound(ShopError):
    status_code = 404
    code = "product_not_found"
    default_detail = "No such product."


class CategoryNotFound(ShopError):
    status_code = 404
    code = "category_not_found"
    default_detail = "No such category."


class PageNotFound(ShopError):
    status_code = 404
    code = "page_not_found"
    default_detail = "Invalid page: pages are numbered from 1 to the last page."


class OutOfStock(ShopError):
    status_code = 409
    code = "out_of_stock"

    def __init__(self, *, shortages: list[dict]):
        named = "; ".join(
            f"'{s['title']}': {s['available']} left, {s['requested']} wanted" for s in shortages
        )
        super().__init__(f"Not enough stock for {named}.", shortages=shortages)
