"""Which words a page shows: the tenant's, else the locale's catalog, else the English source.

Also demo mode's "show message ids" switch, which the Translator applies to every text.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tenants.loader import load_presets
from tests.conftest import tenant_url
from web.i18n import Translator, translator_for
from web.rendering import base_context, create_environment
from web.settings import Settings

PRESETS = {config.slug: config for config in load_presets()}
ENVIRONMENT = create_environment()

PLURAL_PAGE = (
    "<p>{% trans count=count %}One text is waiting for a translator{% pluralize %}"
    "{{ count }} texts are waiting for a translator{% endtrans %}</p>"
)
CONTEXT_PAGE = '<td>{{ pgettext("translation state", "Missing") }}</td>'


def render(source: str, translator: Translator, **context: Any) -> str:
    return ENVIRONMENT.from_string(source).render(i18n=translator, **context)


def render_contact_page(translator: Translator, slug: str) -> str:
    """The real contact page template, with the context the app gives it."""
    tenant = PRESETS[slug]
    context = base_context(
        i18n=translator,
        path="/contact",
        nonce="n",
        tenant=tenant,
        locales=tenant.locales.enabled,
        demo=False,
    )
    return ENVIRONMENT.get_template("contact.html").render(**context, centre=tenant.contact_centre)


# --- gettext ------------------------------------------------------------------------


def test_tenant_word_beats_catalog_which_beats_source_on_the_contact_page() -> None:
    translator = translator_for(
        "kk", terminology={"kk": {"Contact centre": "Абоненттік бөлім"}}, currency="KZT"
    )

    body = render_contact_page(translator, "kz-vodokanal")

    # The tenant's word, in the heading, the title and the footer.
    assert "<h1>Абоненттік бөлім</h1>" in body
    assert "<title>Абоненттік бөлім · " in body
    assert "Байланыс орталығы" not in body
    # Texts the tenant did not replace come from the Kazakh catalog.
    assert "<dt>Мекенжай</dt>" in body
    assert "Жұмыс уақыты" in body


def test_text_missing_from_the_catalog_falls_back_to_the_source() -> None:
    translator = translator_for("ru")

    assert render('{{ _("Contact centre") }}', translator) == "Контактный центр"
    assert render('{{ _("A text nobody has extracted yet") }}', translator) == (
        "A text nobody has extracted yet"
    )


def test_preset_terminology_is_applied_per_locale() -> None:
    terminology = PRESETS["kz-vodokanal"].terminology
    page = '<label>{{ _("Account number") }}</label>'

    assert (
        render(page, translator_for("kk", terminology=terminology)) == "<label>Дербес шот</label>"
    )
    assert render(page, translator_for("ru", terminology=terminology)) == (
        "<label>Лицевой счёт</label>"
    )
    assert render(page, translator_for("en", terminology=terminology)) == (
        "<label>Personal account number</label>"
    )
    # A tenant's Russian word never leaks into another tenant: the catalog's word is used.
    wujiang = PRESETS["wujiang-water"].terminology
    assert render(page, translator_for("ru", terminology=wujiang)) == (
        "<label>Номер лицевого счёта</label>"
    )


def test_empty_terminology_entry_is_ignored() -> None:
    translator = translator_for("ru", terminology={"ru": {"Contact centre": ""}})

    assert render('{{ _("Contact centre") }}', translator) == "Контактный центр"


# --- ngettext -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, "1 текст ждёт переводчика"),
        (3, "3 текста ждут переводчика"),
        (5, "5 текстов ждут переводчика"),
        (21, "21 текст ждёт переводчика"),
    ],
)
def test_plural_comes_from_the_catalog(count: int, expected: str) -> None:
    assert render(PLURAL_PAGE, translator_for("ru"), count=count) == f"<p>{expected}</p>"


@pytest.mark.parametrize(
    ("count", "expected"),
    [(1, "1 строка ждёт"), (2, "2 строки ждут"), (11, "11 строк ждут"), (31, "31 строка ждёт")],
)
def test_tenant_plural_forms_follow_the_locale_plural_rule(count: int, expected: str) -> None:
    terminology = {
        "ru": {
            "One text is waiting for a translator": (
                "%(count)s строка ждёт|%(count)s строки ждут|%(count)s строк ждут"
            )
        }
    }
    translator = translator_for("ru", terminology=terminology)

    assert render(PLURAL_PAGE, translator, count=count) == f"<p>{expected}</p>"


def test_tenant_plural_with_one_form_serves_every_number() -> None:
    terminology = {"kk": {"One text is waiting for a translator": "Кезекте: %(count)s"}}
    translator = translator_for("kk", terminology=terminology)

    assert render(PLURAL_PAGE, translator, count=1) == "<p>Кезекте: 1</p>"
    assert render(PLURAL_PAGE, translator, count=7) == "<p>Кезекте: 7</p>"


def test_tenant_plural_with_wrong_number_of_forms_falls_back_to_the_catalog(
    caplog: pytest.LogCaptureFixture,
) -> None:
    terminology = {"ru": {"One text is waiting for a translator": "%(count)s строка|%(count)s"}}
    translator = translator_for("ru", terminology=terminology)

    with caplog.at_level(logging.WARNING, logger="portal.i18n"):
        body = render(PLURAL_PAGE, translator, count=5)

    assert body == "<p>5 текстов ждут переводчика</p>"
    assert "has 2 forms, the language needs 3" in caplog.text


def test_plural_missing_from_the_catalog_falls_back_to_the_source() -> None:
    page = "{% trans count=count %}One meter{% pluralize %}{{ count }} meters{% endtrans %}"
    translator = translator_for("zh_Hans")

    assert render(page, translator, count=1) == "One meter"
    assert render(page, translator, count=4) == "4 meters"


# --- pgettext ---------------------------------------------------------------------------


def test_text_with_context_from_tenant_then_catalog_then_source() -> None:
    tenant_word = {"ru": {"translation state|Missing": "Перевода пока нет"}}

    assert render(CONTEXT_PAGE, translator_for("ru")) == "<td>Нет перевода</td>"
    assert render(CONTEXT_PAGE, translator_for("ru", terminology=tenant_word)) == (
        "<td>Перевода пока нет</td>"
    )
    unknown_context = '{{ pgettext("weather", "Missing") }}'
    assert render(unknown_context, translator_for("ru")) == "Missing"


def test_plain_terminology_does_not_replace_a_text_with_context() -> None:
    # "Missing" without a context may mean anything; only "context|msgid" reaches pgettext.
    translator = translator_for("ru", terminology={"ru": {"Missing": "Пропал"}})

    assert render(CONTEXT_PAGE, translator) == "<td>Нет перевода</td>"
    assert render('{{ _("Missing") }}', translator) == "Пропал"


# --- message ids ------------------------------------------------------------------------


def test_message_ids_follow_every_kind_of_text() -> None:
    translator = translator_for(
        "ru", terminology={"ru": {"Contact centre": "Абонентский отдел"}}, show_msgids=True
    )

    assert render('{{ _("Address") }}', translator) == "Адрес ⟦Address⟧"
    assert render('{{ _("Contact centre") }}', translator) == "Абонентский отдел ⟦Contact centre⟧"
    assert render(CONTEXT_PAGE, translator) == "<td>Нет перевода ⟦translation state|Missing⟧</td>"
    assert render(PLURAL_PAGE, translator, count=2) == (
        "<p>2 текста ждут переводчика ⟦One text is waiting for a translator⟧</p>"
    )
    assert render(
        '{{ _("Readings are accepted from day %(first)s to day %(last)s of each month.",'
        " first=20, last=25) }}",
        translator,
    ) == (
        "Показания принимаются с 20 по 25 число каждого месяца. "
        "⟦Readings are accepted from day 20 to day 25 of each month.⟧"
    )


@pytest.fixture
async def production_client(portal_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with demo mode off."""
    from web.app import create_app

    app = create_app(dataclasses.replace(portal_settings, demo=False))
    portal = app.portal  # type: ignore[attr-defined]
    await portal.reload_tenants()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        yield http
    await portal.database.dispose()


