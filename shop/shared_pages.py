"""Pages rendered once for every shopper, with what differs between shoppers filled in per request.

`render_shared()` renders a template as nobody in particular: each `{% per_shopper "t.html" %}`
becomes a marker, each `{% csrf_token %}` a placeholder, and the context holds no user, messages
or cart. The bytes can then be cached and served to anyone. `fill()` makes them one shopper's
page: the marked templates are rendered together with the request's own context (one run of the
context processors) and the placeholder becomes the request's CSRF token, which sets the CSRF
cookie exactly as `{% csrf_token %}` does.

    page = render_shared(request, "catalog/home.html", {...})    # cacheable: nobody's page
    return fill(page, request)                                  # this shopper's page
"""

from dataclasses import dataclass
from functools import lru_cache

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template import Engine
from django.template.base import Template
from django.template.context import make_context
from django.utils.html import format_html

SHARED = "shared_page_markers"  # in the context while rendering for every shopper
CSRF_PLACEHOLDER = "shared-page-csrf-placeholder"
_PART_BREAK = "<!--per-shopper-part-break-->"


def marker(template_name: str) -> str:
    """Return what stands for `template_name`'s output in a shared page (never a shopper's text:
    escaped text cannot hold `<`)."""
    return f"<!--per-shopper:{template_name}-->"


def _csrf_input(token: str) -> bytes:
    # The very markup of Django's {% csrf_token %}.
    return format_html(
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">', token
    ).encode()


CSRF_INPUT = _csrf_input(CSRF_PLACEHOLDER)


@dataclass(frozen=True)
class SharedPage:
    """A page rendered for nobody: `body` holds a marker for each of `personal`'s templates."""

    body: bytes
    personal: tuple[str, ...]


def render_shared(request: HttpRequest, template_name: str, context: dict) -> SharedPage:
    """Render `template_name` with what every shopper shares, and markers for the rest."""
    template = Engine.get_default().get_template(template_name)
    marked: list[str] = []
    shared = make_context(context, request)
    with (
        shared.bind_template(template),
        shared.push(
            {
                SHARED: marked,
                "csrf_token": CSRF_PLACEHOLDER,
                "user": AnonymousUser(),
                "perms": None,
                "messages": (),
                "cart_count": 0,
            }
        ),
    ):
        body = template.render(shared)
    return SharedPage(body=body.encode(), personal=tuple(dict.fromkeys(marked)))


@lru_cache(maxsize=64)
def _personal_template(names: tuple[str, ...]) -> Template:
    # One template including every personal part, so the context processors run once.
    source = _PART_BREAK.join('{%% include "%s" %%}' % name for name in names)  # noqa: UP031
    return Engine.get_default().from_string(source)


def fill(page: SharedPage, request: HttpRequest, *, status: int = 200) -> HttpResponse:
    """Return `page` as the response to `request`: its shopper's parts and CSRF token in."""
    body = page.body
    if page.personal:
        context = make_context({}, request)
        parts = _personal_template(page.personal).render(context).split(_PART_BREAK)
        for name, part in zip(page.personal, parts, strict=True):
            body = body.replace(marker(name).encode(), part.encode())
    if CSRF_INPUT in body:
        body = body.replace(CSRF_INPUT, _csrf_input(get_token(request)))
    return HttpResponse(body, status=status)
