"""The scenarios: a benchmark customer signed in over HTTP, and the requests wrk repeats.

Everything is found the way a browser would find it (the cabinet's links, the form's
inputs), except the reading values to send, which come from the meters' own history so
that the portal accepts them without asking for a confirmation.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func
from sqlmodel import col, select

from bench.processes import Load
from bench.seed_large import Target, login_of, scenario_account_index, scenario_tenant
from domain.db import Database
from domain.demo import DEMO_PASSWORD
from domain.models import Charge, Tenant
from domain.reading_submission import load_meter_readings
from domain.readings import period_of
from tenants.loader import load_presets

# Every request of a scenario says it takes gzip, as every browser does.
COMMON_HEADERS = {"Accept-Encoding": "gzip"}
FORM = "application/x-www-form-urlencoded"
STATIC_ASSET = re.compile(r'(?:src|href)="(/static/[^"]+)"')


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    # read: a page or a partial that changes nothing; partial: an htmx answer; write: a form post
    kind: str
    load: Load


@dataclass(frozen=True)
class SignedIn:
    """A benchmark customer's session and what their pages need."""

    host: str
    session: str
    csrf: str
    account_id: int
    values: dict[int, str]
    charges_period: str

    @property
    def cookie(self) -> str:
        return f"session={self.session}; csrftoken={self.csrf}"


