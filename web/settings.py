"""Settings in one typed object, read once from the PORTAL_* environment variables."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"PORTAL_DEMO_NOW needs a UTC offset: {value!r}")
    return moment


@dataclass(frozen=True)
class Settings:
    # Where data lives: a SQLite file under ./var/ by default, PostgreSQL in production.
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'portal.sqlite3'}"
    # Tenants answer on <slug>.<base_domain>; the bare base domain is the platform page.
    base_domain: str = "localhost"
    # Signs cookies and tokens; a random one per process is only fine for a demo.
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # Outgoing mail; without a host, mail and SMS wait in the outbox.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_tls: bool = False
    mail_from: str = "portal@localhost"
    # SMS go to this HTTP gateway as JSON {"to", "text"}; without it they wait in the outbox.
    sms_gateway_url: str | None = None
    # Shared sessions and rate-limit counters for many processes (optional; else the database).
    redis_url: str | None = None
    # Load demo tenants and customers on an empty database and expose /_dev pages.
    demo: bool = True
    # Demo mode only: the portal's clock starts at this moment (ISO 8601 with offset) and runs
    # on from there, to show a day such as a reading window's first (browser tests use it).
    demo_now: datetime | None = None
    # Load balancers whose X-Forwarded-For is believed (exact addresses); see web.auth.
    trusted_proxies: frozenset[str] = frozenset()
    # How often each process checks for a configuration published through another one.
    config_poll_seconds: float = 2.0

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            database_url=env.get("PORTAL_DATABASE_URL") or defaults.database_url,
            base_domain=(env.get("PORTAL_BASE_DOMAIN") or defaults.base_domain).lower(),
            secret_key=env.get("PORTAL_SECRET_KEY") or defaults.secret_key,
            smtp_host=env.get("PORTAL_SMTP_HOST") or None,
            smtp_port=int(env.get("PORTAL_SMTP_PORT") or defaults.smtp_port),
            smtp_username=env.get("PORTAL_SMTP_USERNAME") or None,
            smtp_password=env.get("PORTAL_SMTP_PASSWORD") or None,
            smtp_tls=_flag(env.get("PORTAL_SMTP_TLS"), False),
            mail_from=env.get("PORTAL_MAIL_FROM") or defaults.mail_from,
            sms_gateway_url=env.get("PORTAL_SMS_GATEWAY_URL") or None,
            redis_url=env.get("PORTAL_REDIS_URL") or None,
            demo=_flag(env.get("PORTAL_DEMO"), True),
            demo_now=_moment(env.get("PORTAL_DEMO_NOW")),
            trusted_proxies=frozenset(
                part.strip()
                for part in (env.get("PORTAL_TRUSTED_PROXIES") or "").split(",")
                if part.strip()
            ),
            config_poll_seconds=float(
                env.get("PORTAL_CONFIG_POLL_SECONDS") or defaults.config_poll_seconds
            ),
        )

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
