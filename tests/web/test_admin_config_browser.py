"""The configuration editor, platform and billing pages in a real browser: axe-core finds
nothing on any of them, in their ordinary and their error states."""

from __future__ import annotations

import re
from typing import Any

import pytest

from domain.demo import DEMO_OPERATOR_LOGIN, DEMO_PASSWORD
from tests.browser import conftest as browser_conftest
from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.browser

live_server = browser_conftest.live_server
browser = browser_conftest.browser

# melitopol-water: drafts made here touch no other browser test's tenant.
SLUG = "melitopol-water"


def test_every_editor_platform_and_billing_page_passes_axe(browser: Any, live_server: str) -> None:
    context = browser.new_context(bypass_csp=True, locale="en-US")
    page = context.new_page()
    base = f"http://{SLUG}.{live_server}"
    try:
        page.goto(f"{base}/admin/sign-in?lang=en")
        page.get_by_label("Login").fill(DEMO_OPERATOR_LOGIN)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/admin")

        page.goto(f"{base}/admin/config")
        assert axe_violations(page) == []
        page.get_by_role("button", name=re.compile("Start a draft")).first.click()
        page.wait_for_url(re.compile(r".*/admin/config/versions/\d+$"))
        draft_url = page.url
        assert axe_violations(page) == []

        sections = page.get_by_role("navigation", name="Sections of the configuration")
        links = [link.get_attribute("href") for link in sections.get_by_role("link").all()]
        assert len(links) >= 10
        for href in links:
            page.goto(f"{base}{href}")
            assert page.get_by_role("heading", level=1).is_visible()
            assert axe_violations(page) == [], href

        # An error state: a currency that is not a code, the message beside the field.
        general = next(href for href in links if href.endswith("/general"))
        page.goto(f"{base}{general}")
        currency = page.get_by_label(re.compile("^Currency"))
        currency.fill("")
        page.get_by_role("button", name=re.compile("^Save")).first.click()
        assert currency.get_attribute("aria-invalid") == "true"
        assert axe_violations(page) == []

        page.goto(f"{base}/admin/config/diff")
        assert axe_violations(page) == []
        page.goto(draft_url)

        for path in (
            "/admin/platform",
            "/admin/platform/new",
            "/admin/platform/operators",
            "/admin/api-keys",
            "/admin/imports",
            "/admin/customers",
            "/admin/outbox",
            "/admin/audit",
        ):
            page.goto(f"{base}{path}")
            assert page.get_by_role("heading", level=1).is_visible(), path
            assert axe_violations(page) == [], path

        page.goto(f"{base}/admin/platform")
        page.get_by_role("link", name=re.compile(SLUG)).first.click()
        page.wait_for_url(re.compile(r".*/admin/platform/tenants/\d+$"))
        assert axe_violations(page) == []
    finally:
        context.close()
