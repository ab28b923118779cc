"""The platform operator's pages through HTTP: tenants, domains, staff, and who may see them."""

from __future__ import annotations

import re
import secrets

import httpx
from sqlmodel import col, select

from domain.audit import AuditEntry
from domain.db import Database
from domain.demo import DEMO_OPERATOR_LOGIN, DEMO_PASSWORD, DEMO_STAFF_LOGIN
from domain.models import Tenant, TenantConfigVersion
from domain.passwords import hash_password_async
from domain.staff import PLATFORM_OPERATOR, StaffUser
from tests.conftest import MakeClient, tenant_url
from tests.helpers import csrf_token, submit, text_of
from tests.staff_support import (
    browser,
    operator_sign_in,
    private_portal,
    staff_sign_in,
)
from web.app import create_app
from web.i18n import catalogs, loaded_locales
from web.settings import Settings

WATER = "melitopol-water"
GAS = "melitopol-gas"


async def ids(database: Database) -> tuple[dict[str, int], dict[tuple[int | None, str], int]]:
    """Tenant ids by slug, and staff ids by (tenant id, login)."""
    async with database.session() as session:
        tenants = {t.slug: t.id or 0 for t in (await session.exec(select(Tenant))).all()}
        staff = {(s.tenant_id, s.login): s.id or 0 for s in (await session.exec(select(StaffUser)))}
    return tenants, staff


async def audit(database: Database, action: str) -> list[AuditEntry]:
    async with database.session() as session:
        rows = await session.exec(
            select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id))
        )
        return list(rows.all())


def error_of(page: str, field_id: str) -> str:
    """The message shown next to a field (its element with id "<field>-error")."""
    found = re.search(rf'id="{re.escape(field_id)}-error"[^>]*>(.*?)</(?:p|ul)>', page, re.S)
    assert found, f"no message next to {field_id}"
    return text_of(found.group(1))


# --- who may see the platform pages ----------------------------------------------------------


async def test_tenant_admins_and_strangers_never_reach_the_platform_pages(
    client: httpx.AsyncClient, database: Database
) -> None:
    client.headers["Accept-Language"] = "en"
    tenants, staff = await ids(database)
    gas_admin = staff[(tenants[GAS], DEMO_STAFF_LOGIN)]
    operator = staff[(None, DEMO_OPERATOR_LOGIN)]
    gets = [
        "/admin/platform",
        "/admin/platform/new",
        f"/admin/platform/tenants/{tenants[GAS]}",
        f"/admin/platform/tenants/{tenants[WATER]}",
        "/admin/platform/operators",
        f"/admin/platform/staff/{gas_admin}/password",
        f"/admin/platform/staff/{operator}/password",
    ]
    posts = [
        ("/admin/platform/new/preset", {"preset": WATER, "slug": "stolen"}),
        ("/admin/platform/new/scratch", {"slug": "stolen"}),
        (f"/admin/platform/tenants/{tenants[GAS]}/domains", {"domains": "gas.example"}),
        (f"/admin/platform/tenants/{tenants[WATER]}/domains", {"domains": "w.example"}),
        (f"/admin/platform/tenants/{tenants[GAS]}/staff", {"login": "mole", "full_name": "M"}),
        ("/admin/platform/operators", {"login": "mole", "full_name": "M"}),
        (f"/admin/platform/staff/{operator}/lock", {}),
        (f"/admin/platform/staff/{gas_admin}/unlock", {}),
        (f"/admin/platform/staff/{operator}/password", {"password": "", "password_repeat": ""}),
    ]

    # Not signed in: the staff sign-in page.
    for path in gets:
        response = await client.get(tenant_url(WATER, path))
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/admin/sign-in?next=")

    # A tenant admin: these pages do not exist, for their own tenant's ids or any other's.
    assert (await staff_sign_in(client, WATER)).status_code == 303
    token = csrf_token((await client.get(tenant_url(WATER, "/admin"))).text)
    for path in gets:
        assert (await client.get(tenant_url(WATER, path))).status_code == 404, path
    for path, data in posts:
        response = await client.post(tenant_url(WATER, path), data={"_csrf_token": token, **data})
        assert response.status_code == 404, path
    overview = await client.get(tenant_url(WATER, "/admin"))
    assert 'href="/admin/platform"' not in overview.text

    # Nothing was changed by any of it.
    _, staff_after = await ids(database)
    assert (tenants[GAS], "mole") not in staff_after and (None, "mole") not in staff_after
    async with database.session() as session:
        assert (await session.get(StaffUser, operator)).status == "active"  # type: ignore[union-attr]
        assert (await session.exec(select(Tenant).where(Tenant.slug == "stolen"))).first() is None

    # The water admin's session means nothing on the gas tenant's host.
    session_token = client.cookies.get("session", domain=f"{WATER}.localhost")
    assert session_token
    stranger = await client.get(
        tenant_url(GAS, "/admin/platform"), headers={"Cookie": f"session={session_token}"}
    )
    assert stranger.status_code == 303
    assert stranger.headers["location"].startswith("/admin/sign-in")


