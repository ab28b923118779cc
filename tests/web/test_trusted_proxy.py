"""Client addresses behind a load balancer: X-Forwarded-For counts only from trusted proxies."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Request

from web.app import create_app
from web.auth import client_address
from web.settings import Settings

PROXY = "10.0.0.1"
OTHER_PROXY = "10.0.0.2"


def request_from(peer: str, *forwarded: str) -> Request[Any, Any, Any]:
    settings = Settings(
        database_url="sqlite:///:memory:", trusted_proxies=frozenset({PROXY, OTHER_PROXY})
    )
    app = create_app(settings).app
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    scope: Any = {
        "type": "http",
        "app": app,
        "litestar_app": app,
        "client": (peer, 40000),
        "headers": headers,
        "method": "GET",
        "path": "/",
        "query_string": b"",
    }
    return Request(scope)


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # Not a trusted proxy: whatever it claims is ignored.
        ("198.51.100.7", ["203.0.113.5"], "198.51.100.7"),
        # A trusted proxy: the address it saw.
        (PROXY, ["203.0.113.5"], "203.0.113.5"),
        # A client cannot hide behind a made-up first hop: the nearest untrusted one counts.
        (PROXY, ["1.2.3.4, 203.0.113.5"], "203.0.113.5"),
        # Two trusted proxies in a row are both skipped.
        (PROXY, ["203.0.113.5, 10.0.0.2"], "203.0.113.5"),
        # Several headers read as one list.
        (PROXY, ["1.2.3.4", "203.0.113.9"], "203.0.113.9"),
        # A trusted proxy that forwards nothing is the client itself.
        (PROXY, [], PROXY),
    ],
)
def test_the_counted_address(peer: str, forwarded: list[str], expected: str) -> None:
    assert client_address(request_from(peer, *forwarded)) == expected


def test_the_setting_is_read_from_the_environment() -> None:
    settings = Settings.from_environment({"PORTAL_TRUSTED_PROXIES": " 10.0.0.1, 10.0.0.2 ,"})
    assert settings.trusted_proxies == frozenset({"10.0.0.1", "10.0.0.2"})
    assert Settings.from_environment({}).trusted_proxies == frozenset()
