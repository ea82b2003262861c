"""What cart tests do through the API: add a product, read the cart back."""


def add(client, product, quantity: int):
    """Add `quantity` units of `product` through the API; return the response."""
    return client.post(
        "/api/v1/cart/items/", {"product_id": product.pk, "quantity": quantity}, format="json"
    )


def lines(client) -> dict[str, int]:
    """Return the cart's quantities by product title, as the API shows them."""
    return {item["title"]: item["quantity"] for item in client.get("/api/v1/cart/").json()["items"]}
