"""Bad input in every registration field, in several languages: a message next to the field.

Never a 500: each bad value gets status 400, the field's own error element, and every
other value back in its field (passwords never come back). Wording is not asserted:
messages may still be English until the catalogs are translated.
"""

from __future__ import annotations

import html

import httpx
import pytest

from tenants.loader import load_presets
from tenants.schema import DigitsKind, FormField, TenantConfig
from tests.conftest import tenant_url
from tests.web.test_registration_email import melitopol_account
from tests.web.test_registration_helpers import field_error, field_value, hidden, post_step

PASSWORD = "Kran2016x"
CONFIGS = {config.slug: config for config in load_presets()}
LONG = "7" * 5000
CONTROL = "\x00\x01\x1b"

# Bad values by field type, and by identifier kind for identifier fields.
BAD_BY_TYPE: dict[str, list[str]] = {
    "person_name": ["1234", "x" * 5000, CONTROL],
    "street": ["x" * 5000, CONTROL],
    "house": ["abc", "1/2/3/4", CONTROL],
    "building": ["x" * 10, "<b>"],
    "apartment": ["x" * 10, "'; drop"],
    "meter_serial": ["12", "!!!!", CONTROL],
    "text": ["x" * 5000, CONTROL],
    "password": ["short1", "onlyletters", "12345678901", "p" * 5000],
    "password_repeat": ["Different99"],
}
BAD_BY_KIND: dict[str, list[str]] = {
    "digits": ["abc", LONG, "12\x003a"],
    "national_id": ["123456789012", "12345678901X", "abc", LONG],
    "phone": ["12ab", "+1 555", LONG],
    "email": ["not-an-email", "a@" + "b" * 5000, "@example.com"],
    "login": ["ab", "a" * 5000, "<script>", "1abc", "日本語ログイン"],
}


def good_value(config: TenantConfig, field: FormField) -> str:
    if field.type in ("password", "password_repeat"):
        return PASSWORD
    if field.type == "checkbox":
        return "on"
    if field.sample:
        return field.sample
    if field.identifier:
        return config.identifier(field.identifier).sample
    return {"person_name": "Шевченко", "text": "ТОО Тест"}.get(field.type, "1")


def bad_values(config: TenantConfig, field: FormField) -> list[str]:
    if field.type == "identifier" and field.identifier:
        spec = config.identifier(field.identifier).spec
        if isinstance(spec, DigitsKind):
            shortest, longest = spec.bounds
            wrong_lengths = ["9" * (longest + 1)] + (["1" * (shortest - 1)] if shortest > 1 else [])
            return BAD_BY_KIND["digits"] + wrong_lengths
        return BAD_BY_KIND[spec.kind]
    return BAD_BY_TYPE.get(field.type, [])


FORMS = [
    # (slug, page, variant, step, language)
    ("melitopol-water", "/register?lang=ru", "individual", "check", "ru"),
    ("melitopol-gas", "/register?lang=en", "individual", "check", "en"),
    ("ivanovo-water", "/register?lang=ru", "individual", "contact", "ru"),
    ("kz-vodokanal", "/register?variant=individual&lang=kk", "individual", "register", "kk"),
    ("kz-vodokanal", "/register?variant=legal&lang=ru", "legal", "register", "ru"),
    ("kz-vodokanal", "/register?variant=legal&lang=kk", "legal", "register", "kk"),
    ("wujiang-water", "/register?lang=zh_Hans", "individual", "activation", "zh-Hans"),
]


def assert_named_and_kept(
    response: httpx.Response, data: dict[str, str], bad_field: str, fields: list[FormField]
) -> None:
    assert response.status_code == 400, (bad_field, data[bad_field][:20], response.status_code)
    assert field_error(response.text, bad_field), (bad_field, data[bad_field][:20])
    for other in fields:
        if other.name == bad_field or other.type in ("password", "password_repeat", "checkbox"):
            continue
        assert field_value(response.text, other.name) == html.escape(data[other.name]), other.name
    assert PASSWORD not in response.text


@pytest.mark.parametrize(("slug", "path", "variant", "step", "lang"), FORMS)
async def test_every_field_names_its_own_problem(
    client: httpx.AsyncClient, slug: str, path: str, variant: str, step: str, lang: str
) -> None:
    config = CONFIGS[slug]
    chosen = config.variant(variant)
    assert chosen is not None
    fields = list(next(s for s in chosen.steps if s.key == step).fields)
    good = {f.name: good_value(config, f) for f in fields}
    tried = 0
    for field in fields:
        for bad in bad_values(config, field):
            data = {"variant": variant, "step": step, **good, field.name: bad}
            response = await post_step(client, slug, path, data)
            assert response.headers["content-language"] == lang
            assert_named_and_kept(response, data, field.name, fields)
            tried += 1
        if field.required and field.type != "checkbox":
            data = {"variant": variant, "step": step, **good, field.name: "   "}
            response = await post_step(client, slug, path, data)
            assert_named_and_kept(response, data, field.name, fields)
    assert tried >= len(fields)


async def test_the_agreement_box_and_missing_fields(client: httpx.AsyncClient) -> None:
    response = await post_step(
        client,
        "wujiang-water",
        "/register?lang=zh_Hans",
        {"variant": "individual", "step": "activation"},
    )
    assert response.status_code == 400
    for name in ("agreement_accepted", "account_number", "holder_name", "resident_id", "mobile"):
        assert field_error(response.text, name), name


async def test_second_step_fields_name_their_problems(
    client: httpx.AsyncClient, database_url: str
) -> None:
    slug = "melitopol-water"
    answers, _ = await melitopol_account(database_url, slug)
    step_two = await post_step(client, slug, "/register?lang=ru", answers)
    assert step_two.status_code == 200
    config = CONFIGS[slug]
    fields = list(config.registration.variants[0].steps[1].fields)
    good = {f.name: good_value(config, f) for f in fields}
    for field in fields:
        for bad in bad_values(config, field):
            data = {"variant": "individual", "step": "create", **good, field.name: bad}
            response = await client.post(
                tenant_url(slug, "/register"),
                data={
                    "_csrf_token": hidden(step_two.text, "_csrf_token"),
                    "ticket": hidden(step_two.text, "ticket"),
                    **data,
                },
            )
            assert_named_and_kept(response, data, field.name, fields)
            # The ticket travels on, so the corrected form can still be sent.
            assert hidden(response.text, "ticket") == hidden(step_two.text, "ticket")


@pytest.mark.parametrize("path", ["/register/login-preview", "/register/code"])
async def test_odd_queries_never_fail(client: httpx.AsyncClient, path: str) -> None:
    for query in (
        {"variant": "x" * 3000},
        {"t": "a.b.c"},
        {"variant": "legal", "contract_number": LONG},
    ):
        response = await client.get(tenant_url("kz-vodokanal", path), params=query)
        assert response.status_code in (200, 400, 404)
    code_page = await client.get(tenant_url("ivanovo-water", "/register/code"), params={"t": "x"})
    assert code_page.status_code == 400
    assert 'href="/register"' in code_page.text
