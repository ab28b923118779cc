"""The configuration editor's rules on their own: forms generated from the schema and read
back, the checks that keep sign-in working, paths of problems, diffs; and the draft,
publish and roll-back writes on a private database."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import col, select

from domain.audit import AuditEntry
from domain.config_editor import (
    check_document,
    diff,
    find_version,
    fingerprint,
    list_versions,
    publish,
    roll_back,
    save_draft,
    start_draft,
    taken_hosts,
)
from domain.db import Database
from domain.models import Tenant
from domain.staff import StaffUser
from tenants.form_fields import (
    Node,
    add_item,
    describe,
    error_path,
    read_section,
    section_fields,
    sections,
    without_removed,
)
from tenants.loader import load_presets
from tenants.schema import TenantConfig
from web.i18n import loaded_locales
from web.settings import Settings

CATALOGS = set(loaded_locales())


@pytest.fixture(scope="module")
def presets() -> dict[str, dict[str, Any]]:
    return {config.slug: config.model_dump(mode="json") for config in load_presets()}


def posted(nodes: list[Node]) -> dict[str, list[str]]:
    """What a browser posts for these nodes, left as they are drawn."""
    form: dict[str, list[str]] = {}

    def add(name: str, value: str) -> None:
        form.setdefault(name, []).append(value)

    def walk(node: Node) -> None:
        if node.kind in ("text", "number", "decimal", "date", "select", "lines", "pairs"):
            add(node.path, node.value)
        elif node.kind == "checkbox":
            if node.value:
                add(node.path, "on")
        elif node.kind == "choices":
            for option in node.value:
                add(node.path, option)
        elif node.kind in ("localized", "mapping"):
            for code, text in node.value:
                add(f"{node.path}.{code}", text)
        elif node.kind == "list":
            add(f"{node.path}._count", str(len(node.children)))
        elif node.kind == "union":
            add(f"{node.path}.{node.tag}", node.value)
            add(f"{node.path}._shown", node.value)
        if node.kind == "group" and node.optional_group and node.present:
            add(f"{node.path}._use", "on")
        if node.kind != "group" or not node.optional_group or node.present:
            for child in node.children:
                walk(child)

    for node in nodes:
        walk(node)
    return form


def check(document: dict[str, Any], slug: str = "ivanovo-water", taken: set[str] = set()):  # noqa: B006
    return check_document(document, slug=slug, catalogs=CATALOGS, taken=taken)


def codes(document: dict[str, Any], **kwargs: Any) -> set[tuple[str, str]]:
    return {(p.path, p.code) for p in check(document, **kwargs).problems}


# --- forms from the schema ----------------------------------------------------------------


def test_every_section_of_every_preset_reads_back_unchanged_from_its_own_form(
    presets: dict[str, dict[str, Any]],
) -> None:
    assert sections()[0] == "general"
    assert {"branding", "locales", "identifiers", "sign_in", "registration", "readings"} <= set(
        sections()
    )
    assert "window_days" not in section_fields("general")
    assert {"slug", "currency", "modules", "domains"} <= set(section_fields("general"))
    every_field = [name for section in sections() for name in section_fields(section)]
    assert sorted(every_field) == sorted(TenantConfig.model_fields)
    for slug, document in presets.items():
        for section in sections():
            edit = read_section(posted(describe(document, section)), document, section)
            assert not edit.problems and not edit.removed, (slug, section)
            again = TenantConfig.model_validate(edit.document).model_dump(mode="json")
            assert again == document, (slug, section, diff(document, again))


def test_the_form_has_an_input_per_enabled_locale_and_the_kinds_own_fields(
    presets: dict[str, dict[str, Any]],
) -> None:
    kz = presets["kz-vodokanal"]
    [branding] = describe(kz, "branding")
    name = next(node for node in branding.children if node.name == "name")
    assert name.kind == "localized" and [code for code, _ in name.value] == ["ru", "kk", "en"]
    [identifiers] = describe(kz, "identifiers")
    first = identifiers.children[0]
    spec = next(node for node in first.children if node.name == "spec")
    assert (
        spec.kind == "union"
        and "digits" in spec.options
        and spec.value == kz["identifiers"][0]["spec"]["kind"]
    )
    [readings] = describe(kz, "readings")
    window = next(node for node in readings.children if node.name == "window_days")
    assert window.kind == "lines"
    [general] = [node for node in describe(kz, "general") if node.name == "modules"]
    assert general.kind == "choices" and "readings" in general.options


def test_changing_a_kind_shows_its_blank_fields_and_adding_an_item_appends_a_blank_one(
    presets: dict[str, dict[str, Any]],
) -> None:
    document = presets["ivanovo-water"]
    form = posted(describe(document, "identifiers"))
    form["identifiers.2.spec.kind"] = ["login"]
    edit = read_section(form, document, "identifiers")
    assert edit.document["identifiers"][2]["spec"] == {
        "kind": "login",
        "alphabets": [],
        "min_length": 3,
        "max_length": 32,
    }
    assert add_item(edit.document, "identifiers")
    assert edit.document["identifiers"][-1]["spec"]["kind"] == "digits"
    assert not add_item(edit.document, "branding.name")
    assert not add_item(edit.document, "modules")


def test_typed_values_are_kept_for_the_page_and_problems_point_at_their_field(
    presets: dict[str, dict[str, Any]],
) -> None:
    document = presets["ivanovo-water"]
    form = posted(describe(document, "readings"))
    form["readings.window_days"] = ["20\n45\n"]
    form["readings.outlier_factor"] = ["lots"]
    edit = read_section(form, document, "readings")
    assert edit.document["readings"]["window_days"] == [20, 45]
    assert edit.document["readings"]["outlier_factor"] == "lots"
    problems = {(p.path, p.code) for p in check(edit.document).problems}
    assert ("readings.window_days.1", "less_than_equal") in problems
    assert ("readings.outlier_factor", "decimal_parsing") in problems

    form = posted(describe(document, "identifiers"))
    form["identifiers.2.spec.length"] = ["0"]
    form["identifiers.1.label.en"] = [""]
    form["identifiers.1.label.ru"] = [""]
    edit = read_section(form, document, "identifiers")
    problems = {(p.path, p.code) for p in check(edit.document).problems}
    # Without pydantic's union tag ("spec.digits.length") and Localized's "texts".
    assert ("identifiers.2.spec.length", "greater_than_equal") in problems
    assert ("identifiers.1.label", "value_error") in problems
    assert error_path(("identifiers", 0, "spec", "digits", "length")) == "identifiers.0.spec.length"
    assert error_path(("branding", "name", "texts", "xx", "[key]")) == "branding.name.xx"


def test_terminology_lines_without_an_equals_sign_are_reported(
    presets: dict[str, dict[str, Any]],
) -> None:
    document = presets["ivanovo-water"]
    form = posted(describe(document, "terminology"))
    assert form["terminology.ru"] == ["Account number = Лицевой счёт"]
    form["terminology.ru"] = ["Account number = Лицевой счёт\nno separator here"]
    form["terminology.en"] = ["Pay now = Pay"]
    edit = read_section(form, document, "terminology")
    assert edit.document["terminology"] == {
        "ru": {"Account number": "Лицевой счёт"},
        "en": {"Pay now": "Pay"},
    }
    assert edit.problems == [("terminology.ru", "bad_pair", {"line": "no separator here"})]


def test_removed_items_are_left_out_and_problem_paths_lead_back_to_the_page(
    presets: dict[str, dict[str, Any]],
) -> None:
    document = presets["ivanovo-water"]
    form = posted(describe(document, "identifiers"))
    form["identifiers.0._remove"] = ["on"]  # "phone", still used to sign in and register
    form["identifiers.2.sample"] = [""]
    edit = read_section(form, document, "identifiers")
    assert edit.removed == {"identifiers.0"} and len(edit.document["identifiers"]) == 3
    pruned, page_path = without_removed(edit)
    assert [i["name"] for i in pruned["identifiers"]] == ["email", "account_number"]
    problems = check(pruned).problems
    found = {(page_path(p.path), p.code) for p in problems}
    assert ("identifiers.2.sample", "string_too_short") in found
    assert ("sign_in.identifiers", "undeclared_identifier") in found
    assert ("registration.variants.0.steps.0.fields.0.identifier", "undeclared_identifier") in found
    assert ("recovery.0.start_identifiers", "undeclared_identifier") in found
    # The schema's own one-line English version of the same rule is not repeated.
    assert not any(p.path == "" for p in problems)
    # The form as typed still holds the removed item, to be shown again with its tick.
    assert edit.document["identifiers"][0]["name"] == "phone"


# --- the checks that keep sign-in working ------------------------------------------------


def test_every_preset_passes_the_editors_checks(presets: dict[str, dict[str, Any]]) -> None:
    for slug, document in presets.items():
        assert check(document, slug=slug).problems == [], slug


def test_edits_that_would_break_sign_in_are_named_at_their_field(
    presets: dict[str, dict[str, Any]],
) -> None:
    ivanovo = presets["ivanovo-water"]

    document = copy.deepcopy(ivanovo)
    document["locales"]["enabled"].append("de")
    assert codes(document) == {("locales.enabled", "no_catalog")}

    document = copy.deepcopy(ivanovo)
    document["locales"]["default"] = "kk"
    assert codes(document) == {("locales.default", "default_not_enabled")}

    document = copy.deepcopy(ivanovo)
    document["sign_in"]["identifiers"] = ["account_number"]
    assert codes(document) == {("registration.variants.0", "no_sign_in_after_registration")}

    document = copy.deepcopy(ivanovo)
    document["slug"] = "someone-else"
    assert ("slug", "slug_changed") in codes(document)

    document = copy.deepcopy(ivanovo)
    document["domains"] = ["lk.vodokanal.example", "water.example"]
    assert codes(document, taken={"water.example"}) == {("domains", "domain_taken")}

    kz = copy.deepcopy(presets["kz-vodokanal"])
    legal = kz["registration"]["variants"][1]
    legal["login_from"] = "iin"  # not declared
    legal["steps"][0]["fields"] = [
        f for f in legal["steps"][0]["fields"] if f.get("identifier") != "contract_number"
    ]
    found = codes(kz, slug="kz-vodokanal")
    assert ("registration.variants.1.login_from", "undeclared_identifier") in found
    assert ("registration.variants.1.login_from", "login_not_collected") in found
    for problem in check(kz, slug="kz-vodokanal").problems:
        assert problem.code != "value_error" or problem.path != ""


def test_diff_lists_changed_paths_with_both_values(presets: dict[str, dict[str, Any]]) -> None:
    before = presets["ivanovo-water"]
    after = copy.deepcopy(before)
    after["branding"]["name"]["texts"]["en"] = "Ivanovo Water"
    after["modules"].append("statements")
    after["identifiers"][1]["hint"] = {"texts": {"en": "Where we send receipts"}}
    after["account_linking"] = None
    changes = {c.path: (c.before, c.after) for c in diff(before, after)}
    assert changes["branding.name.en"] == ("Vodokanal JSC, Ivanovo", "Ivanovo Water")
    assert changes["modules"][1][-1] == "statements"
    assert changes["identifiers.1.hint.en"] == (None, "Where we send receipts")
    assert changes["account_linking.proof"] == ("meter_last4", None)
    assert len(changes) == 5
    assert diff(before, copy.deepcopy(before)) == []


# --- drafts, publish and roll back on a database of this test's own ------------------------


async def test_drafts_change_in_place_until_published_and_every_change_is_audited(
    private_settings: Settings,
) -> None:
    database = Database(private_settings.database_url)
    try:
        async with database.session() as session:
            tenant = (
                await session.exec(select(Tenant).where(Tenant.slug == "melitopol-gas"))
            ).one()
            tenant_id = tenant.id or 0
            staff = (
                await session.exec(select(StaffUser).where(StaffUser.tenant_id == tenant_id))
            ).first()
            assert staff is not None
            [live] = [row for row in await list_versions(session, tenant_id) if row.live]
            origin = await find_version(session, tenant_id, live.id)
            assert origin is not None
            draft = await start_draft(
                session, tenant_id=tenant_id, origin=origin, staff=staff, note="x", address="a"
            )
            draft_id = draft.id or 0
            seen = fingerprint(draft.config)
            changed = copy.deepcopy(draft.config)
            changed["readings"]["window_days"] = [20, 21, 22]
            edit = dict(staff=staff, address="203.0.113.9")
            outcome = await save_draft(
                session,
                tenant_id=tenant_id,
                version_id=draft_id,
                document=changed,
                seen=seen,
                **edit,
            )
            assert outcome.outcome == "saved"
            # A form opened before that save is refused, not allowed to overwrite it.
            stale = await save_draft(
                session,
                tenant_id=tenant_id,
                version_id=draft_id,
                document=changed,
                seen=seen,
                **edit,
            )
            assert stale.outcome == "conflict"
            seen = fingerprint(changed)
            same = await save_draft(
                session,
                tenant_id=tenant_id,
                version_id=draft_id,
                document=changed,
                seen=seen,
                **edit,
            )
            assert same.outcome == "unchanged"
            moment = datetime(2026, 11, 21, 9, tzinfo=UTC)
            common = dict(tenant_id=tenant_id, staff=staff, now=moment, address="a")
            assert await roll_back(session, version_id=draft_id, seen=seen, **common) == "is_draft"
            assert await publish(session, version_id=draft_id, seen="old", **common) == "conflict"
            assert await publish(session, version_id=draft_id, seen=seen, **common) == "done"
            assert await publish(session, version_id=draft_id, seen=seen, **common) == (
                "already_live"
            )
            # Published: no longer a draft, so it no longer changes.
            again = await save_draft(
                session,
                tenant_id=tenant_id,
                version_id=draft_id,
                document=changed,
                seen=seen,
                **edit,
            )
            assert again.outcome == "not_draft"
            back = fingerprint(origin.config)
            assert await roll_back(session, version_id=live.id, seen=back, **common) == "done"
            other = (await session.exec(select(Tenant).where(Tenant.slug == "ivanovo-water"))).one()
            assert await find_version(session, other.id or 0, draft_id) is None
            assert "ivanovo-water.localhost" in await taken_hosts(session, tenant_id, "localhost")
            assert "melitopol-gas.localhost" not in await taken_hosts(
                session, tenant_id, "localhost"
            )
            entries = (
                await session.exec(
                    select(AuditEntry)
                    .where(AuditEntry.tenant_id == tenant_id)
                    .order_by(col(AuditEntry.id))
                )
            ).all()
        assert [e.action for e in entries] == [
            "config.draft",
            "config.save",
            "config.publish",
            "config.rollback",
        ]
        saved = entries[1]
        assert saved.before == {"readings.window_days": origin.config["readings"]["window_days"]}
        assert saved.after == {"readings.window_days": [20, 21, 22]}
        assert entries[2].before == {"published_version": live.version}
        assert entries[2].after == {"published_version": draft.version}
        assert entries[3].after == {"published_version": live.version}
        assert all(e.actor == staff.login and e.staff_id == staff.id for e in entries)
    finally:
        await database.dispose()