async def test_the_operator_sees_every_tenant_with_its_hosts_version_and_admins(
    client: httpx.AsyncClient, database: Database, preset_slugs: list[str]
) -> None:
    client.headers["Accept-Language"] = "en"
    assert (await operator_sign_in(client, GAS)).status_code == 303
    overview = await client.get(tenant_url(GAS, "/admin"))
    assert 'href="/admin/platform"' in overview.text

    listing = await client.get(tenant_url(GAS, "/admin/platform"))
    assert listing.status_code == 200
    tenants, _ = await ids(database)
    text = text_of(listing.text)
    for slug in preset_slugs:
        assert f"{slug}.localhost" in text
        assert f'href="/admin/platform/tenants/{tenants[slug]}"' in listing.text
        assert f'href="http://{slug}.localhost/admin"' in listing.text
    row = re.search(rf"<tr>\s*<th scope=\"row\"><a [^>]*>{WATER}</a>.*?</tr>", listing.text, re.S)
    assert row
    cells = [text_of(cell) for cell in re.findall(r"<td>(.*?)</td>", row.group(0), re.S)]
    assert cells[0] == "Vodokanal Melitopol"
    assert cells[2].isdigit() and int(cells[3]) >= 1  # live version, admins

    form = await client.get(tenant_url(GAS, "/admin/platform/new"))
    assert form.status_code == 200
    for slug in preset_slugs:
        assert f'<option value="{slug}">' in form.text
    for locale in loaded_locales():
        assert f'<option value="{locale}">' in form.text
    assert 'hreflang="ru"' in form.text  # the page's own language switch is intact

    detail = await client.get(tenant_url(GAS, f"/admin/platform/tenants/{tenants[WATER]}"))
    assert detail.status_code == 200
    assert "Vodokanal Melitopol" in text_of(detail.text)
    assert f'<th scope="row">{DEMO_STAFF_LOGIN}</th>' in detail.text
    assert (await client.get(tenant_url(GAS, "/admin/platform/tenants/999999"))).status_code == 404
    assert (
        await client.get(tenant_url(GAS, "/admin/platform/staff/999999/password"))
    ).status_code == 404


# --- creating tenants --------------------------------------------------------------------


