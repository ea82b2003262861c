"""What the browser journeys share: the sign-up form as a shopper fills it in."""

PASSWORD = "plum-orchard-lantern-42"


def fill_sign_up(page, url: str, email: str) -> None:
    """Open the sign-up form (it returns to the cart) and fill it in; the caller submits."""
    page.goto(f"{url}/accounts/register/?next=/cart/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
