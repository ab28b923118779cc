"""What functional tests share: a page's CSRF token, posting a form like a browser, signing in."""

from __future__ import annotations

import html
import re

import httpx

from domain.demo import DEMO_PASSWORD
from tests.conftest import tenant_url

_TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


def csrf_token(page: str) -> str:
    found = _TOKEN.search(page)
    assert found, "the page has no form with a CSRF token"
    return html.unescape(found.group(1))


async def submit(
    client: httpx.AsyncClient,
    slug: str,
    form_path: str,
    data: dict[str, str],
    *,
    action: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """GET the page holding the form, then POST `data` with its CSRF token, as a browser would."""
    page = await client.get(tenant_url(slug, form_path))
    assert page.status_code == 200, (form_path, page.status_code)
    return await client.post(
        tenant_url(slug, action or form_path),
        data={"_csrf_token": csrf_token(page.text), **data},
        headers=headers or {},
    )


async def sign_in(
    client: httpx.AsyncClient,
    slug: str,
    identifier: str,
    password: str = DEMO_PASSWORD,
    **extra: str,
) -> httpx.Response:
    return await submit(
        client, slug, "/sign-in", {"identifier": identifier, "password": password, **extra}
    )


def text_of(page: str) -> str:
    """The visible text of a page, tags dropped and entities decoded, for assertions on wording."""
    without_tags = re.sub(r"<[^>]+>", " ", page)
    return " ".join(html.unescape(without_tags).split())
