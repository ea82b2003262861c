"""What production mode refuses to start without, and the deploy checks that back it (issue 12,
items 7, 8 and 10): a real e-mail backend, an explicit public URL, the Content-Security-Policy."""

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from catalog.tests.factories import ProductFactory
from tests.fixtures import clean_environment, run_manage

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "SHOP_PRODUCTION": "1",
    "DJANGO_SECRET_KEY": "a-long-random-secret-for-the-production-checks-0123456789abcdef",
    "DJANGO_ALLOWED_HOSTS": "shop.example",
    "DATABASE_URL": "sqlite:///:memory:",
    "EMAIL_URL": "smtp+tls://shop:secret@mail.example:587",
    "SHOP_PUBLIC_URL": "https://shop.example",
}
# nginx's policy before issue 12 (nginx/security_headers.conf), now Django's.
POLICY = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "style-src": "'self'",
    "script-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _production(**changes: str | None) -> dict[str, str]:
    values = {**PRODUCTION, **changes}
    return clean_environment(**{name: value for name, value in values.items() if value is not None})


def _directives(header: str) -> dict[str, str]:
    """A Content-Security-Policy header as {directive: its sources}, in any order."""
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def _check_ids(**overrides) -> set[str]:
    with override_settings(**overrides):
        return {message.id for message in run_checks(include_deployment_checks=True)}


# --- Item 7: production refuses console e-mail ------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_production_mode_refuses_to_start_without_an_email_url():
    result = run_manage("check", env=_production(EMAIL_URL=None))
    assert result.returncode != 0
    assert "Set the EMAIL_URL environment variable" in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("url", "backend"),
    [("consolemail://", "console"), ("memorymail://", "locmem"), ("dummymail://", "dummy")],
)
def test_production_mode_refuses_to_start_with_mail_that_is_not_delivered(url, backend):
    result = run_manage("check", env=_production(EMAIL_URL=url))
    assert result.returncode != 0
    assert "EMAIL_URL names a backend that delivers no mail" in result.stderr
    assert f"django.core.mail.backends.{backend}.EmailBackend" in result.stderr


def test_the_deploy_check_fails_on_console_email():
    console = "django.core.mail.backends.console.EmailBackend"
    assert "shop.E003" in _check_ids(EMAIL_BACKEND=console)
    assert "shop.E003" not in _check_ids(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend"
    )


# --- Item 8: the public URL, never the request's Host ----------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_production_mode_refuses_to_start_without_a_public_url():
    result = run_manage("check", env=_production(SHOP_PUBLIC_URL=None))
    assert result.returncode != 0
    assert "Set the SHOP_PUBLIC_URL environment variable" in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "url", ["https://shop.example/shop/", "ftp://shop.example", "https://", "shop.example"]
)
def test_a_public_url_that_is_not_a_bare_http_origin_is_refused(url):
    env = clean_environment(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL="sqlite:///:memory:",
        SHOP_PUBLIC_URL=url,
    )
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "SHOP_PUBLIC_URL must be http(s)://host[:port] with no path" in result.stderr


# --- Item 10: the Content-Security-Policy from Django ----------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/p/desk-lamp/", "/api/v1/products/", "/no-such-page/"])
def test_storefront_and_api_answers_carry_the_content_security_policy(client, path):
    ProductFactory(slug="desk-lamp")
    assert _directives(client.get(path)["Content-Security-Policy"]) == POLICY


def test_the_api_docs_load_nothing_from_another_origin_and_run_no_inline_script(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    policy = _directives(response["Content-Security-Policy"])
    assert policy == {**POLICY, "style-src": "'self' 'unsafe-inline'"}
    page = response.content.decode()
    assert "cdn.jsdelivr.net" not in page
    assert "<script>" not in page  # the start-up script is a file (?script) of the same origin


@pytest.mark.django_db
def test_a_plain_error_page_may_style_itself_and_nothing_more(client):
    response = client.get("/", HTTP_HOST="unknown.example")
    assert response.status_code == 400
    policy = _directives(response["Content-Security-Policy"])
    assert policy == {**POLICY, "style-src": "'self' 'unsafe-inline'"}


def test_the_deploy_check_fails_without_the_csp_middleware(settings):
    without = [name for name in settings.MIDDLEWARE if name != "csp.middleware.CSPMiddleware"]
    assert "shop.E001" in _check_ids(MIDDLEWARE=without)
    assert "shop.E001" not in _check_ids()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_deploy_checks_pass_in_production_mode():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=_production())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
