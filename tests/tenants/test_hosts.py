"""Host → tenant: slug subdomains and custom domains, never a default tenant."""

from __future__ import annotations

import pytest

from tenants.hosts import HostMap, normalize_host
from tenants.loader import load_presets

CONFIGS = load_presets()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Wujiang-Water.LOCALHOST:8000", "wujiang-water.localhost"),
        ("portal.example.org.", "portal.example.org"),
        ("[::1]:8000", "[::1]"),
        ("  example.org  ", "example.org"),
        ("", ""),
    ],
)
def test_normalize_host(raw: str, expected: str) -> None:
    assert normalize_host(raw) == expected


def test_slug_subdomains_of_the_base_domain() -> None:
    hosts = HostMap.build(CONFIGS, "Utilities.Example")
    tenant = hosts.tenant_for("kz-vodokanal.utilities.example:443")
    assert tenant is not None and tenant.slug == "kz-vodokanal"
    assert hosts.tenant_for("kz-vodokanal.localhost") is None
    assert hosts.is_platform("UTILITIES.example")
    assert not hosts.is_platform("kz-vodokanal.utilities.example")


def test_custom_domains_from_configuration() -> None:
    custom = CONFIGS[0].model_copy(update={"domains": ["water.example.cn"]})
    hosts = HostMap.build([custom, *CONFIGS[1:]], "localhost")
    tenant = hosts.tenant_for("WATER.example.cn:8443")
    assert tenant is not None and tenant.slug == custom.slug


@pytest.mark.parametrize(
    "host",
    [
        "",
        "localhost.",
        "x.localhost",
        "wujiang-water.localhost.evil.com",
        "evil.com",
        "wujiang-water",
        "wujiang-water.localhost:abc:1",
        "\x00",
    ],
)
def test_unknown_hosts_get_no_tenant(host: str) -> None:
    hosts = HostMap.build(CONFIGS, "localhost")
    assert hosts.tenant_for(host) is None


def test_tenants_are_listed_once_in_slug_order() -> None:
    hosts = HostMap.build(CONFIGS, "localhost")
    assert [c.slug for c in hosts.tenants()] == sorted(c.slug for c in CONFIGS)
