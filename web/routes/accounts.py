"""The customer's accounts: link another, rename, unlink (the statement: account_statement).

Every account id in a URL goes through `domain.ownership.linked_account`, so another
customer's account (or one that does not exist) is a plain 404 and nothing changes.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from domain.accounts import (
    NICKNAME_MAX,
    clean_nickname,
    clean_proof,
    link_account,
    rename_account,
    unlink_account,
)
from domain.fields import FieldProblem
from domain.models import Account, AccountLink, Customer
from domain.ownership import linked_account
from tenants.schema import AccountLinking, FormField, TenantConfig
from web.auth import require_customer, tenant_id_of, tenant_of
from web.forms import FieldView, check_fields, problem_message, view_of
from web.i18n import N_, Translator
from web.rendering import page
from web.routes.common import i18n, posted

REFUSED = {
    "meter_last4": N_(
        "We could not add this account. Please check the account number and the last "
        "four digits of the meter number."
    ),
    "holder_surname": N_(
        "We could not add this account. Please check the account number and the "
        "account holder's surname."
    ),
    "none": N_(
        "We could not add this account. Please check the account number, or ask the "
        "contact centre for help."
    ),
}
LIMITED = N_(
    "Too many attempts to add an account. For your safety, please wait an hour and try again."
)
# The sample of the seed's "Последние 4 цифры счетчика" field.
METER_SAMPLE = "0103"
PROOF_LABELS = {
    "meter_last4": N_("Last 4 digits of the meter number"),
    "holder_surname": N_("Account holder's surname"),
}
PROOF_HINTS = {
    "meter_last4": N_(
        "The last four digits of the factory number of any working meter on this account."
    ),
    "holder_surname": N_("The surname of the account holder, as printed on your bill."),
}


def _linking(config: TenantConfig) -> AccountLinking:
    """The tenant's linking rules; without the module these pages do not exist."""
    if not config.has("account_linking") or config.account_linking is None:
        raise NotFoundException()
    return config.account_linking


async def own_account(
    request: Request[Any, Any, Any], customer: Customer, account_id: int
) -> tuple[Account, AccountLink]:
    async with request.app.state.portal.database.reads() as session:
        found = await linked_account(
            session,
            tenant_id=tenant_id_of(request),
            customer_id=customer.id or 0,
            account_id=account_id,
        )
    if found is None:
        raise NotFoundException()
    return found


def _nickname_view(translate: Translator, value: str, error: str = "") -> FieldView:
    return FieldView(
        name="nickname",
        label=translate.gettext("Name for the account"),
        input_type="text",
        value=value,
        required=False,
        hint=translate.gettext(
            "For example, “My flat” or “Grandma's flat”. Leave it empty if you do not want one."
        ),
        error=error,
        extra={"maxlength": str(NICKNAME_MAX)},
    )


# --- linking ---------------------------------------------------------------------------


def _number_field(config: TenantConfig) -> FormField:
    return FormField(name="account_number", type="identifier", identifier=config.account_identifier)


def _link_page(
    request: Request[Any, Any, Any],
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    form_error: str = "",
    status: int = 200,
) -> Template:
    config = tenant_of(request)
    linking = _linking(config)
    translate = i18n(request)
    values, errors = values or {}, errors or {}
    fields = [
        view_of(
            config,
            _number_field(config),
            translate,
            values.get("account_number", ""),
            errors.get("account_number", ""),
        )
    ]
    if linking.proof != "none":
        fields.append(
            FieldView(
                name="proof",
                label=translate.gettext(PROOF_LABELS[linking.proof]),
                input_type="text",
                value=values.get("proof", ""),
                hint=translate.gettext(PROOF_HINTS[linking.proof]),
                sample=METER_SAMPLE if linking.proof == "meter_last4" else "",
                error=errors.get("proof", ""),
                inputmode="numeric" if linking.proof == "meter_last4" else "",
                extra={"maxlength": "9"} if linking.proof == "meter_last4" else {},
            )
        )
    if linking.nicknames:
        fields.append(
            _nickname_view(translate, values.get("nickname", ""), errors.get("nickname", ""))
        )
    return page(
        request, "accounts/link.html", status_code=status, fields=fields, form_error=form_error
    )


@get("/accounts/link")
async def link_form(request: Request[Any, Any, Any]) -> Template:
    require_customer(request)
    return _link_page(request)