async def test_the_operator_creates_tenants_from_a_preset_and_from_scratch(
    private_settings: Settings,
) -> None:
    async with private_portal(private_settings) as (app, database):
        async with browser(app) as operator:
            assert (await operator_sign_in(operator, WATER)).status_code == 303

            # Bad input: each message next to its field, nothing created.
            taken = await submit(
                operator,
                WATER,
                "/admin/platform/new",
                {"preset": "ivanovo-water", "slug": GAS},
                action="/admin/platform/new/preset",
            )
            assert taken.status_code == 400
            assert "already exists" in error_of(taken.text, "preset-slug")
            bad = await submit(
                operator,
                WATER,
                "/admin/platform/new",
                {
                    "slug": "Bad Slug!",
                    "utility": "steam",
                    "name": "",
                    "locale": "xx",
                    "currency": "ZZZ",
                    "timezone": "Mars/Olympus",
                    "country": "XX",
                },
                action="/admin/platform/new/scratch",
            )
            assert bad.status_code == 400
            assert "lower-case Latin letters" in error_of(bad.text, "scratch-slug")
            assert "kinds of utility" in error_of(bad.text, "scratch-utility")
            assert "name as customers" in error_of(bad.text, "scratch-name")
            assert "languages offered" in error_of(bad.text, "scratch-locale")
            assert "“ZZZ” is not an ISO 4217" in error_of(bad.text, "scratch-currency")
            assert "“Mars/Olympus” is not a known time zone" in error_of(
                bad.text, "scratch-timezone"
            )
            assert "“XX” is not a two-letter country code" in error_of(bad.text, "scratch-country")
            assert 'value="Mars/Olympus"' in bad.text  # what was typed is kept

            # From a preset: its custom domains are not copied, its site answers at once.
            created = await submit(
                operator,
                WATER,
                "/admin/platform/new",
                {"preset": "ivanovo-water", "slug": "north-water"},
                action="/admin/platform/new/preset",
            )
            assert created.status_code == 303
            detail = await operator.get(tenant_url(WATER, created.headers["location"]))
            assert "The tenant has been created" in text_of(detail.text)
            assert "north-water.localhost" in text_of(detail.text)
            sign_in = await operator.get(tenant_url("north-water", "/sign-in"))
            assert sign_in.status_code == 200
            assert "Vodokanal JSC, Ivanovo" in text_of(sign_in.text)

            # From scratch: a minimal configuration in the chosen language.
            scratch = await submit(
                operator,
                WATER,
                "/admin/platform/new",
                {
                    "slug": "fresh-gas",
                    "utility": "gas",
                    "name": "Frische Gaswerke",
                    "locale": "ru",
                    "currency": "eur",
                    "timezone": "Europe/Berlin",
                    "country": "de",
                },
                action="/admin/platform/new/scratch",
            )
            assert scratch.status_code == 303, error_of(scratch.text, "scratch-slug")
            home = await operator.get(tenant_url("fresh-gas", "/sign-in"))
            assert home.status_code == 200
            assert "Frische Gaswerke" in home.text
            # The account number's label, in the tenant's language.
            assert catalogs()["ru"].gettext("Account number") in text_of(home.text)
            assert (await operator.get(tenant_url("fresh-gas", "/register"))).status_code == 200

        # Another process on the same database serves the new tenants once it looks.
        other = create_app(private_settings)
        try:
            await other.portal.reload_tenants()  # type: ignore[attr-defined]
            assert {"north-water", "fresh-gas"} <= set(other.portal.tenant_ids)  # type: ignore[attr-defined]
        finally:
            await other.portal.database.dispose()  # type: ignore[attr-defined]

        async with database.session() as session:
            versions = (
                await session.exec(
                    select(Tenant.slug, TenantConfigVersion)
                    .join(TenantConfigVersion, col(TenantConfigVersion.tenant_id) == col(Tenant.id))
                    .where(col(Tenant.slug).in_(["north-water", "fresh-gas"]))
                )
            ).all()
        assert {slug: v.version for slug, v in versions} == {"north-water": 1, "fresh-gas": 1}
        assert all(v.source == "operator" and v.published_at for _, v in versions)
        assert all(v.config["domains"] == [] for _, v in versions)
        entries = await audit(database, "tenant.create")
        assert [(e.target_id, e.actor, e.tenant_id) for e in entries] == [
            ("north-water", DEMO_OPERATOR_LOGIN, None),
            ("fresh-gas", DEMO_OPERATOR_LOGIN, None),
        ]
        assert entries[0].after == {
            "slug": "north-water",
            "origin": "preset:ivanovo-water",
            "version": 1,
        }


# --- domains --------------------------------------------------------------------------------


async def test_custom_domains_are_checked_line_by_line_then_published(
    private_settings: Settings,
) -> None:
    async with private_portal(private_settings) as (app, database):
        tenants, _ = await ids(database)
        water_page = f"/admin/platform/tenants/{tenants[WATER]}"
        gas_page = f"/admin/platform/tenants/{tenants[GAS]}"
        async with browser(app) as operator:
            assert (await operator_sign_in(operator, GAS)).status_code == 303
            saved = await submit(
                operator,
                GAS,
                water_page,
                {"domains": "Portal.Water.Example.\n\nportal.water.example\nwww.water.example"},
                action=f"{water_page}/domains",
            )
            assert saved.status_code == 303
            assert saved.headers["location"] == f"{water_page}?done=domains"
            # The new domain answers at once, for the right tenant.
            custom = await operator.get("http://portal.water.example/sign-in")
            assert custom.status_code == 200
            assert "Vodokanal Melitopol" in text_of(custom.text)

            clashes = await submit(
                operator,
                GAS,
                gas_page,
                {
                    "domains": "\n".join(
                        [
                            "gas.example",
                            "portal.water.example",
                            "melitopol-water.localhost",
                            "localhost",
                            "spare.localhost",
                            "not a host!",
                            "10.0.0.1",
                        ]
                    )
                },
                action=f"{gas_page}/domains",
            )
            assert clashes.status_code == 400
            messages = error_of(clashes.text, "domains")
            assert "“portal.water.example” is already an address of melitopol-water" in messages
            assert (
                "“melitopol-water.localhost” is already an address of melitopol-water" in messages
            )
            assert "“localhost” is the portal's own address" in messages
            assert "“spare.localhost” is under the portal's own domain" in messages
            assert "“not a host!” is not a host name" in messages
            assert "“10.0.0.1” is not a host name" in messages
            assert "gas.example" not in messages
            assert "not a host!" in clashes.text  # the typed lines are kept to correct
            unchanged = await operator.get("http://gas.example/")
            assert unchanged.status_code == 404

            same = await submit(
                operator,
                GAS,
                water_page,
                {"domains": "portal.water.example\nwww.water.example"},
                action=f"{water_page}/domains",
            )
            assert same.headers["location"] == f"{water_page}?done=unchanged"

        entries = await audit(database, "tenant.domains")
        assert len(entries) == 1
        assert entries[0].tenant_id == tenants[WATER]
        assert entries[0].before is not None and entries[0].after is not None
        assert entries[0].before["domains"] == []
        assert entries[0].after["domains"] == ["portal.water.example", "www.water.example"]
        assert entries[0].after["version"] == entries[0].before["version"] + 1
        async with database.session() as session:
            water = await session.get(Tenant, tenants[WATER])
            assert water is not None
            live = (
                await session.exec(
                    select(TenantConfigVersion).where(
                        TenantConfigVersion.tenant_id == water.id,
                        TenantConfigVersion.version == water.published_version,
                    )
                )
            ).one()
        assert live.source == "operator"
        assert live.config["domains"] == ["portal.water.example", "www.water.example"]