def _client(base_url: str, host: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Host": host}, timeout=60)


def csrf_cookie(client: httpx.Client) -> str:
    response = client.get("/sign-in")
    response.raise_for_status()
    token = response.cookies.get("csrftoken")
    if not token:
        raise RuntimeError("the sign-in page set no csrftoken cookie")
    return str(token)


def sign_in(base_url: str, host: str, login: str, password: str, database_url: str) -> SignedIn:
    """Sign in as a browser does, find the account, and pick reading values that pass."""
    with _client(base_url, host) as client:
        csrf = csrf_cookie(client)
        answer = client.post(
            "/sign-in",
            data={"identifier": login, "password": password, "_csrf_token": csrf},
            headers={"Cookie": f"csrftoken={csrf}"},
        )
        session = answer.cookies.get("session")
        if answer.status_code != 303 or not session:
            raise RuntimeError(f"signing in as {login} on {host} failed: {answer.status_code}")
        cookies = {"Cookie": f"session={session}; csrftoken={csrf}"}
        cabinet = client.get("/cabinet", headers=cookies)
        found = re.search(r'href="/accounts/(\d+)/readings"', cabinet.text)
        if cabinet.status_code != 200 or not found:
            raise RuntimeError(f"the cabinet of {login} links to no readings page")
        account_id = int(found.group(1))
        page = client.get(f"/accounts/{account_id}/readings", headers=cookies)
        meter_ids = [int(x) for x in re.findall(r'name="value-(\d+)"', page.text)]
        if not meter_ids:
            raise RuntimeError(f"the readings page of account {account_id} takes no value")
    values, period = asyncio.run(_history(database_url, host, account_id, meter_ids))
    return SignedIn(host, str(session), csrf, account_id, values, period)


async def _history(
    database_url: str, host: str, account_id: int, meter_ids: list[int]
) -> tuple[dict[int, str], str]:
    """Values one month's usual use above each meter's last reading; the last billed month."""
    slug = host.split(".", 1)[0]
    timezone = ZoneInfo(_preset_timezone(slug))
    today = datetime.now(UTC).astimezone(timezone).date()
    database = Database(database_url)
    try:
        async with database.session() as session:
            tenant = (await session.exec(select(Tenant).where(Tenant.slug == slug))).one()
            rows = await load_meter_readings(
                session, tenant_id=tenant.id or 0, account_id=account_id, period=period_of(today)
            )
            last = (
                await session.exec(
                    select(func.max(col(Charge.period))).where(Charge.account_id == account_id)
                )
            ).one()
    finally:
        await database.dispose()
    values = {}
    for row in rows:
        if row.id in meter_ids:
            previous = row.previous.value if row.previous else Decimal(100)
            value = previous + (row.average or Decimal(5))
            values[row.id] = str(value.quantize(Decimal(1).scaleb(-row.meter.decimals)))
    return values, f"{last:%Y-%m}"


def _preset_timezone(slug: str) -> str:
    """Clones keep their preset's time zone; "b07-melitopol-water" is melitopol-water's."""
    for config in load_presets():
        if slug == config.slug or slug.endswith("-" + config.slug):
            return config.timezone
    return "UTC"


def check_and_submit(base_url: str, customer: SignedIn) -> None:
    """The chosen values pass the htmx check with no message, and one submission lands."""
    headers = {"x-csrftoken": customer.csrf, "hx-request": "true", "Cookie": customer.cookie}
    readings = f"/accounts/{customer.account_id}/readings"
    with _client(base_url, customer.host) as client:
        for meter_id, value in customer.values.items():
            answer = client.post(
                readings + "/check", data={f"value-{meter_id}": value}, headers=headers
            )
            if answer.status_code != 200 or answer.text.strip():
                raise RuntimeError(f"the value {value} of meter {meter_id}: {answer.text[:300]}")
        answer = client.post(readings, content=submission_body(customer), headers=_form(customer))
        if answer.status_code != 303:
            raise RuntimeError(f"the readings were not accepted ({answer.status_code})")


def _form(customer: SignedIn) -> dict[str, str]:
    return {"Content-Type": FORM, "Cookie": customer.cookie}


def submission_body(customer: SignedIn) -> str:
    fields = {f"value-{meter_id}": value for meter_id, value in customer.values.items()}
    return urlencode({"_csrf_token": customer.csrf, **fields})


def scenarios(customer: SignedIn) -> list[Scenario]:
    host = {"Host": customer.host, **COMMON_HEADERS}
    signed_in = {**host, "Cookie": customer.cookie}
    account = f"/accounts/{customer.account_id}"
    meter_id, value = next(iter(customer.values.items()))
    check_headers = {
        **signed_in,
        "Content-Type": FORM,
        "hx-request": "true",
        "x-csrftoken": customer.csrf,
    }
    return [
        Scenario("sign_in_page", "anonymous sign-in page", "read", Load("GET", "/sign-in", host)),
        Scenario("cabinet", "cabinet home", "read", Load("GET", "/cabinet", signed_in)),
        Scenario(
            "readings", "readings page", "read", Load("GET", account + "/readings", signed_in)
        ),
        Scenario(
            "reading_check",
            "htmx check of one reading",
            "partial",
            Load(
                "POST",
                account + "/readings/check",
                check_headers,
                urlencode({f"value-{meter_id}": value}),
            ),
        ),
        Scenario(
            "reading_submit",
            "reading submission",
            "write",
            Load(
                "POST",
                account + "/readings",
                {**signed_in, "Content-Type": FORM},
                submission_body(customer),
                expect=303,
            ),
        ),
        Scenario(
            "charges",
            "charges page",
            "read",
            Load("GET", f"{account}/charges?period={customer.charges_period}", signed_in),
        ),
    ]


def signed_in_load(base_url: str, target: Target, key: str) -> Load:
    """Sign the size's benchmark customer in and return scenario `key`'s request."""
    host = f"{scenario_tenant(target.size)}.localhost"
    login = login_of(scenario_account_index(target.size))
    customer = sign_in(base_url, host, login, DEMO_PASSWORD, target.url)
    return next(s.load for s in scenarios(customer) if s.key == key)


# --- page weight -----------------------------------------------------------------------------


def first_load_bytes(base_url: str, customer: SignedIn, path: str, signed_in: bool) -> int:
    """A page and every asset it links, compressed, as tests/web/test_weight.py counts them."""
    cookie = {"Cookie": customer.cookie} if signed_in else {}
    with _client(base_url, customer.host) as client:
        page = client.get(path, headers={**COMMON_HEADERS, **cookie})
        total = page.num_bytes_downloaded
        for asset in sorted(set(STATIC_ASSET.findall(page.text))):
            total += client.get(asset, headers=COMMON_HEADERS).num_bytes_downloaded
    return total


def partial_bytes(base_url: str, scenario: Scenario, customer: SignedIn) -> int:
    """The htmx check's answer to a value it refuses: the partial with a message in it."""
    meter_id = next(iter(customer.values))
    with _client(base_url, customer.host) as client:
        answer = client.request(
            scenario.load.method,
            scenario.load.path,
            headers=scenario.load.headers,
            content=urlencode({f"value-{meter_id}": "1"}),
        )
        if answer.status_code != 200 or not answer.text.strip():
            raise RuntimeError(f"the htmx check refused nothing: {answer.status_code}")
        return answer.num_bytes_downloaded


def weights(base_url: str, customer: SignedIn, partial: Scenario) -> dict[str, int]:
    account = f"/accounts/{customer.account_id}"
    pages = {
        "/sign-in": False,
        "/cabinet": True,
        f"{account}/readings": True,
        f"{account}/charges?period={customer.charges_period}": True,
    }
    found = {path: first_load_bytes(base_url, customer, path, auth) for path, auth in pages.items()}
    found["htmx check partial"] = partial_bytes(base_url, partial, customer)
    return found
