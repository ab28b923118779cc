"""The configuration editor through HTTP: preset → edit → check → save → preview → publish
→ another process → roll back; edits that would break sign-in; tenant scoping."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
from sqlmodel import col, select

from domain.audit import AuditEntry
from domain.db import Database
from domain.models import Tenant, TenantConfigVersion
from tests.conftest import tenant_url
from tests.helpers import csrf_token, text_of
from tests.staff_support import (
    browser,
    operator_sign_in,
    private_portal,
    staff_sign_in,
)
from web.app import create_app
from web.gateway import PREVIEW_COOKIE
from web.settings import Settings

IVANOVO = "ivanovo-water"
WUJIANG = "wujiang-water"
LIVE_NAME = "Vodokanal JSC, Ivanovo"
NEW_NAME = "Ivanovo Water Utility"


# --- helpers -----------------------------------------------------------------------------


class FormReader(HTMLParser):
    """The values a browser would post from the form with this action, as drawn."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.values = action, False, {}  # type: ignore[var-annotated]
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []
        self.textarea: str | None = None
        self.text = ""

    def add(self, name: str, value: str) -> None:
        self.values.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.inside = found.get("action") == self.action
        if not self.inside or ("name" not in found and tag != "option"):
            return
        if tag == "input":
            kind = found.get("type", "text")
            if kind not in ("checkbox", "submit") or (kind == "checkbox" and "checked" in found):
                self.add(found["name"], found.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "select":
            self.select, self.options = found["name"], []
        elif tag == "option" and self.select is not None:
            self.options.append((found.get("value", ""), "selected" in found))
        elif tag == "textarea":
            self.textarea, self.text = found["name"], ""

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select is not None:
            chosen = [value for value, selected in self.options if selected] or [
                value for value, _ in self.options[:1]
            ]
            self.add(self.select, chosen[0] if chosen else "")
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.add(self.textarea, self.text)
            self.textarea = None


def form_of(page: str, action: str) -> dict[str, list[str]]:
    reader = FormReader(action)
    reader.feed(page)
    assert reader.values, f"no form posting to {action}"
    return reader.values


async def edit_section(
    client: httpx.AsyncClient, tenant: str, version_id: int, section: str, /, **changes: str
) -> httpx.Response:
    """Open a section's page, change some fields (by path, "__" for "."), and press
    "Save the draft"."""
    path = f"/admin/config/versions/{version_id}/sections/{section}"
    page = await client.get(tenant_url(tenant, path))
    assert page.status_code == 200, page.status_code
    values = form_of(page.text, path)
    for name, value in changes.items():
        values[name.replace("__", ".")] = [value]
    return await client.post(tenant_url(tenant, path), data=values)


def error_at(page: str, path: str) -> str:
    found = re.search(rf'<p class="error" id="{re.escape(path)}-error">(.*?)</p>', page, re.S)
    assert found, f"no message next to {path}"
    return text_of(found.group(1))


async def versions_of(database: Database, slug: str) -> list[TenantConfigVersion]:
    async with database.session() as session:
        tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).one()
        statement = (
            select(TenantConfigVersion)
            .where(TenantConfigVersion.tenant_id == tenant.id)
            .order_by(col(TenantConfigVersion.version))
        )
        return list((await session.exec(statement)).all())


async def live_version(database: Database, slug: str) -> TenantConfigVersion:
    async with database.session() as session:
        tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).one()
    return next(
        v for v in await versions_of(database, slug) if v.version == tenant.published_version
    )


async def post_form(
    client: httpx.AsyncClient, slug: str, page_path: str, action: str
) -> httpx.Response:
    """Press the button of the form posting to `action` on the page at `page_path`."""
    page = await client.get(tenant_url(slug, page_path))
    assert page.status_code == 200, page.status_code
    return await client.post(tenant_url(slug, action), data=form_of(page.text, action))


async def new_draft(client: httpx.AsyncClient, slug: str, note: str = "") -> int:
    page = await client.get(tenant_url(slug, "/admin/config"))
    values = form_of(page.text, "/admin/config/drafts")
    values["note"] = [note]
    created = await client.post(tenant_url(slug, "/admin/config/drafts"), data=values)
    assert created.status_code == 303
    return int(created.headers["location"].rsplit("/", 1)[1])


# --- the round trip ------------------------------------------------------------------------