# --- staff ------------------------------------------------------------------------------------


async def test_the_operator_adds_locks_unlocks_and_resets_tenant_admins(
    private_settings: Settings,
) -> None:
    async with private_portal(private_settings) as (app, database):
        tenants, _ = await ids(database)
        gas_page = f"/admin/platform/tenants/{tenants[GAS]}"
        add = f"{gas_page}/staff"
        async with browser(app) as operator, browser(app) as newcomer:
            assert (await operator_sign_in(operator, WATER)).status_code == 303

            weak = await submit(
                operator,
                WATER,
                gas_page,
                {"login": "x", "full_name": "", "password": "short1", "password_repeat": "short1"},
                action=add,
            )
            assert weak.status_code == 400
            assert "3 to 64 characters" in error_of(weak.text, "staff-login")
            assert "full name" in error_of(weak.text, "staff-full_name")
            assert "at least 12 characters" in error_of(weak.text, "staff-password")
            differ = await submit(
                operator,
                WATER,
                gas_page,
                {
                    "login": "Olena.K",
                    "full_name": "Olena K",
                    "password": "Long enough 2026",
                    "password_repeat": "Long enough 2027",
                },
                action=add,
            )
            assert "not the same" in error_of(differ.text, "staff-password")
            taken = await submit(
                operator, WATER, gas_page, {"login": "ADMIN", "full_name": "Twin"}, action=add
            )
            assert taken.status_code == 400
            assert "already in use" in error_of(taken.text, "staff-login")

            # A generated password, shown once and never cached.
            added = await submit(
                operator, WATER, gas_page, {"login": "Olena.K", "full_name": "Olena K"}, action=add
            )
            assert added.status_code == 200
            assert added.headers["cache-control"] == "no-store"
            shown = re.search(r"<code>([^<]+)</code>", added.text)
            assert shown
            password = shown.group(1)
            assert len(password) >= 12
            assert "http://melitopol-gas.localhost/admin/sign-in" in text_of(added.text)

            # The new admin works on their own tenant's host, and on no other.
            assert (await staff_sign_in(newcomer, GAS, "olena.k", password)).status_code == 303
            assert (await newcomer.get(tenant_url(GAS, "/admin"))).status_code == 200
            elsewhere = await staff_sign_in(newcomer, WATER, "olena.k", password)
            assert elsewhere.status_code == 400

            # Locking signs them out at once and refuses their password.
            _, staff = await ids(database)
            olena = staff[(tenants[GAS], "olena.k")]
            locked = await submit(
                operator, WATER, gas_page, {}, action=f"/admin/platform/staff/{olena}/lock"
            )
            assert locked.headers["location"] == f"{gas_page}?done=locked"
            assert (await newcomer.get(tenant_url(GAS, "/admin"))).status_code == 303
            refused = await staff_sign_in(newcomer, GAS, "olena.k", password)
            assert "This staff account is locked" in text_of(refused.text)
            listing = await operator.get(tenant_url(WATER, gas_page))
            assert "Unlock olena.k" in text_of(listing.text)

            unlocked = await submit(
                operator, WATER, gas_page, {}, action=f"/admin/platform/staff/{olena}/unlock"
            )
            assert unlocked.headers["location"] == f"{gas_page}?done=unlocked"
            assert (await staff_sign_in(newcomer, GAS, "olena.k", password)).status_code == 303

            # A typed new password: the old one stops working, and their session ends.
            form = f"/admin/platform/staff/{olena}/password"
            mismatch = await submit(
                operator,
                WATER,
                form,
                {"password": "Another one 2026", "password_repeat": "Another"},
            )
            assert mismatch.status_code == 400
            assert "not the same" in error_of(mismatch.text, "password")
            reset = await submit(
                operator,
                WATER,
                form,
                {"password": "Another one 2026", "password_repeat": "Another one 2026"},
            )
            assert reset.status_code == 200
            assert "<code>" not in reset.text  # a typed password is not shown back
            assert (await newcomer.get(tenant_url(GAS, "/admin"))).status_code == 303
            assert (await staff_sign_in(newcomer, GAS, "olena.k", password)).status_code == 400
            again = await staff_sign_in(newcomer, GAS, "olena.k", "Another one 2026")
            assert again.status_code == 303

        entries = []
        for action in ("staff.create", "staff.lock", "staff.unlock", "staff.password_reset"):
            found = await audit(database, action)
            assert [(e.target_id, e.tenant_id, e.actor) for e in found] == [
                (str(olena), tenants[GAS], DEMO_OPERATOR_LOGIN)
            ], action
            entries += found
        assert entries[0].after == {
            "login": "olena.k",
            "full_name": "Olena K",
            "role": "tenant_admin",
            "status": "active",
            "password": "generated",
        }
        assert entries[1].before["status"] == "active" and entries[1].after["status"] == "locked"  # type: ignore[index]
        assert entries[3].after["password"] == "typed"  # type: ignore[index]
        recorded = repr([(e.before, e.after) for e in entries])
        assert password not in recorded and "Another one 2026" not in recorded


