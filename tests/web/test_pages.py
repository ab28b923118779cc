"""Every tenant's pages over HTTP, in each of its locales, through the real app."""

from __future__ import annotations

import re

import httpx
import pytest

from tenants.loader import load_presets
from tests.conftest import tenant_url
from tests.helpers import text_of

PRESETS = {config.slug: config for config in load_presets()}
TENANT_LOCALES = [
    (slug, locale) for slug, config in PRESETS.items() for locale in config.locales.enabled
]


def html_lang(body: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', body)
    assert match, "page has no <html lang>"
    return match.group(1)


@pytest.mark.parametrize(("slug", "locale"), TENANT_LOCALES)
async def test_home_page_in_each_enabled_locale(
    client: httpx.AsyncClient, slug: str, locale: str
) -> None:
    config = PRESETS[slug]
    response = await client.get(tenant_url(slug, f"/?lang={locale}"))
    assert response.status_code == 200
    body = response.text
    assert html_lang(body) == locale.replace("_", "-")
    assert config.name(locale) in body
    assert response.headers["content-language"] == locale.replace("_", "-")
    # Never another tenant's content.
    for other_slug, other in PRESETS.items():
        if other_slug != slug and other.name(locale) != config.name(locale):
            assert other.name(locale) not in body


@pytest.mark.parametrize("slug", sorted(PRESETS))
async def test_default_locale_without_any_preference(client: httpx.AsyncClient, slug: str) -> None:
    response = await client.get(tenant_url(slug), headers={"accept-language": ""})
    assert html_lang(response.text) == PRESETS[slug].locales.default.replace("_", "-")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9", "zh-Hans"),
        ("zh-SG", "zh-Hans"),
        ("zh-Hans", "zh-Hans"),
        ("en-US,en;q=0.8,zh;q=0.9", "en"),
        ("en-US;q=0.5,zh;q=0.9", "zh-Hans"),
        ("en;q=0.9,zh;q=0.1", "en"),
        ("fr-FR", "zh-Hans"),
        (";;;q=,==,\x7f", "zh-Hans"),
        ("en;q=banana", "zh-Hans"),
    ],
)
async def test_accept_language_on_a_chinese_tenant(
    client: httpx.AsyncClient, header: str, expected: str
) -> None:
    response = await client.get(tenant_url("wujiang-water"), headers={"accept-language": header})
    assert response.status_code == 200
    assert html_lang(response.text) == expected


async def test_language_choice_is_remembered_in_a_host_only_cookie(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(tenant_url("kz-vodokanal", "/?lang=kk"))
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("lang="))
    assert cookie.startswith("lang=kk;")
    assert "domain=" not in cookie.lower()  # host-only: never sent to another tenant
    again = await client.get(
        tenant_url("kz-vodokanal"), headers={"cookie": "lang=kk", "accept-language": "ru"}
    )
    assert html_lang(again.text) == "kk"
    assert not any(c.startswith("lang=") for c in again.headers.get_list("set-cookie"))


async def test_cookie_beats_browser_but_query_beats_cookie(client: httpx.AsyncClient) -> None:
    response = await client.get(
        tenant_url("kz-vodokanal", "/?lang=en"),
        headers={"cookie": "lang=kk", "accept-language": "ru"},
    )
    assert html_lang(response.text) == "en"


@pytest.mark.parametrize("lang", ["xx", "kk", "zh_Hans", "", "../../etc", "ru%00"])
async def test_unsupported_language_falls_back_to_tenant_default(
    client: httpx.AsyncClient, lang: str
) -> None:
    # ivanovo-water offers ru and en only: kk and zh_Hans are not its languages.
    response = await client.get(
        tenant_url("ivanovo-water", f"/?lang={lang}"), headers={"accept-language": ""}
    )
    assert response.status_code == 200
    assert html_lang(response.text) == "ru"
    assert not any(c.startswith("lang=") for c in response.headers.get_list("set-cookie"))