async def test_preset_edit_preview_publish_and_roll_back(private_settings: Settings) -> None:
    async with private_portal(private_settings) as (app, database):
        # A second process on the same database, started before anything is published.
        other = create_app(private_settings)
        await other.portal.reload_tenants()  # type: ignore[attr-defined]
        admin, customer, elsewhere = browser(app), browser(app), browser(other)
        try:
            assert (await staff_sign_in(admin, IVANOVO)).status_code == 303
            preset = await live_version(database, IVANOVO)
            assert preset.source == "preset"
            listing = await admin.get(tenant_url(IVANOVO, "/admin/config"))
            assert listing.status_code == 200
            assert f"Version {preset.version}" in text_of(listing.text)

            draft_id = await new_draft(admin, IVANOVO, note="A shorter English name")
            overview = await admin.get(tenant_url(IVANOVO, f"/admin/config/versions/{draft_id}"))
            assert "A shorter English name" in text_of(overview.text)
            for section in ("general", "branding", "identifiers", "registration", "terminology"):
                shown = await admin.get(
                    tenant_url(IVANOVO, f"/admin/config/versions/{draft_id}/sections/{section}")
                )
                assert shown.status_code == 200, section

            # Bad input: 400, the message next to its field, what was typed kept, nothing saved.
            bad = await edit_section(
                admin,
                IVANOVO,
                draft_id,
                "branding",
                branding__name__en=NEW_NAME,
                branding__primary_colour="blue",
            )
            assert bad.status_code == 400
            assert "six hexadecimal digits" in error_at(bad.text, "branding.primary_colour")
            assert 'value="blue"' in bad.text and f'value="{NEW_NAME}"' in bad.text
            assert "Nothing was saved" in text_of(bad.text)
            draft = next(v for v in await versions_of(database, IVANOVO) if v.id == draft_id)
            assert draft.config == preset.config

            readings = await edit_section(
                admin, IVANOVO, draft_id, "readings", readings__window_days="40"
            )
            assert readings.status_code == 400
            assert "31 or less" in error_at(readings.text, "readings.window_days")

            # A good edit is saved, in two sections.
            saved = await edit_section(
                admin, IVANOVO, draft_id, "branding", branding__name__en=NEW_NAME
            )
            assert saved.status_code == 303
            assert "The draft is saved" in text_of(
                (await admin.get(tenant_url(IVANOVO, saved.headers["location"]))).text
            )
            advice = await edit_section(
                admin,
                IVANOVO,
                draft_id,
                "readings",
                readings__advice__en="Send readings before the 25th.",
            )
            assert advice.status_code == 303

            # A form opened before someone else's save does not overwrite it silently.
            path = f"/admin/config/versions/{draft_id}/sections/branding"
            stale = form_of((await admin.get(tenant_url(IVANOVO, path))).text, path)
            again = await edit_section(
                admin, IVANOVO, draft_id, "branding", branding__accent_colour="#123456"
            )
            assert again.status_code == 303
            stale["branding.name.en"] = ["Yet another name"]
            conflict = await admin.post(tenant_url(IVANOVO, path), data=stale)
            assert conflict.status_code == 409
            assert "changed by someone else" in text_of(conflict.text)

            # The diff between the live version and the draft names the changed paths.
            diff = await admin.get(
                tenant_url(IVANOVO, f"/admin/config/diff?from={preset.id}&to={draft_id}")
            )
            assert diff.status_code == 200
            diff_text = text_of(diff.text)
            assert f"branding.name.en {LIVE_NAME} {NEW_NAME}" in diff_text
            assert "readings.advice.en — Send readings before the 25th." in diff_text
            assert "branding.accent_colour" in diff_text and "branding.short_name" not in diff_text

            # Preview: the admin sees the draft on every page, with the banner...
            preview = await post_form(
                admin,
                IVANOVO,
                f"/admin/config/versions/{draft_id}",
                f"/admin/config/versions/{draft_id}/preview",
            )
            assert preview.status_code == 303
            draft_number = max(v.version for v in await versions_of(database, IVANOVO))
            for page_path in ("/", "/sign-in", "/register"):
                seen = await admin.get(tenant_url(IVANOVO, page_path))
                assert NEW_NAME in seen.text, page_path
                assert f"Preview of version {draft_number}" in text_of(seen.text)
            # ...nobody else does, not even with the cookie copied.
            customer.cookies.set(PREVIEW_COOKIE, str(draft_number), domain=f"{IVANOVO}.localhost")
            for viewer in (customer, elsewhere):
                seen = await viewer.get(tenant_url(IVANOVO, "/"))
                assert LIVE_NAME in seen.text and NEW_NAME not in seen.text
                assert "Preview of version" not in seen.text
            stop = await post_form(admin, IVANOVO, "/", "/admin/config/preview/stop")
            assert stop.status_code == 303 and stop.headers["location"] == "/"
            assert NEW_NAME not in (await admin.get(tenant_url(IVANOVO, "/"))).text

            # Publish: this process serves it at once, another one after it looks.
            published = await post_form(
                admin,
                IVANOVO,
                f"/admin/config/versions/{draft_id}",
                f"/admin/config/versions/{draft_id}/publish",
            )
            assert published.status_code == 303
            done = await admin.get(tenant_url(IVANOVO, published.headers["location"]))
            assert f"Version {draft_number} is live" in text_of(done.text)
            assert NEW_NAME in (await customer.get(tenant_url(IVANOVO, "/"))).text
            assert NEW_NAME not in (await elsewhere.get(tenant_url(IVANOVO, "/"))).text
            assert await other.portal.refresh_if_changed()  # type: ignore[attr-defined]
            assert NEW_NAME in (await elsewhere.get(tenant_url(IVANOVO, "/"))).text
            # A published version is no longer a draft: its pages are read-only.
            frozen = await admin.get(
                tenant_url(IVANOVO, f"/admin/config/versions/{draft_id}/sections/branding")
            )
            assert "can no longer be changed" in text_of(frozen.text)
            assert '<fieldset class="config-page" disabled>' in frozen.text

            # Roll back to the preset: the old name is back everywhere.
            rolled = await post_form(
                admin,
                IVANOVO,
                f"/admin/config/versions/{preset.id}",
                f"/admin/config/versions/{preset.id}/rollback",
            )
            assert rolled.status_code == 303
            assert LIVE_NAME in (await customer.get(tenant_url(IVANOVO, "/"))).text
            assert await other.portal.refresh_if_changed()  # type: ignore[attr-defined]
            assert LIVE_NAME in (await elsewhere.get(tenant_url(IVANOVO, "/"))).text
            listing = text_of((await admin.get(tenant_url(IVANOVO, "/admin/config"))).text)
            assert "A shorter English name" in listing and "Published on" in listing

            async with database.session() as session:
                entries = (
                    await session.exec(
                        select(AuditEntry)
                        .where(col(AuditEntry.action).startswith("config."))
                        .order_by(col(AuditEntry.id))
                    )
                ).all()
            assert [e.action for e in entries] == [
                "config.draft",
                "config.save",
                "config.save",
                "config.save",
                "config.publish",
                "config.rollback",
            ]
            assert entries[1].before == {"branding.name.en": LIVE_NAME}
            assert entries[1].after == {"branding.name.en": NEW_NAME}
            assert entries[2].after == {"readings.advice.en": "Send readings before the 25th."}
            assert entries[4].before == {"published_version": preset.version}
            assert entries[4].after == {"published_version": draft_number}
            assert entries[5].after == {"published_version": preset.version}
            assert {e.actor for e in entries} == {"admin"}
        finally:
            for client in (admin, customer, elsewhere):
                await client.aclose()
            await other.portal.database.dispose()  # type: ignore[attr-defined]


