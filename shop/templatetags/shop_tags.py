"""Template tags of every storefront page."""

from django import template
from django.template import Engine
from django.template.context import Context
from django.utils.safestring import SafeString, mark_safe

from shop.shared_pages import SHARED, marker

register = template.Library()


@register.simple_tag(takes_context=True)
def per_shopper(context: Context, template_name: str) -> SafeString:
    """Include `template_name`, the part of a page that is one shopper's own (name, cart, messages).

    In a page rendered for every shopper (shop/shared_pages.py) it is a marker, filled per request.
    """
    marked = context.get(SHARED)
    if marked is not None:
        marked.append(template_name)
        return mark_safe(marker(template_name))  # noqa: S308 (our own constant markup)
    included = Engine.get_default().get_template(template_name)
    with context.push():
        return included.render(context)
