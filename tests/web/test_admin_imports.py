"""API keys and CSV imports in the staff area, through HTTP: encodings, per-row reports, scoping.

Each test runs on a private copy of the seeded database, since imports write billing rows.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from domain.api_keys import ApiKey
from domain.audit import AuditEntry
from domain.demo import DEMO_PASSWORD, DEMO_STAFF_LOGIN
from domain.import_jobs import ImportJob, create_import_job
from domain.models import Account, Charge, utcnow
from tests.browser import conftest as browser_conftest
from tests.browser.conftest import axe_violations, running_portal
from tests.conftest import tenant_url
from tests.helpers import csrf_token, text_of
from tests.staff_support import staff_sign_in
from web.app import create_app
from web.settings import Settings

IVANOVO = "ivanovo-water"
WUJIANG = "wujiang-water"

# Headless Chromium for the axe check at the end (the shared browser fixture).
browser = browser_conftest.browser


@dataclass
class Portal:
    portal: Any
    settings: Settings
    apps: list[Any]

    async def client(self, address: str) -> httpx.AsyncClient:
        """A browser of its own, on an app of its own (as another process would be)."""
        app = create_app(self.settings)
        await app.portal.reload_tenants()  # type: ignore[attr-defined]
        self.apps.append(app)
        transport = httpx.ASGITransport(app=app, client=(address, 40000))  # type: ignore[arg-type]
        return httpx.AsyncClient(
            transport=transport, base_url="http://localhost", headers={"Accept-Language": "en"}
        )

    async def rows(self, statement: Any) -> list[Any]:
        async with self.portal.database.session() as session:
            return list(await session.exec(statement))


@pytest.fixture
async def site(private_settings: Settings) -> AsyncIterator[Portal]:
    app = create_app(private_settings)
    await app.portal.reload_tenants()  # type: ignore[attr-defined]
    portal = Portal(app.portal, private_settings, [app])  # type: ignore[attr-defined]
    yield portal
    for each in portal.apps:
        await each.portal.database.dispose()


async def signed_in(site: Portal, slug: str, address: str) -> httpx.AsyncClient:
    staff = await site.client(address)
    response = await staff_sign_in(staff, slug)
    assert response.status_code == 303, response.text
    return staff


async def upload(
    staff: httpx.AsyncClient,
    content: bytes,
    kind: str,
    *,
    mode: str = "all",
    encoding: str = "",
    slug: str = IVANOVO,
) -> httpx.Response:
    form = await staff.get(tenant_url(slug, "/admin/imports"))
    assert form.status_code == 200
    return await staff.post(
        tenant_url(slug, "/admin/imports"),
        data={
            "_csrf_token": csrf_token(form.text),
            "kind": kind,
            "mode": mode,
            "encoding": encoding,
        },
        files={"file": ("data.csv", content, "text/csv")},
    )


async def finished(staff: httpx.AsyncClient, location: str, slug: str = IVANOVO) -> str:
    """Poll the job as htmx does until it says it has ended; then the full page."""
    for _ in range(600):
        poll = await staff.get(tenant_url(slug, location), headers={"HX-Request": "true"})
        assert poll.status_code == 200
        assert "<html" not in poll.text
        if poll.headers.get("hx-refresh") == "true":
            page = await staff.get(tenant_url(slug, location))
            assert page.status_code == 200
            return page.text
        await asyncio.sleep(0.05)
    raise AssertionError("the import did not finish")


async def imported(staff: httpx.AsyncClient, content: bytes, kind: str, **options: str) -> str:
    response = await upload(staff, content, kind, **options)
    assert response.status_code == 303, text_of(response.text)
    return await finished(staff, response.headers["location"])


def ivanovo_id(site: Portal) -> int:
    return int(site.portal.tenant_ids[IVANOVO])


# --- API keys --------------------------------------------------------------------------------


async def test_a_key_is_shown_once_used_and_revoked_within_its_tenant(site: Portal) -> None:
    staff = await signed_in(site, IVANOVO, "10.60.0.1")
    page = await staff.get(tenant_url(IVANOVO, "/admin/api-keys"))
    assert page.status_code == 200
    empty = await staff.post(
        tenant_url(IVANOVO, "/admin/api-keys"),
        data={"_csrf_token": csrf_token(page.text), "name": "  "},
    )
    assert empty.status_code == 400
    assert 'aria-invalid="true"' in empty.text
    assert "Give the key a name" in text_of(empty.text)

    created = await staff.post(
        tenant_url(IVANOVO, "/admin/api-keys"),
        data={"_csrf_token": csrf_token(page.text), "name": "Nightly 1C export"},
    )
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    key = re.search(r'value="(pk_[^"]+)"', created.text)
    assert key, "the new key is on the page"
    plain = key.group(1)
    assert "shown only this once" in text_of(created.text)
    listing = await staff.get(tenant_url(IVANOVO, "/admin/api-keys"))
    assert plain not in listing.text
    assert plain[:11] in listing.text

    call = await staff.get(
        tenant_url(IVANOVO, "/api/v1/readings"), headers={"Authorization": f"Bearer {plain}"}
    )
    assert call.status_code == 200
    (stored,) = await site.rows(select(ApiKey).where(ApiKey.name == "Nightly 1C export"))

    # Another tenant's admin, on their own host, finds no such key.
    other = await signed_in(site, WUJIANG, "10.60.0.2")
    other_page = await other.get(tenant_url(WUJIANG, "/admin/api-keys"))
    assert "Nightly 1C export" not in other_page.text
    assert (
        await other.get(tenant_url(WUJIANG, f"/admin/api-keys/{stored.id}/revoke"))
    ).status_code == 404
    foreign = await other.post(
        tenant_url(WUJIANG, f"/admin/api-keys/{stored.id}/revoke"),
        data={"_csrf_token": csrf_token(other_page.text)},
    )
    assert foreign.status_code == 404
    # And the Ivanovo session means nothing on Wujiang's host.
    elsewhere = await staff.get(tenant_url(WUJIANG, "/admin/api-keys"))
    assert elsewhere.status_code == 303
    assert elsewhere.headers["location"].startswith("/admin/sign-in")

    confirm = await staff.get(tenant_url(IVANOVO, f"/admin/api-keys/{stored.id}/revoke"))
    assert "This cannot be undone" in text_of(confirm.text)
    revoked = await staff.post(
        tenant_url(IVANOVO, f"/admin/api-keys/{stored.id}/revoke"),
        data={"_csrf_token": csrf_token(confirm.text)},
    )
    assert revoked.status_code == 303
    after = await staff.get(tenant_url(IVANOVO, revoked.headers["location"]))
    assert "has been revoked" in text_of(after.text)
    refused = await staff.get(
        tenant_url(IVANOVO, "/api/v1/readings"), headers={"Authorization": f"Bearer {plain}"}
    )
    assert refused.status_code == 401

    entries = await site.rows(
        select(AuditEntry).where(col(AuditEntry.action).in_(["api_key.create", "api_key.revoke"]))
    )
    assert sorted(entry.action for entry in entries) == ["api_key.create", "api_key.revoke"]
    for entry in entries:
        assert entry.tenant_id == ivanovo_id(site)
        assert entry.target_id == str(stored.id)
        assert plain not in repr((entry.before, entry.after))


# --- imports ---------------------------------------------------------------------------------


async def test_files_in_each_encoding_and_delimiter_are_read_right(site: Portal) -> None:
    staff = await signed_in(site, IVANOVO, "10.61.0.1")
    files = {
        "55900001": (
            "Иванов Пётр",
            "\ufeffaccount_number;holder_name;kind\n55900001;{};legal\n",
            "utf-8",
        ),
        "55900002": ("Сидорова Анна", "account_number,holder_name\r\n55900002,{}\r\n", "cp1251"),
        "55900003": (
            "王小明",
            'account_number,holder_name,street\n55900003,{},"长安街, 1号"\n',
            "gbk",
        ),
    }
    for number, (name, template, codec) in files.items():
        page = await imported(staff, template.format(name).encode(codec), "accounts")
        assert "1 row was imported." in text_of(page)
        (account,) = await site.rows(select(Account).where(Account.number == number))
        assert account.holder_name == name
    (gbk,) = await site.rows(select(Account).where(Account.number == "55900003"))
    assert gbk.street == "长安街, 1号"
    (legal,) = await site.rows(select(Account).where(Account.number == "55900001"))
    assert legal.kind == "legal"

    # Chosen by hand, a wrong encoding is refused with a message beside the field.
    wrong = await upload(
        staff,
        "account_number,holder_name\n1,Сидорова\n".encode("cp1251"),
        "accounts",
        encoding="utf-8",
    )
    assert wrong.status_code == 400
    assert "cannot be read as utf-8" in text_of(wrong.text)
    assert 'id="encoding-error"' in wrong.text


async def test_a_file_with_errors_imports_nothing_or_only_its_valid_rows(site: Portal) -> None:
    staff = await signed_in(site, IVANOVO, "10.62.0.1")
    await imported(staff, b"account_number,holder_name\n55910001,A\n55910002,B\n", "accounts")
    content = (
        b"account_number;period;service;volume;amount\n"
        b"55910001;2026-10;water;1,5;10,50\n"  # row 2: fine
        b"55910001;2026-10;sewerage;abc;1\n"  # row 3: not a number
        b"55910002;2026-10;water;1e5;1\n"  # row 4: exponent
        b"55910002;2026-10;sewerage;1;\n"  # row 5: amount missing
        b"55910002;2026-13;heat;1;1\n"  # row 6: bad month
        b"99999999;2026-10;water;1;1\n"  # row 7: no such account
        b"\n"
        b"55910002;2026-10;gas;1;1;extra\n"  # row 9: one value too many
        b"55910002;2026-10;electricity;1;2\n"  # row 10: fine
    )
    page = await imported(staff, content, "charges", mode="all")
    text = text_of(page)
    assert "Nothing was imported: 6 rows have errors." in text
    ours = select(Charge).join(Account).where(col(Account.number).in_(["55910001", "55910002"]))
    assert await site.rows(ours) == []
    for expected in (
        "3 volume Write a plain number",
        "4 volume Write a plain number",
        "5 amount A value is required.",
        "6 period Write the month as YYYY-MM",
        "7 account_number There is no account with the number 99999999.",
        "9 — This row has 6 values; the header has 5.",
    ):
        assert expected in text, expected

    page = await imported(staff, content, "charges", mode="valid_only")
    text = text_of(page)
    assert "2 rows were imported. 6 rows have errors and were not imported." in text
    charges = await site.rows(ours)
    assert sorted((c.service, c.volume, c.amount) for c in charges) == [
        ("electricity", Decimal("1"), Decimal("2")),
        ("water", Decimal("1.5"), Decimal("10.50")),
    ]
    # The same file again: the same rows, no duplicates.
    await imported(staff, content, "charges", mode="valid_only")
    assert len(await site.rows(ours)) == 2

    runs = await site.rows(select(AuditEntry).where(AuditEntry.action == "import.run"))
    assert {(entry.after or {}).get("kind") for entry in runs} == {"accounts", "charges"}
    last = max(runs, key=lambda entry: entry.id or 0)
    assert (last.after or {})["imported_rows"] == 2
    assert (last.after or {})["failed_rows"] == 6
    assert last.tenant_id == ivanovo_id(site)


async def test_a_file_that_cannot_be_imported_is_refused_at_once(site: Portal) -> None:
    staff = await signed_in(site, IVANOVO, "10.63.0.1")
    wrong_columns = await upload(staff, b"number,name,colour\n1,A,red\n", "accounts")
    assert wrong_columns.status_code == 400
    text = text_of(wrong_columns.text)
    assert "Columns missing: account_number, holder_name." in text
    assert "Columns not expected (or given twice): number, name, colour." in text
    assert "Expected: account_number, holder_name, kind," in text
    assert 'id="file-error"' in wrong_columns.text

    assert "The file is empty." in text_of((await upload(staff, b"", "accounts")).text)
    header = b"account_number,holder_name\n"
    just_over = await upload(staff, header + b"1" * (20 * 2**20), "accounts")
    assert just_over.status_code == 400
    assert "The file is larger than 20 MB." in text_of(just_over.text)
    # Far over it, the body is refused before it is read; the form says why.
    far_over = await upload(staff, header + b"1" * (30 * 2**20), "accounts")
    assert far_over.status_code == 303
    again = await staff.get(tenant_url(IVANOVO, far_over.headers["location"]))
    assert "The file is larger than 20 MB." in text_of(again.text)
    header_only = await upload(staff, b"account_number,holder_name\n", "accounts")
    assert "no data rows" in text_of(header_only.text)
    no_kind = await upload(staff, b"account_number,holder_name\n1,A\n", "")
    assert "Choose what the file holds." in text_of(no_kind.text)
    assert await site.rows(select(ImportJob)) == []


async def test_the_progress_is_polled_while_a_job_runs_and_jobs_stay_in_their_tenant(
    site: Portal,
) -> None:
    async with site.portal.database.session() as session:
        waiting = await create_import_job(
            session,
            tenant_id=ivanovo_id(site),
            kind="accounts",
            mode="all",
            filename="big.csv",
            encoding="utf-8",
            content=b"account_number,holder_name\n1,A\n",
            total_rows=1,
            created_by=None,
            now=utcnow(),
        )
        await session.commit()
    staff = await signed_in(site, IVANOVO, "10.64.0.1")
    page = await staff.get(tenant_url(IVANOVO, f"/admin/imports/{waiting.id}"))
    assert page.status_code == 200
    assert f'hx-get="/admin/imports/{waiting.id}" hx-trigger="every 1s"' in page.text
    assert "<progress" in page.text
    assert f'href="/admin/imports/{waiting.id}"' in page.text  # the refresh link, without JS
    assert "HX-Request" in page.headers["vary"]
    poll = await staff.get(
        tenant_url(IVANOVO, f"/admin/imports/{waiting.id}"), headers={"HX-Request": "true"}
    )
    assert "<progress" in poll.text
    assert "hx-refresh" not in poll.headers
    assert len(poll.content) < 5000

    listing = await staff.get(tenant_url(IVANOVO, "/admin/imports"))
    assert "big.csv" in listing.text

    other = await signed_in(site, WUJIANG, "10.64.0.2")
    assert (await other.get(tenant_url(WUJIANG, f"/admin/imports/{waiting.id}"))).status_code == 404
    assert "big.csv" not in (await other.get(tenant_url(WUJIANG, "/admin/imports"))).text
    elsewhere = await staff.get(tenant_url(WUJIANG, f"/admin/imports/{waiting.id}"))
    assert elsewhere.status_code == 303
    anonymous = await site.client("10.64.0.3")
    assert (await anonymous.get(tenant_url(IVANOVO, "/admin/imports"))).status_code == 303


# --- in a real browser ---------------------------------------------------------------------------


@pytest.mark.browser
def test_the_billing_pages_pass_axe(
    browser: Any, private_settings: Settings, tmp_path: Path
) -> None:
    bad_file = tmp_path / "charges.csv"
    bad_file.write_text("account_number,period,service,amount\nnope,2026-13,water,1e5\n")
    with running_portal(private_settings.database_url) as host:
        context = browser.new_context(bypass_csp=True, locale="en-US")
        page = context.new_page()
        base = f"http://{IVANOVO}.{host}"
        try:
            page.goto(f"{base}/admin/sign-in")
            page.get_by_label("Login").fill(DEMO_STAFF_LOGIN)
            page.get_by_label("Password").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{base}/admin")

            page.goto(f"{base}/admin/api-keys")
            assert axe_violations(page) == []
            page.get_by_role("button", name="Create the key").click()
            assert page.get_by_label("Name of the key").get_attribute("aria-invalid") == "true"
            assert axe_violations(page) == []
            page.get_by_label("Name of the key").fill("Nightly export")
            page.get_by_role("button", name="Create the key").click()
            assert page.get_by_label("The new key").input_value().startswith("pk_")
            assert axe_violations(page) == []
            page.get_by_role("link", name="Revoke “Nightly export”").click()
            assert axe_violations(page) == []
            page.get_by_role("button", name="Revoke the key").click()
            assert page.get_by_role("status").inner_text().startswith("The key")
            assert axe_violations(page) == []

            page.goto(f"{base}/admin/imports")
            assert axe_violations(page) == []
            page.get_by_role("button", name="Upload and import").click()
            assert page.get_by_role("alert").is_visible()
            assert axe_violations(page) == []
            page.get_by_label("What the file holds").select_option("charges")
            page.get_by_label("CSV file").set_input_files(str(bad_file))
            page.get_by_role("button", name="Upload and import").click()
            page.wait_for_url(re.compile(rf"{re.escape(base)}/admin/imports/\d+"))
            # htmx polls the progress and reloads the page once the job has ended.
            page.get_by_role("heading", name="Rows with errors").wait_for(timeout=60_000)
            assert axe_violations(page) == []
            page.goto(f"{base}/admin/imports")
            assert axe_violations(page) == []
        finally:
            context.close()