# --- edits that would break sign-in --------------------------------------------------------


async def test_edits_that_would_break_sign_in_are_refused_next_to_the_field(
    private_settings: Settings,
) -> None:
    async with private_portal(private_settings) as (app, database), browser(app) as admin:
        assert (await staff_sign_in(admin, IVANOVO)).status_code == 303
        draft_id = await new_draft(admin, IVANOVO)
        before = next(v for v in await versions_of(database, IVANOVO) if v.id == draft_id)

        # "phone" is how customers sign in, register and recover their password.
        removed = await edit_section(
            admin, IVANOVO, draft_id, "identifiers", identifiers__0___remove="on"
        )
        assert removed.status_code == 400
        message = error_at(removed.text, "identifiers.0._remove")
        assert "“phone” is still used in" in message and "Signing in" in message
        summary = text_of(removed.text)
        assert "sign_in.identifiers" in summary and "not a declared identifier" in summary
        assert 'id="identifiers.0._remove" name="identifiers.0._remove" value="on" checked' in (
            removed.text
        )

        # A language without a catalog could not be shown.
        german = await edit_section(
            admin, IVANOVO, draft_id, "locales", locales__enabled="ru\nen\nde"
        )
        assert german.status_code == 400
        assert "“de” has no translation catalog" in error_at(german.text, "locales.enabled")
        default = await edit_section(admin, IVANOVO, draft_id, "locales", locales__default="kk")
        assert default.status_code == 400
        assert "must be one of the enabled" in error_at(default.text, "locales.default")

        # The slug cannot be changed, even by a hand-made form.
        slug = await edit_section(admin, IVANOVO, draft_id, "general", slug="ivanovo-gas")
        assert slug.status_code == 400
        assert "cannot be changed" in error_at(slug.text, "slug")
        domain = await edit_section(
            admin, IVANOVO, draft_id, "general", domains=f"{WUJIANG}.localhost"
        )
        assert domain.status_code == 400
        assert "already used by another site" in error_at(domain.text, "domains")

        # Registration must leave the customer a way to sign in.
        sign_in = await edit_section(
            admin, IVANOVO, draft_id, "sign_in", sign_in__identifiers="account_number"
        )
        assert sign_in.status_code == 400
        assert "could not sign in afterwards" in text_of(sign_in.text)

        # The biggest page, posted as drawn, reads back as it was.
        unchanged = await edit_section(admin, IVANOVO, draft_id, "registration")
        assert unchanged.status_code == 303
        assert unchanged.headers["location"].endswith("?unchanged=1")

        after = next(v for v in await versions_of(database, IVANOVO) if v.id == draft_id)
        assert after.config == before.config
        async with database.session() as session:
            saves = (
                await session.exec(select(AuditEntry).where(AuditEntry.action == "config.save"))
            ).all()
        assert saves == []

        # Lists grow by a blank item and kinds show their own fields, without saving.
        path = f"/admin/config/versions/{draft_id}/sections/identifiers"
        values = form_of((await admin.get(tenant_url(IVANOVO, path))).text, path)
        grown = await admin.post(tenant_url(IVANOVO, path), data={**values, "_add": "identifiers"})
        assert grown.status_code == 200 and 'name="identifiers.3.name"' in grown.text
        values["identifiers.2.spec.kind"] = ["login"]
        kind = await admin.post(
            tenant_url(IVANOVO, path), data={**values, "_refresh": "identifiers.2.spec"}
        )
        assert kind.status_code == 200 and 'name="identifiers.2.spec.alphabets"' in kind.text
        assert (
            next(v for v in await versions_of(database, IVANOVO) if v.id == draft_id).config
            == before.config
        )


