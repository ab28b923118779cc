"""Signing staff in for tests: tenant admins and the platform operator of the demo data."""

from __future__ import annotations

import httpx

from domain.demo import DEMO_OPERATOR_LOGIN, DEMO_PASSWORD, DEMO_STAFF_LOGIN
from tests.helpers import submit


async def staff_sign_in(
    client: httpx.AsyncClient,
    slug: str,
    login: str = DEMO_STAFF_LOGIN,
    password: str = DEMO_PASSWORD,
) -> httpx.Response:
    """Sign in at /admin on the tenant's host; the response is the redirect's target."""
    return await submit(client, slug, "/admin/sign-in", {"login": login, "password": password})


async def operator_sign_in(client: httpx.AsyncClient, slug: str) -> httpx.Response:
    """The demo platform operator signs in at /admin on this tenant's host."""
    return await staff_sign_in(client, slug, login=DEMO_OPERATOR_LOGIN)
