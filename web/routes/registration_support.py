"""What the registration pages share: tickets between steps, limits, messages, signing in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from litestar import Request
from litestar.response import Redirect, Template

from domain.limits import (
    CODES_PER_ADDRESS,
    CODES_PER_RECIPIENT,
    CODES_PER_TENANT_DAY,
    Limit,
)
from domain.registration import (
    Site,
)
from domain.registration_email import Links
from domain.tickets import BadTicket, sign, unsign
from tenants.schema import (
    FormField,
)
from web.auth import (
    client_address,
    start_session,
    tenant_id_of,
    tenant_of,
)
from web.i18n import N_
from web.messages import render_message
from web.routes.common import i18n, pepper

STEP_TICKET, SENT_TICKET, CODE_TICKET = (
    "registration-step",
    "registration-sent",
    "registration-code",
)
TICKET_AGE = 60 * 60
RESEND_AFTER_SECONDS = 60
# The "I agree" box of a flow with an agreement; not a configured field.
AGREEMENT = FormField(name="agreement_accepted", type="checkbox")

NO_MATCH = N_(
    "We could not find an account with these details. Check them against your bill and try again."
)
TOO_MANY = N_("Too many attempts. Please try again later.")
EXPIRED = N_("This form has expired. Please start again.")
LOGIN_TAKEN = N_("This login is taken. Please choose another.")
CODE_LABEL = N_("Code from the SMS")
CODE_FORMAT = N_("The code is the six digits from the SMS.")
CODE_WAIT = N_("Please wait a little before asking for a new code.")
CODE_DEAD = N_("This code is no longer valid. Please ask for a new code.")
CODE_PROBLEMS = {
    "exhausted": N_("Too many wrong codes. Please ask for a new code."),
    "taken": N_(
        "This phone number or email address is already registered. "
        "Sign in, or set a new password if you have forgotten it."
    ),
}

Retry = Callable[..., Template]


# --- small helpers -----------------------------------------------------------------


def db_session(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.portal.database.session()


def site_of(request: Request[Any, Any, Any]) -> Site:
    return Site(
        config=tenant_of(request),
        tenant_id=tenant_id_of(request),
        locale=i18n(request).locale,
        pepper=pepper(request),
        renderer=render_message,
    )


def sign_ticket(request: Request[Any, Any, Any], purpose: str, payload: dict[str, Any]) -> str:
    return sign(payload, purpose=purpose, tenant_id=tenant_id_of(request), secret=pepper(request))


def read_ticket(
    request: Request[Any, Any, Any], purpose: str, ticket: str
) -> dict[str, Any] | None:
    try:
        return unsign(
            ticket,
            purpose=purpose,
            tenant_id=tenant_id_of(request),
            secret=pepper(request),
            max_age=TICKET_AGE,
        )
    except BadTicket:
        return None


async def over_limit(request: Request[Any, Any, Any], *limits: tuple[Limit, str]) -> bool:
    """Count one attempt against each limit; True when any of them is used up."""
    limiter = request.app.state.portal.limiter
    tenant_id = tenant_id_of(request)
    within = [await limiter.hit(limit, f"{tenant_id}:{subject}") for limit, subject in limits]
    return not all(within)


def message_limits(request: Request[Any, Any, Any], recipient: str) -> list[tuple[Limit, str]]:
    return [
        (CODES_PER_RECIPIENT, recipient),
        (CODES_PER_ADDRESS, client_address(request)),
        (CODES_PER_TENANT_DAY, "tenant"),
    ]


def links_of(request: Request[Any, Any, Any]) -> Links:
    base = f"{request.url.scheme}://{request.url.netloc}"
    return Links(
        confirm=lambda token: f"{base}/register/confirm?{urlencode({'token': token})}",
        sign_in=f"{base}/sign-in",
        recover=f"{base}/recover" if tenant_of(request).recovery else "",
    )


async def signed_in(request: Request[Any, Any, Any], customer_id: int) -> Redirect:
    return await start_session(request, "/cabinet", customer_id=customer_id)
