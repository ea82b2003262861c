"""Deploy checks (`manage.py check --deploy`, run by `make lint` in production mode): what a
production shop must have beyond its settings' own start-up refusals (issue 12)."""

from django.conf import settings
from django.core.checks import Error, Tags, register

CSP_MIDDLEWARE = "csp.middleware.CSPMiddleware"


@register(Tags.security, deploy=True)
def check_content_security_policy(app_configs, **kwargs) -> list[Error]:
    """Every answer from Django carries the CSP: its middleware is installed and has a policy."""
    if CSP_MIDDLEWARE not in settings.MIDDLEWARE:
        return [
            Error(
                "No Content-Security-Policy on the shop's pages.",
                hint=f"Add {CSP_MIDDLEWARE!r} to MIDDLEWARE (config/settings.py).",
                id="shop.E001",
            )
        ]
    if not getattr(settings, "CONTENT_SECURITY_POLICY", None):
        return [
            Error(
                "The CSP middleware has no policy to send.",
                hint="Set CONTENT_SECURITY_POLICY (config/settings.py).",
                id="shop.E002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_email_is_delivered(app_configs, **kwargs) -> list[Error]:
    """Mail goes out: not to the console (and so the logs), to memory or nowhere."""
    if settings.EMAIL_BACKEND in settings.UNDELIVERED_EMAIL_BACKENDS:
        return [
            Error(
                f"E-mail is not delivered ({settings.EMAIL_BACKEND}): reset links and order "
                "e-mails would go to the logs or nowhere.",
                hint="Set EMAIL_URL to smtp://, smtp+tls:// or smtps:// (config/settings.py).",
                id="shop.E003",
            )
        ]
    return []
