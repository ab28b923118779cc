"""Ids in URLs are looked up, never trusted: a huge, zero or foreign id is a 404, never a 500."""

from __future__ import annotations

import httpx
import pytest

from domain.demo import DEMO_OPERATOR_LOGIN, DEMO_PASSWORD
from tests.conftest import tenant_url
from tests.helpers import csrf_token, sign_in, submit

SLUG = "ivanovo-water"
# Past 64 bits, past 63 bits, past PostgreSQL's 32-bit INTEGER keys, and zero.
ODD_IDS = ["99999999999999999999", "9223372036854775808", "2147483648", "0"]
CUSTOMER_PAGES = [
    "/accounts/{id}/readings",
    "/accounts/{id}/statement",
    "/accounts/{id}/nickname",
    "/accounts/{id}/unlink",
    "/accounts/{id}/charges",
    "/accounts/{id}/charges.pdf",
    "/accounts/{id}/statement.pdf",
    "/accounts/{id}/pay",
    "/accounts/{id}/payments",
    "/accounts/{id}/payments/1",
    "/accounts/1/payments/{id}",
]
STAFF_PAGES = [
    "/admin/visits/{id}",
    "/admin/activations/{id}",
    "/admin/customers/{id}",
    "/admin/config/versions/{id}",
    "/admin/config/versions/{id}/sections/general",
    "/admin/api-keys/{id}/revoke",
    "/admin/imports/{id}",
    "/admin/platform/tenants/{id}",
    "/admin/platform/staff/{id}/password",
]
STAFF_POSTS = [
    ("/admin/visits/{id}/status", {"status": "done", "seen_status": "submitted"}),
    ("/admin/anonymous-readings/{id}/record", {}),
    ("/admin/anonymous-readings/{id}/reject", {"note": "x"}),
    ("/admin/customers/{id}/lock", {"expected": "active"}),
    ("/admin/customers/{id}/unlock", {"expected": "locked"}),
    ("/admin/customers/{id}/reset-password", {}),
    ("/admin/outbox/{id}/retry", {}),
    ("/admin/config/versions/{id}/publish", {}),
    ("/admin/config/versions/{id}/rollback", {}),
    ("/admin/config/versions/{id}/preview", {}),
    ("/admin/api-keys/{id}/revoke", {}),
    ("/admin/platform/tenants/{id}/domains", {"domains": ""}),
    ("/admin/platform/staff/{id}/lock", {}),
]


@pytest.mark.parametrize("odd", ODD_IDS)
async def test_customer_pages_answer_404(client: httpx.AsyncClient, odd: str) -> None:
    assert (await sign_in(client, SLUG, "+79123451234")).status_code == 303
    for path in CUSTOMER_PAGES:
        response = await client.get(tenant_url(SLUG, path.format(id=odd)))
        assert response.status_code == 404, (path, response.status_code)
    cabinet = await client.get(tenant_url(SLUG, "/cabinet"))
    token = csrf_token(cabinet.text)
    for path in ("/accounts/{id}/unlink", "/accounts/{id}/nickname", "/accounts/{id}/readings"):
        response = await client.post(
            tenant_url(SLUG, path.format(id=odd)), data={"_csrf_token": token, "nickname": "x"}
        )
        assert response.status_code == 404, (path, response.status_code)


@pytest.mark.parametrize("odd", ODD_IDS)
async def test_staff_pages_answer_404(client: httpx.AsyncClient, odd: str) -> None:
    # The platform operator reaches every staff route, the platform's included.
    signed = await submit(
        client, SLUG, "/admin/sign-in", {"login": DEMO_OPERATOR_LOGIN, "password": DEMO_PASSWORD}
    )
    assert signed.status_code == 303
    for path in STAFF_PAGES:
        response = await client.get(tenant_url(SLUG, path.format(id=odd)))
        assert response.status_code == 404, (path, response.status_code)
    token = csrf_token((await client.get(tenant_url(SLUG, "/admin/visits"))).text)
    for path, data in STAFF_POSTS:
        response = await client.post(
            tenant_url(SLUG, path.format(id=odd)), data={"_csrf_token": token, **data}
        )
        assert response.status_code == 404, (path, response.status_code)


@pytest.mark.parametrize("odd", ODD_IDS)
async def test_broadband_pages_answer_404(client: httpx.AsyncClient, odd: str) -> None:
    assert (await sign_in(client, "beijing-unicom", "lty03410")).status_code == 303
    for path in ("/accounts/{id}/broadband", "/accounts/{id}/broadband/usage"):
        response = await client.get(tenant_url("beijing-unicom", path.format(id=odd)))
        assert response.status_code == 404, (path, response.status_code)
