"""Every tenant's registration pages: what each flow shows, and that each stays light."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import tenant_url
from tests.helpers import sign_in, text_of

BUDGET_BYTES = 30 * 1024
PAGES = [
    ("wujiang-water", "/register"),
    ("wujiang-water", "/register/account-number"),
    ("melitopol-water", "/register"),
    ("melitopol-gas", "/register"),
    ("beijing-unicom", "/register"),
    ("ivanovo-water", "/register"),
    ("kz-vodokanal", "/register"),
    ("kz-vodokanal", "/register?variant=individual"),
    ("kz-vodokanal", "/register?variant=legal"),
]


async def _compressed_size(client: httpx.AsyncClient, url: str) -> int:
    response = await client.get(url, headers={"accept-encoding": "gzip"})
    assert response.status_code == 200, url
    return response.num_bytes_downloaded


@pytest.mark.parametrize(("slug", "path"), PAGES)
async def test_first_load_within_budget(client: httpx.AsyncClient, slug: str, path: str) -> None:
    page_url = tenant_url(slug, path)
    total = await _compressed_size(client, page_url)
    page = (await client.get(page_url)).text
    for asset in set(re.findall(r'(?:src|href)="(/static/[^"]+)"', page)):
        total += await _compressed_size(client, tenant_url(slug, asset))
    assert total <= BUDGET_BYTES, f"{page_url}: {total} bytes compressed"


@pytest.mark.parametrize(
    ("slug", "form_key"),
    [
        ("melitopol-water", "register:individual:check"),
        ("melitopol-gas", "register:individual:check"),
        ("ivanovo-water", "register:individual:contact"),
        ("wujiang-water", "register:individual:activation"),
    ],
)
async def test_fields_are_checked_as_they_are_left(
    client: httpx.AsyncClient, slug: str, form_key: str
) -> None:
    page = await client.get(tenant_url(slug, "/register"))
    inputs = re.findall(r"<input [^>]*hx-post=\"/forms/check\"[^>]*>", page.text)
    assert inputs
    assert all(f'"_form": "{form_key}"' in tag and 'hx-trigger="change"' in tag for tag in inputs)
    # Every input is labelled, and its hint is tied to it.
    for name in re.findall(r'<input type="(?:text|email|tel|password)" id="([a-z_]+)"', page.text):
        assert f'<label for="{name}">' in page.text, name


async def test_a_signed_in_customer_goes_to_the_cabinet(client: httpx.AsyncClient) -> None:
    assert (await sign_in(client, "melitopol-water", "ivanov1")).status_code == 303
    response = await client.get(tenant_url("melitopol-water", "/register"))
    assert response.status_code == 303
    assert response.headers["location"] == "/cabinet"


async def test_the_login_preview_varies_by_htmx(client: httpx.AsyncClient) -> None:
    response = await client.get(
        tenant_url("kz-vodokanal", "/register/login-preview?variant=legal&contract_number=0042"),
        headers={"HX-Request": "true"},
    )
    assert response.headers["vary"] == "HX-Request"
    assert text_of(response.text).endswith("vk0042")


async def test_pages_of_other_flows_are_not_found(client: httpx.AsyncClient) -> None:
    for slug, path in (
        ("melitopol-water", "/register/code"),
        ("melitopol-water", "/register/account-number"),
        ("ivanovo-water", "/register/received"),
        ("kz-vodokanal", "/register/login-preview?variant=nobody"),
    ):
        response = await client.get(tenant_url(slug, path))
        assert response.status_code == 404, (slug, path)
