"""The operations interface: the portal command, readiness, one log line per request."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import tenant_url
from web.settings import Settings


async def test_one_structured_log_line_per_request_with_the_tenant(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="portal.access"):
        await client.get(tenant_url("beijing-unicom", "/contact?lang=en"))
        await client.get("http://unknown.localhost/")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "portal.access"]
    assert len(lines) == 2
    assert lines[0]["tenant"] == "beijing-unicom" and lines[0]["status"] == 200
    assert lines[0]["path"] == "/contact" and lines[0]["locale"] == "en"
    assert lines[1]["tenant"] is None and lines[1]["status"] == 404
    assert all(isinstance(line["ms"], float) for line in lines)


async def test_readiness_fails_when_migrations_are_missing(tmp_path: Path) -> None:
    from web.app import create_app

    empty = Settings(database_url=f"sqlite:///{tmp_path / 'empty.sqlite3'}", demo=True)
    app = create_app(empty)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost"
    ) as http:
        response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.json()["status"] == "migrations pending"
        assert (await http.get("/healthz")).status_code == 200
    await app.portal.database.dispose()  # type: ignore[attr-defined]


def test_settings_come_from_portal_variables() -> None:
    settings = Settings.from_environment(
        {
            "PORTAL_DATABASE_URL": "postgresql://db/portal",
            "PORTAL_BASE_DOMAIN": "Portal.Example",
            "PORTAL_SMTP_HOST": "mail",
            "PORTAL_SMTP_PORT": "2525",
            "PORTAL_SMTP_TLS": "yes",
            "PORTAL_DEMO": "0",
            "PORTAL_SECRET_KEY": "k",
            "PORTAL_MAIL_FROM": "noreply@portal.example",
        }
    )
    assert settings.database_url == "postgresql://db/portal"
    assert settings.base_domain == "portal.example"
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls) == ("mail", 2525, True)
    assert settings.demo is False and settings.secret_key == "k"
    defaults = Settings.from_environment({})
    assert defaults.database_url.startswith("sqlite:///") and defaults.database_url.endswith(
        "var/portal.sqlite3"
    )
    assert defaults.base_domain == "localhost" and defaults.smtp_host is None


def test_a_broken_preset_stops_start_up_naming_file_field_and_reason(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(
        Path.cwd(), project, ignore=shutil.ignore_patterns(".venv", "var", ".git", "*.pyc")
    )
    preset = project / "tenants" / "presets" / "melitopol-gas.toml"
    preset.write_text(
        preset.read_text(encoding="utf-8").replace('currency = "UAH"', "currency = 980"),
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "web.cli", "serve", "--port", "1"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"},
    )
    assert result.returncode == 2
    assert "melitopol-gas.toml" in result.stderr
    assert "currency: Input should be a valid string" in result.stderr
    assert not (tmp_path / "x.db").exists(), "nothing is created before the presets are valid"
