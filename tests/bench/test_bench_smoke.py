"""The load benchmark's harness runs end to end on a tiny database and reports every figure.

About a second per scenario: this checks that the harness works (seeding, servers, wrk,
the sign-in load, memory, page weight, the import, the report), never how fast anything is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bench import run
from bench.report import PARTIAL_BYTES

SCENARIOS = {"sign_in_page", "cabinet", "readings", "reading_check", "reading_submit", "charges"}
POSTGRES_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]


def _pg_server() -> str:
    # The same server as the test database, never the `test` database itself: bench_tiny.
    assert POSTGRES_URL
    return make_url(POSTGRES_URL).set(database="").render_as_string(hide_password=False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_scenario_gets_figures(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    argv = [
        "--db",
        backend,
        "--size",
        "tiny",
        "--seconds",
        # Two seconds, not one: on a busy CI machine a slow first request can take most
        # of a second, leaving a one-second window with nothing completed.
        "2",
        "--warmup",
        "0",
        "--memory-requests",
        "1",
        "--import-rows",
        "100",
        "--work-dir",
        str(tmp_path / "work"),
        "--results",
        str(results),
    ]
    if backend == "postgresql":
        argv += ["--pg-server", _pg_server()]
    cores = os.sched_getaffinity(0)

    assert run.main(argv) == 0

    assert os.sched_getaffinity(0) == cores, "the harness must give this process its cores back"
    [saved] = results.glob(f"*-{backend}-tiny.json")
    figures = json.loads(saved.read_text())
    assert figures["baseline"]["rps"] > 0
    assert set(figures["scenarios"]) == SCENARIOS
    for key, result in figures["scenarios"].items():
        assert result["requests"] > 0 and result["rps"] > 0, key
        assert 0 < result["p50_ms"] <= result["p99_ms"], key
        assert result["unexpected"] == 0 and result["errors"] == 0, (key, result)
        assert result["cpu_ms"] is not None, key
    loaded = figures["sign_in_load"]
    assert loaded["cabinet"]["requests"] > 0
    assert loaded["driver"]["signed_in"] > 0
    assert loaded["driver"]["signed_in"] == loaded["driver"]["attempted"], loaded["driver"]
    assert figures["memory"]["rss_mb"] > 0
    assert len(figures["weight"]) == 5 and all(size > 0 for size in figures["weight"].values())
    assert 0 < figures["weight"]["htmx check partial"] <= PARTIAL_BYTES
    imported = figures["import"]
    assert imported["status"] in ("ok", "skipped"), imported
    if imported["status"] == "ok":
        assert all(one["rows_per_s"] > 0 for one in imported["passes"])

    report = saved.with_suffix(".md").read_text(encoding="utf-8")
    budget = report.split("## Budget", 1)[1].split("```")[1].strip().splitlines()
    assert budget and all(line[:4] in ("PASS", "MISS", "SKIP") for line in budget)
    assert any("cabinet home rps vs baseline" in line for line in budget)
    printed = capsys.readouterr().out
    assert "Budget:" in printed and budget[0] in printed