def msgids_cookies(response: httpx.Response) -> list[str]:
    return [c for c in response.headers.get_list("set-cookie") if c.startswith("msgids=")]


async def test_message_id_switch_is_remembered_until_turned_off(client: httpx.AsyncClient) -> None:
    url = tenant_url("ivanovo-water", "/contact")

    plain = await client.get(url)
    assert "⟦" not in plain.text
    assert msgids_cookies(plain) == []

    switched_on = await client.get(f"{url}?msgids=1")
    assert "<h1>Контактный центр ⟦Contact centre⟧</h1>" in switched_on.text
    [cookie] = msgids_cookies(switched_on)
    assert cookie.startswith("msgids=1;") and "domain=" not in cookie.lower()
    client.cookies.clear()

    remembered = await client.get(url, headers={"cookie": "msgids=1"})
    assert "⟦Contact centre⟧" in remembered.text
    assert msgids_cookies(remembered) == []

    switched_off = await client.get(f"{url}?msgids=0", headers={"cookie": "msgids=1"})
    assert "⟦" not in switched_off.text
    [cleared] = msgids_cookies(switched_off)
    assert cleared.startswith("msgids=;") and "Max-Age=0" in cleared


async def test_message_ids_also_on_the_platform_and_error_pages(client: httpx.AsyncClient) -> None:
    platform = await client.get("http://localhost/?msgids=1&lang=ru")
    missing = await client.get(
        tenant_url("kz-vodokanal", "/no/such/page?lang=kk"), headers={"cookie": "msgids=1"}
    )

    assert "⟦Utilities on this portal⟧" in platform.text
    assert missing.status_code == 404
    assert "Бет табылмады ⟦Page not found⟧" in missing.text


async def test_message_ids_never_shown_outside_demo_mode(
    production_client: httpx.AsyncClient,
) -> None:
    url = tenant_url("ivanovo-water", "/contact")

    asked = await production_client.get(f"{url}?msgids=1")
    remembered = await production_client.get(url, headers={"cookie": "msgids=1"})

    for response in (asked, remembered):
        assert response.status_code == 200
        assert "<h1>Контактный центр</h1>" in response.text
        assert "⟦" not in response.text
        assert msgids_cookies(response) == []


def test_a_pages_texts_escape_their_values_and_format_like_newstyle_gettext() -> None:
    context = base_context(
        i18n=translator_for("en"), path="/", nonce="n", tenant=None, locales=["en"], demo=False
    )
    source = (
        '{{ _("Hello, %(name)s!", name=name) }} {{ _("100%% sure") }} '
        '{{ pgettext("payee", "Recipient") }} {{ _("<i>as written</i>") }}'
    )
    html = ENVIRONMENT.from_string(source).render(**context, name="<b>")
    # A text is markup, with variables or without: only the values are escaped.
    assert html == "Hello, &lt;b&gt;! 100% sure Recipient <i>as written</i>"
