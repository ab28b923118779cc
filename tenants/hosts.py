"""Which tenant a request's Host header names: `<slug>.<base domain>` or a custom domain."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tenants.schema import TenantConfig


def normalize_host(host: str) -> str:
    """Lower-case, without port, without a trailing dot; "" for anything unusable."""
    host = host.strip().lower()
    if host.startswith("["):  # an IPv6 literal: "[::1]:8000"
        return host.split("]", 1)[0] + "]"
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return host.rstrip(".")


@dataclass(frozen=True)
class HostMap:
    """An immutable map from host names to tenant configurations for one base domain."""

    base_domain: str
    by_host: dict[str, TenantConfig]

    @classmethod
    def build(cls, configs: Iterable[TenantConfig], base_domain: str) -> HostMap:
        base = normalize_host(base_domain)
        by_host: dict[str, TenantConfig] = {}
        for config in configs:
            for host in config.hostnames(base):
                by_host[normalize_host(host)] = config
        return cls(base_domain=base, by_host=by_host)

    def tenant_for(self, host: str) -> TenantConfig | None:
        return self.by_host.get(normalize_host(host))

    def is_platform(self, host: str) -> bool:
        return normalize_host(host) == self.base_domain

    def tenants(self) -> list[TenantConfig]:
        unique = {config.slug: config for config in self.by_host.values()}
        return [unique[slug] for slug in sorted(unique)]
