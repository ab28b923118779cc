"""Message templates: one folder per email or SMS under templates/messages/, per locale."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jinja2 import Environment, TemplateNotFound

from domain.outbox import CHANNELS, SUBJECT_LENGTH, Channel, RenderedMessage
from tenants.schema import TenantConfig
from web.i18n import translator_for
from web.rendering import create_environment

# Folder names only: a template name never climbs out of web/templates/messages/.
_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,64}$")


@cache
def _environment() -> Environment:
    # The pages' environment: the same i18n extension, trimming and autoescape (HTML only).
    return create_environment()


def render_message(
    template: str,
    channel: Channel,
    locale: str,
    context: dict[str, Any],
    config: TenantConfig | None = None,
) -> RenderedMessage:
    """A message in one locale from web/templates/messages/<template>/.

    With the tenant's configuration the message uses the tenant's own terms, currency
    and time zone, and `tenant_name` (in the message's locale) unless the context has one.
    """
    if not _TEMPLATE_NAME.match(template):
        raise ValueError(f"not a message template name: {template!r}")
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel: {channel!r}")
    values: dict[str, Any] = {}
    if config is None:
        translator = translator_for(locale)
    else:
        translator = translator_for(
            locale,
            terminology=config.terminology,
            currency=config.currency,
            timezone=config.timezone,
        )
        values.update(tenant=config, tenant_name=config.name(locale))
    values.update(context)
    values.update(i18n=translator, locale=locale)
    environment = _environment()
    folder = f"messages/{template}"
    body_text = environment.get_template(f"{folder}/body.txt").render(values).strip() + "\n"
    if channel == "sms":
        return RenderedMessage(subject="", body_text=body_text, body_html=None)
    # A subject is one header line: newlines from a translation must never start a new header.
    subject = " ".join(environment.get_template(f"{folder}/subject.txt").render(values).split())
    try:
        html_template = environment.get_template(f"{folder}/body.html")
    except TemplateNotFound:
        body_html = None
    else:
        body_html = html_template.render(values).strip() + "\n"
    return RenderedMessage(
        subject=subject[:SUBJECT_LENGTH], body_text=body_text, body_html=body_html
    )
