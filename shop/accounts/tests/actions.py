"""What account tests do through the API: send JSON, sign in by session or by token."""

from rest_framework.test import APIClient

from shop.accounts.tests.factories import PASSWORD


class JSONClient(APIClient):
    """An API client that sends JSON bodies, as the API's clients do (DRF's default: multipart)."""

    default_format = "json"


def sign_in_by_session(client: JSONClient, email: str = "ada@example.com") -> None:
    """Sign `client` in through the API's session login, which must accept PASSWORD."""
    response = client.post("/api/v1/auth/login/", {"email": email, "password": PASSWORD})
    assert response.status_code == 200


def log_in(email: str = "ada@example.com") -> str:
    """Sign in for an API token with PASSWORD; return the token."""
    response = JSONClient().post("/api/v1/auth/login/", {"email": email, "password": PASSWORD})
    assert response.status_code == 200
    return response.json()["token"]


def as_holder(key: str) -> JSONClient:
    """Return a client that sends the API token `key`."""
    client = JSONClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client
