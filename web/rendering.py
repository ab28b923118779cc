"""The Jinja2 environment and the context every page is rendered with."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from litestar import Request
from litestar.response import Template
from litestar.template.base import csrf_token
from markupsafe import Markup

from tenants.schema import TenantConfig
from web.i18n import Translator, html_lang, language_autonym

TEMPLATES = Path(__file__).resolve().parent / "templates"
# The vendored htmx build; see static/vendor/README.md for its source and checksum.
HTMX_FILE = "htmx-2.0.11.min.js"


def formatted(text: str, variables: dict[str, Any]) -> Markup:
    """A translated text as the i18n extension's newstyle gettext makes it: markup, then
    %-formatted with its variables escaped. With no variables and no `%` sign formatting
    gives the text back unchanged, and Markup's `%` wraps the mapping in an escaping helper
    first: most of a page's texts skip it."""
    if variables or "%" in text:
        return Markup(text) % variables
    return Markup(text)


@pass_context
def _gettext(context: Context, message: str) -> str:
    return context["i18n"].gettext(message)


@pass_context
def _translate(context: Context, message: str, **variables: Any) -> str:
    """`_()` in a template, as the i18n extension's newstyle gettext does it (escaped,
    always %-formatted) in one call: its own `_` goes through three nested context calls,
    and a page makes thirty or forty of them."""
    text = context["i18n"].gettext(message)
    if context.eval_ctx.autoescape:
        return formatted(text, variables)
    return text % variables


@pass_context
def _ngettext(context: Context, singular: str, plural: str, count: int) -> str:
    return context["i18n"].ngettext(singular, plural, count)


@pass_context
def _pgettext(context: Context, message_context: str, message: str) -> str:
    return context["i18n"].pgettext(message_context, message)


def create_environment(templates: Path = TEMPLATES) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(templates),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n", "jinja2.ext.do"],
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates are compiled once per process; a deploy restarts the process.
        auto_reload=False,
        cache_size=1000,
    )
    environment.policies["ext.i18n.trimmed"] = True
    environment.globals["htmx_file"] = HTMX_FILE
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, pgettext=_pgettext, newstyle=True
    )
    environment.globals["_"] = _translate
    return environment


def language_links(path: str, locales: list[str], current: str) -> list[dict[str, Any]]:
    """The language switcher: plain links, so it works without JavaScript."""
    return [
        {
            "code": code,
            "name": language_autonym(code),
            "lang": html_lang(code),
            "href": f"{path}?{urlencode({'lang': code})}",
            "current": code == current,
        }
        for code in locales
    ]


def page_texts(translate: Translator) -> dict[str, Callable[..., str]]:
    """`_()` and `pgettext()` for an HTML page, bound to its translator, with the escaping
    and %-formatting of the globals. Plain callables: Jinja hands a function that takes the
    context a fresh derived copy of it on each call inside a block or loop that set
    variables, a dozen copies a page."""

    def gettext(message: str, **variables: Any) -> str:
        return formatted(translate.gettext(message), variables)

    def pgettext(message_context: str, message: str, **variables: Any) -> str:
        return formatted(translate.pgettext(message_context, message), variables)

    return {"_": gettext, "pgettext": pgettext}


def base_context(
    *,
    i18n: Translator,
    path: str,
    nonce: str,
    tenant: TenantConfig | None,
    locales: list[str],
    demo: bool,
) -> dict[str, Any]:
    return {
        "i18n": i18n,
        "locale": i18n.locale,
        "html_lang": html_lang(i18n.locale),
        "tenant": tenant,
        "nonce": nonce,
        "demo": demo,
        "languages": language_links(path, locales, i18n.locale),
        **page_texts(i18n),
    }


def page(
    request: Request[Any, Any, Any], template: str, status_code: int = 200, **context: Any
) -> Template:
    """A full page for the request's tenant and locale."""
    state = request.scope["state"]
    tenant: TenantConfig | None = state.get("tenant")
    locales = tenant.locales.enabled if tenant else state["platform_locales"]
    full_context = base_context(
        i18n=state["i18n"],
        path=request.url.path,
        nonce=state["nonce"],
        tenant=tenant,
        locales=locales,
        demo=request.app.state.portal.settings.demo,
    )
    full_context["visitor"] = state.get("visitor")
    # Litestar's own csrf_token() takes the context, with the same cost as `_` above.
    full_context["csrf_token"] = lambda: csrf_token({"request": request})
    full_context.update(context)
    return Template(template_name=template, context=full_context, status_code=status_code)
