"""Scale-out: two `portal serve` processes on one PostgreSQL database behave as one deployment.

A session, a rate-limit counter and a published configuration change made through one
process are honoured by the other. PostgreSQL only: the test makes a database of its
own next to PORTAL_TEST_DATABASE_URL ("<name>_scaleout"), so it never touches the one
the rest of the suite shares.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from domain.db import create_sync_engine
from domain.demo import DEMO_OPERATOR_LOGIN, DEMO_PASSWORD, DEMO_STAFF_LOGIN
from domain.migrate import upgrade
from tests.browser.conftest import running_portal
from tests.conftest import seed
from tests.helpers import create_customer, csrf_token

POSTGRES_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not POSTGRES_URL,
        reason="needs PostgreSQL: set PORTAL_TEST_DATABASE_URL (SQLite is one process's database)",
    ),
]

WATER = "melitopol-water"
GAS = "melitopol-gas"
NEW_DOMAIN = "scale-out.water.example"


def _maintenance(url: str, statement: str) -> None:
    engine = create_sync_engine(make_url(url).set(database="postgres").render_as_string(False))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(statement))
    engine.dispose()


@pytest.fixture(scope="module")
def scale_out_database() -> Iterator[str]:
    """A migrated, seeded database of this test's own, dropped afterwards."""
    assert POSTGRES_URL
    given = make_url(POSTGRES_URL)
    name = f"{given.database}_scaleout"
    url = given.set(database=name).render_as_string(hide_password=False)
    _maintenance(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _maintenance(url, f'CREATE DATABASE "{name}"')
    try:
        upgrade(url)
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, seed(url)).result()
        yield url
    finally:
        _maintenance(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def two_processes(scale_out_database: str) -> Iterator[tuple[str, str]]:
    """Two `portal serve` processes with one secret key, checking for changes every second."""
    environment = {
        "PORTAL_SECRET_KEY": f"scale-out-{secrets.token_hex(16)}",
        "PORTAL_CONFIG_POLL_SECONDS": "1",
    }
    with (
        running_portal(scale_out_database, **environment) as first,
        running_portal(scale_out_database, **environment) as second,
    ):
        yield (
            f"http://127.0.0.1:{first.rsplit(':', 1)[1]}",
            f"http://127.0.0.1:{second.rsplit(':', 1)[1]}",
        )


class Process:
    """One process reached directly (no load balancer): the Host header names the tenant."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(
            base_url=base, headers={"Accept-Language": "en"}, follow_redirects=False, timeout=20
        )

    def get(self, host: str, path: str, cookies: dict[str, str] | None = None) -> httpx.Response:
        return self.http.get(path, headers={"Host": host, **_cookie_header(cookies)})

    def submit(
        self,
        host: str,
        form_path: str,
        data: dict[str, str],
        action: str | None = None,
        *,
        cookies: dict[str, str] | None = None,
    ) -> httpx.Response:
        """GET the form on this process and POST it back with its CSRF token."""
        jar = dict(cookies or {})
        page = self.get(host, form_path, jar)
        assert page.status_code == 200, (form_path, page.status_code)
        jar.update({name: value for name, value in page.cookies.items()})
        return self.http.post(
            action or form_path,
            data={"_csrf_token": csrf_token(page.text), **data},
            headers={"Host": host, **_cookie_header(jar)},
        )

    def close(self) -> None:
        self.http.close()


def _cookie_header(cookies: dict[str, str] | None) -> dict[str, str]:
    if not cookies:
        return {}
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


def _host(slug: str) -> str:
    return f"{slug}.localhost"


def test_two_processes_share_sessions_counters_and_published_configuration(
    two_processes: tuple[str, str], scale_out_database: str
) -> None:
    one, two = Process(two_processes[0]), Process(two_processes[1])
    try:
        # (a) A customer signs in through process 1; process 2 honours the cookie, and a
        # sign-out through process 2 ends it for process 1.
        email = f"scale-{secrets.token_hex(4)}@example.com"
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(
                asyncio.run,
                create_customer(
                    scale_out_database, WATER, {"email": email}, email=email, full_name="Петров"
                ),
            ).result()
        signed_in = one.submit(
            _host(WATER), "/sign-in", {"identifier": email, "password": DEMO_PASSWORD}
        )
        assert signed_in.status_code == 303, signed_in.text
        session = {"session": signed_in.cookies["session"]}
        assert two.get(_host(WATER), "/cabinet", session).status_code == 200
        assert two.get(_host(GAS), "/cabinet", session).status_code == 303  # another tenant
        signed_out = two.submit(_host(WATER), "/cabinet", {}, "/sign-out", cookies=session)
        assert signed_out.status_code == 303
        assert one.get(_host(WATER), "/cabinet", session).status_code == 303

        # (b) Three wrong staff passwords through process 1: process 2 refuses the right one.
        for _ in range(3):
            wrong = one.submit(
                _host(WATER),
                "/admin/sign-in",
                {"login": DEMO_STAFF_LOGIN, "password": "not the password 1"},
            )
            assert wrong.status_code == 400
        refused = two.submit(
            _host(WATER), "/admin/sign-in", {"login": DEMO_STAFF_LOGIN, "password": DEMO_PASSWORD}
        )
        assert refused.status_code == 429
        assert "Too many attempts" in refused.text

        # (c) A domain published through process 1 is served by process 2 within seconds.
        assert two.get(NEW_DOMAIN, "/sign-in").status_code == 404
        operator = one.submit(
            _host(GAS),
            "/admin/sign-in",
            {"login": DEMO_OPERATOR_LOGIN, "password": DEMO_PASSWORD},
        )
        assert operator.status_code == 303
        staff_session = {"session": operator.cookies["session"]}
        listing = one.get(_host(GAS), "/admin/platform", staff_session)
        assert listing.status_code == 200
        water_page = next(
            line.split('href="', 1)[1].split('"', 1)[0]
            for line in listing.text.splitlines()
            if f">{WATER}</a>" in line
        )
        published = one.submit(
            _host(GAS),
            water_page,
            {"domains": NEW_DOMAIN},
            f"{water_page}/domains",
            cookies=staff_session,
        )
        assert published.status_code == 303
        assert one.get(NEW_DOMAIN, "/sign-in").status_code == 200  # at once where it was made
        deadline = time.monotonic() + 10
        while (answer := two.get(NEW_DOMAIN, "/sign-in")).status_code != 200:
            assert time.monotonic() < deadline, "process 2 never served the new domain"
            time.sleep(0.2)
        assert "Vodokanal Melitopol" in answer.text
    finally:
        one.close()
        two.close()