@post("/accounts/link")
async def link_submit(request: Request[Any, Any, Any]) -> Template | Redirect:
    customer = require_customer(request)
    config = tenant_of(request)
    linking = _linking(config)
    translate = i18n(request)
    form = await posted(request)
    number_field = _number_field(config)
    checked = check_fields(config, [number_field], form)
    errors: dict[str, str] = {}
    if checked.problems:
        reason = checked.problems["account_number"]
        errors["account_number"] = problem_message(config, number_field, reason, translate)
    proof = ""
    try:
        proof = clean_proof(linking.proof, form.get("proof", ""))
    except FieldProblem as problem:
        label = translate.gettext(PROOF_LABELS[linking.proof])
        errors["proof"] = problem_message(
            config, None, problem.reason, translate, label=label, sample=METER_SAMPLE
        )
    nickname: str | None = None
    if linking.nicknames:
        try:
            nickname = clean_nickname(form.get("nickname", ""))
        except FieldProblem as problem:
            label = translate.gettext("Name for the account")
            errors["nickname"] = problem_message(
                config, None, problem.reason, translate, label=label
            )
    if errors:
        return _link_page(request, values=form, errors=errors, status=400)
    async with request.app.state.portal.database.session() as session:
        outcome = await link_account(
            session,
            limiter=request.app.state.portal.limiter,
            tenant_id=tenant_id_of(request),
            customer_id=customer.id or 0,
            number=checked.values["account_number"],
            proof_kind=linking.proof,
            proof=proof,
            nickname=nickname,
        )
    if outcome == "limited":
        message = translate.gettext(LIMITED)
        return _link_page(request, values=form, form_error=message, status=429)
    if outcome == "refused":
        message = translate.gettext(REFUSED[linking.proof])
        return _link_page(request, values=form, form_error=message, status=400)
    done = "linked" if outcome == "linked" else "already"
    return Redirect(f"/cabinet?done={done}", status_code=303)


# --- nickname and unlinking --------------------------------------------------------------


def _nicknames_on(config: TenantConfig) -> None:
    if not _linking(config).nicknames:
        raise NotFoundException()


@get("/accounts/{account_id:int}/nickname")
async def nickname_form(request: Request[Any, Any, Any], account_id: FromPath[int]) -> Template:
    customer = require_customer(request)
    _nicknames_on(tenant_of(request))
    account, link = await own_account(request, customer, account_id)
    field = _nickname_view(i18n(request), link.nickname or "")
    return page(request, "accounts/nickname.html", account=account, nickname_field=field)


@post("/accounts/{account_id:int}/nickname")
async def nickname_submit(
    request: Request[Any, Any, Any], account_id: FromPath[int]
) -> Template | Redirect:
    customer = require_customer(request)
    config = tenant_of(request)
    _nicknames_on(config)
    account, _ = await own_account(request, customer, account_id)
    translate = i18n(request)
    typed = (await posted(request)).get("nickname", "")
    try:
        nickname = clean_nickname(typed)
    except FieldProblem as problem:
        label = translate.gettext("Name for the account")
        error = problem_message(config, None, problem.reason, translate, label=label)
        field = _nickname_view(translate, typed, error)
        return page(
            request,
            "accounts/nickname.html",
            status_code=400,
            account=account,
            nickname_field=field,
        )
    async with request.app.state.portal.database.session() as session:
        await rename_account(
            session,
            tenant_id=tenant_id_of(request),
            customer_id=customer.id or 0,
            account_id=account_id,
            nickname=nickname,
        )
    return Redirect(f"/cabinet?done={'renamed' if nickname else 'cleared'}", status_code=303)


@get("/accounts/{account_id:int}/unlink")
async def unlink_confirm(request: Request[Any, Any, Any], account_id: FromPath[int]) -> Template:
    customer = require_customer(request)
    _linking(tenant_of(request))
    account, link = await own_account(request, customer, account_id)
    return page(request, "accounts/unlink.html", account=account, link=link)


@post("/accounts/{account_id:int}/unlink")
async def unlink_submit(request: Request[Any, Any, Any], account_id: FromPath[int]) -> Redirect:
    customer = require_customer(request)
    _linking(tenant_of(request))
    await own_account(request, customer, account_id)
    async with request.app.state.portal.database.session() as session:
        await unlink_account(
            session,
            tenant_id=tenant_id_of(request),
            customer_id=customer.id or 0,
            account_id=account_id,
        )
    return Redirect("/cabinet?done=unlinked", status_code=303)


routes: list[Any] = [
    link_form,
    link_submit,
    nickname_form,
    nickname_submit,
    unlink_confirm,
    unlink_submit,
]
