def cart_summary(request) -> dict:
    return {}