@pytest.mark.parametrize(
    "host", ["nowhere.localhost", "wujiang-water.example.org", "localhost.evil", "a.b.localhost"]
)
async def test_unknown_host_is_a_404_with_no_tenant_content(
    client: httpx.AsyncClient, host: str
) -> None:
    for path in ("/", "/contact", "/no/such/page"):
        response = await client.get(f"http://{host}{path}")
        assert response.status_code == 404
        for config in PRESETS.values():
            for locale in config.locales.enabled:
                assert config.name(locale) not in response.text
        assert "<html lang=" in response.text


@pytest.mark.parametrize(
    "host",
    ["WUJIANG-WATER.LOCALHOST", "wujiang-water.localhost:8000", "Wujiang-Water.Localhost.:80"],
)
async def test_host_case_and_port_are_ignored(client: httpx.AsyncClient, host: str) -> None:
    response = await client.get("/", headers={"host": host})
    assert response.status_code == 200
    assert PRESETS["wujiang-water"].name("zh_Hans") in response.text


async def test_platform_page_lists_every_tenant_in_demo_mode(client: httpx.AsyncClient) -> None:
    response = await client.get("http://localhost/")
    assert response.status_code == 200
    for slug in PRESETS:
        assert f"http://{slug}.localhost/" in response.text


async def test_unknown_path_on_a_tenant_is_a_branded_404(client: httpx.AsyncClient) -> None:
    response = await client.get(tenant_url("melitopol-gas", "/no/such/page"))
    assert response.status_code == 404
    assert PRESETS["melitopol-gas"].name("ru") in response.text
    assert html_lang(response.text) == "ru"


@pytest.mark.parametrize("slug", sorted(PRESETS))
async def test_contact_centre_page(client: httpx.AsyncClient, slug: str) -> None:
    centre = PRESETS[slug].contact_centre
    response = await client.get(tenant_url(slug, "/contact"))
    assert response.status_code == 200
    for phone in centre.phones:
        assert phone in response.text
    if centre.hotline:
        assert centre.hotline in response.text


async def test_security_headers_and_no_inline_script(client: httpx.AsyncClient) -> None:
    response = await client.get(tenant_url("ivanovo-water"))
    policy = response.headers["content-security-policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    # Every <script> loads a file; none carries code inline.
    for tag in re.findall(r"<script\b[^>]*>(.*?)</script>", response.text, flags=re.S):
        assert tag.strip() == ""
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce and f'nonce="{nonce.group(1)}"' in response.text


async def test_pages_work_without_javascript_by_linking_languages(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(tenant_url("kz-vodokanal"))
    for code in ("ru", "kk", "en"):
        assert f'href="/?lang={code}"' in response.text


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("http://anything.example/healthz")).json() == {"status": "ok"}
    ready = await client.get("http://localhost/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_money_is_formatted_for_the_locale() -> None:
    from decimal import Decimal

    from web.i18n import translator_for

    assert translator_for("ru", currency="RUB").money(Decimal("1234.5")) == "1\xa0234,50\xa0₽"
    assert translator_for("zh_Hans", currency="CNY").money(Decimal("1234.5")) == "¥1,234.50"
    assert translator_for("kk", currency="KZT").money(Decimal("1234.5")) == "1\xa0234,50\xa0₸"


@pytest.mark.parametrize("slug", sorted(PRESETS))
async def test_contact_centre_shows_address_and_hours_in_the_page_language(
    client: httpx.AsyncClient, slug: str
) -> None:
    config = PRESETS[slug]
    for locale in config.locales.enabled:
        text = text_of((await client.get(tenant_url(slug, f"/contact?lang={locale}"))).text)
        if config.contact_centre.address:
            assert config.text(config.contact_centre.address, locale) in text
        for row in config.contact_centre.hours:
            assert config.text(row.days, locale) in text and row.hours in text


async def test_melitopol_water_advises_when_to_submit_readings(client: httpx.AsyncClient) -> None:
    russian = text_of((await client.get(tenant_url("melitopol-water", "/?lang=ru"))).text)
    assert "до 25 числа" in russian and "в один и тот же день" in russian
    english = text_of((await client.get(tenant_url("melitopol-water", "/?lang=en"))).text)
    assert "before the 25th" in english and "on the same day each month" in english