# --- who may do what, on which host ------------------------------------------------------


async def test_admins_reach_only_their_own_tenants_versions(private_settings: Settings) -> None:
    async with private_portal(private_settings) as (app, database):
        theirs = (await live_version(database, WUJIANG)).id
        async with browser(app) as admin, browser(app) as stranger:
            signed_out = await stranger.get(tenant_url(IVANOVO, "/admin/config"))
            assert signed_out.status_code == 303
            assert signed_out.headers["location"].startswith("/admin/sign-in")

            assert (await staff_sign_in(admin, IVANOVO)).status_code == 303
            own = (await live_version(database, IVANOVO)).id
            page = await admin.get(tenant_url(IVANOVO, f"/admin/config/versions/{own}"))
            token = csrf_token(page.text)
            for path in (
                f"/admin/config/versions/{theirs}",
                f"/admin/config/versions/{theirs}/sections/branding",
                f"/admin/config/diff?from={theirs}&to={own}",
                "/admin/config/versions/999999",
                f"/admin/config/versions/{own}/sections/no_such_section",
            ):
                assert (await admin.get(tenant_url(IVANOVO, path))).status_code == 404, path
            for action in ("publish", "rollback", "preview", "sections/branding"):
                answer = await admin.post(
                    tenant_url(IVANOVO, f"/admin/config/versions/{theirs}/{action}"),
                    data={"_csrf_token": token, "fingerprint": "x", "_fingerprint": "x"},
                )
                assert answer.status_code == 404, action
            copied = await admin.post(
                tenant_url(IVANOVO, "/admin/config/drafts"),
                data={"_csrf_token": token, "from": str(theirs)},
            )
            assert copied.status_code == 404
            assert len(await versions_of(database, IVANOVO)) == 1

            # The admin's session is worth nothing on another tenant's host.
            session_cookie = admin.cookies.get("session", domain=f"{IVANOVO}.localhost")
            assert session_cookie
            other_host = await stranger.get(
                tenant_url(WUJIANG, "/admin/config"),
                headers={"Cookie": f"session={session_cookie}"},
            )
            assert other_host.status_code == 303

        # A platform operator may edit any tenant's configuration on its host.
        async with browser(app) as operator:
            assert (await operator_sign_in(operator, WUJIANG)).status_code == 303
            draft_id = await new_draft(operator, WUJIANG, note="by the operator")
            assert (
                await operator.get(tenant_url(WUJIANG, f"/admin/config/versions/{draft_id}"))
            ).status_code == 200