async def test_operators_add_operators_and_the_strict_lockout_covers_them(
    private_settings: Settings,
) -> None:
    async with private_portal(private_settings) as (app, database):
        async with browser(app) as operator, browser(app) as newcomer:
            assert (await operator_sign_in(operator, WATER)).status_code == 303
            added = await submit(
                operator,
                WATER,
                "/admin/platform/operators",
                {
                    "login": "night-shift",
                    "full_name": "Night shift",
                    "password": "Night shift 2026",
                    "password_repeat": "Night shift 2026",
                },
            )
            assert added.status_code == 200
            again = await submit(
                operator,
                WATER,
                "/admin/platform/operators",
                {"login": DEMO_OPERATOR_LOGIN, "full_name": "Twin"},
            )
            assert "already in use" in error_of(again.text, "staff-login")

            # The new operator signs in on any tenant's host and sees the platform pages.
            assert (
                await staff_sign_in(newcomer, GAS, "night-shift", "Night shift 2026")
            ).status_code == 303
            assert (await newcomer.get(tenant_url(GAS, "/admin/platform"))).status_code == 200

            # Nobody locks themselves out.
            _, staff = await ids(database)
            night = staff[(None, "night-shift")]
            myself = await submit(
                newcomer,
                GAS,
                "/admin/platform/operators",
                {},
                action=f"/admin/platform/staff/{night}/lock",
            )
            assert myself.status_code == 409
            assert "cannot lock yourself" in text_of(myself.text)

            # Three wrong passwords, then even the right one is refused for a while.
            for _ in range(3):
                wrong = await staff_sign_in(newcomer, WATER, "night-shift", "Wrong guess 2026")
                assert wrong.status_code == 400
            locked_out = await staff_sign_in(newcomer, WATER, "night-shift", "Night shift 2026")
            assert locked_out.status_code == 429
            assert "Too many attempts" in text_of(locked_out.text)

        found = await audit(database, "staff.create")
        assert [(e.tenant_id, e.target_id) for e in found] == [(None, str(night))]
        assert found[0].after is not None and found[0].after["role"] == "platform_operator"


async def test_an_operators_lockout_follows_the_login_to_every_tenants_host(
    make_client: MakeClient, database: Database
) -> None:
    login = f"op{secrets.token_hex(4)}"
    async with database.session() as session:
        session.add(
            StaffUser(
                tenant_id=None,
                login=login,
                password_hash=await hash_password_async(DEMO_PASSWORD),
                role=PLATFORM_OPERATOR,
            )
        )
        await session.commit()
    guesser = await make_client(address=f"192.0.2.{secrets.randbelow(250) + 1}")
    for _ in range(3):
        wrong = await staff_sign_in(guesser, "wujiang-water", login=login, password="wrong-guess1")
        assert wrong.status_code == 400
    # Another host, another address, the right password: still locked out.
    owner = await make_client(address=f"203.0.113.{secrets.randbelow(250) + 1}")
    refused = await staff_sign_in(owner, "kz-vodokanal", login=login)
    assert refused.status_code == 429
