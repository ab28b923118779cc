"""The report of a run: figures per scenario, ratios to the baseline, and the budget verdicts.

The budget (issue 8), one line each, PASS or MISS (SKIP when the run could not measure it):
cabinet home ≥ 0.5 × baseline rps; htmx partials ≥ 0.7 ×; p99 ≤ 25 ms at 8 connections
for every read scenario; the large database at most 1.3 × slower than the demo one on any
scenario; with 10 sign-ins per second running, the cabinet home's p99 within 2 × its idle
p99; resident memory per worker ≤ 150 MB after 50,000 requests; first load of every page
≤ 30 KB compressed (htmx partials ≤ 5 KB); billing-API import ≥ 20,000 rows per second
on PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CABINET_SHARE = 0.5
PARTIAL_SHARE = 0.7
READ_P99_MS = 25.0
LARGE_SLOWDOWN = 1.3
SIGN_IN_P99_FACTOR = 2.0
RSS_MB = 150.0
MEMORY_AFTER_REQUESTS = 50_000
FIRST_LOAD_BYTES = 30 * 1024
PARTIAL_BYTES = 5 * 1024
IMPORT_ROWS_PER_S = 20_000
BUDGET_CONNECTIONS = 8


@dataclass(frozen=True)
class Verdict:
    figure: str
    limit: str
    value: str
    verdict: str  # PASS | MISS | SKIP

    def line(self) -> str:
        return f"{self.verdict:4}  {self.figure:58} {self.value:>16}  (budget {self.limit})"


def _check(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _valid(result: dict[str, Any]) -> bool:
    return result["requests"] > 0 and not result["unexpected"] and not result["errors"]


def budget(run: dict[str, Any], demo: dict[str, Any] | None) -> list[Verdict]:
    """Every budget line this run can judge; `demo` is the demo run to compare a large one with."""
    verdicts: list[Verdict] = []
    baseline = run["baseline"]["rps"]
    scenarios = run["scenarios"]
    for key, share, label in (
        ("cabinet", CABINET_SHARE, "cabinet home rps vs baseline"),
        ("reading_check", PARTIAL_SHARE, "htmx check partial rps vs baseline"),
    ):
        if key in scenarios:
            ratio = scenarios[key]["rps"] / baseline if baseline else 0.0
            ok = ratio >= share and _valid(scenarios[key])
            verdicts.append(Verdict(label, f"≥ {share:.1f}×", f"{ratio:.2f}×", _check(ok)))
    at_budget = run["settings"]["connections"] == BUDGET_CONNECTIONS
    for result in scenarios.values():
        if result["kind"] in ("read", "partial"):
            verdicts.append(
                Verdict(
                    f"p99 of {result['title']} at {run['settings']['connections']} connections",
                    f"≤ {READ_P99_MS:.0f} ms",
                    f"{result['p99_ms']:.1f} ms",
                    _check(result["p99_ms"] <= READ_P99_MS) if at_budget else "SKIP",
                )
            )
    if run["size"]["name"] != "demo":
        for key, result in scenarios.items():
            figure = f"{result['title']}: demo rps / {run['size']['name']} rps"
            if demo is None or key not in demo["scenarios"] or not result["rps"]:
                verdicts.append(Verdict(figure, f"≤ {LARGE_SLOWDOWN}×", "no demo run", "SKIP"))
                continue
            slowdown = demo["scenarios"][key]["rps"] / result["rps"]
            verdicts.append(
                Verdict(
                    figure,
                    f"≤ {LARGE_SLOWDOWN}×",
                    f"{slowdown:.2f}×",
                    _check(slowdown <= LARGE_SLOWDOWN),
                )
            )
    loaded = run.get("sign_in_load")
    if loaded:
        idle, busy = loaded["idle_p99_ms"], loaded["cabinet"]["p99_ms"]
        rate_met = loaded["driver"]["attempted_per_s"] >= 0.95 * loaded["rate"]
        verdicts.append(
            Verdict(
                f"cabinet p99 with {loaded['rate']:g} sign-ins/s vs idle ({idle:.1f} ms)",
                f"≤ {SIGN_IN_P99_FACTOR:.0f}×",
                f"{busy / idle:.2f}×" if idle else "n/a",
                _check(bool(idle) and busy <= SIGN_IN_P99_FACTOR * idle and rate_met),
            )
        )
    memory = run.get("memory")
    if memory:
        enough = memory["requests"] >= MEMORY_AFTER_REQUESTS
        verdicts.append(
            Verdict(
                f"resident memory after {memory['requests']:,} requests",
                f"≤ {RSS_MB:.0f} MB",
                f"{memory['rss_mb']:.1f} MB",
                _check(memory["rss_mb"] <= RSS_MB) if enough else "SKIP",
            )
        )
    for page, size in run.get("weight", {}).items():
        limit = PARTIAL_BYTES if "partial" in page else FIRST_LOAD_BYTES
        verdicts.append(
            Verdict(
                f"first load of {page}" if "partial" not in page else page,
                f"≤ {limit // 1024} KB",
                f"{size / 1024:.1f} KB",
                _check(size <= limit),
            )
        )
    imported = run.get("import", {})
    figure = "billing-API import of charges (PostgreSQL)"
    if imported.get("status") != "ok":
        verdicts.append(
            Verdict(
                figure, f"≥ {IMPORT_ROWS_PER_S:,} rows/s", imported.get("status", "not run"), "SKIP"
            )
        )
    else:
        slowest = min(p["rows_per_s"] for p in imported["passes"])
        judged = run["db"] == "postgresql"
        verdicts.append(
            Verdict(
                figure if judged else "billing-API import of charges (SQLite, not budgeted)",
                f"≥ {IMPORT_ROWS_PER_S:,} rows/s",
                f"{slowest:,} rows/s",
                _check(slowest >= IMPORT_ROWS_PER_S) if judged else "SKIP",
            )
        )
    return verdicts


def budget_table(verdicts: list[Verdict]) -> str:
    return "\n".join(verdict.line() for verdict in verdicts)


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _row(title: str, result: dict[str, Any], baseline: dict[str, Any]) -> str:
    ratio = result["rps"] / baseline["rps"] if baseline["rps"] else 0
    cpu, base_cpu = result.get("cpu_ms"), baseline.get("cpu_ms")
    by_cpu = f"{base_cpu / cpu:.2f}" if cpu and base_cpu else "–"
    cells = [
        title,
        f"{result['rps']:.0f}",
        f"{ratio:.2f}",
        *(_ms(result[key]) for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms")),
        "–" if cpu is None else f"{cpu:.2f}",
        by_cpu,
        "–" if result.get("db_cpu_ms") is None else f"{result['db_cpu_ms']:.2f}",
        f"{result['requests']:,}",
        str(result["errors"] + result["unexpected"]),
    ]
    return "| " + " | ".join(cells) + " |"


def markdown(run: dict[str, Any], verdicts: list[Verdict], demo_source: str | None) -> str:
    size, settings, machine = run["size"], run["settings"], run["machine"]
    baseline = run["baseline"]
    lines = [
        f"# Benchmark: {run['db']}, {size['name']} ({run['date']})",
        "",
        f"- Command: `{run['command']}`",
        f"- Code: {run['commit']}",
        f"- Database: {size['tenants']} benchmark tenant(s) × {size['accounts']:,} accounts, "
        f"2 meters each, {size['months']} months of readings, charges and payments, beside the "
        f"six presets' demo data; seeded {run['seed'].get('seeded_on', '?')} "
        f"in {run['seed'].get('seconds', '?')} s. Scenario tenant `{run['tenant']}`.",
        f"- Machine: {machine['cpu']}, {machine['cores']} cores; server pinned to core "
        f"{settings['server_core']}, wrk and this harness to core {settings['load_core']}. "
        f"Load average {machine['load_before']} before, {machine['load_after']} after.",
        f"- wrk: 1 thread, {settings['connections']} connections, {settings['seconds']} s per "
        f"scenario after {settings['warmup']} s of warm-up; every request sends "
        "`Accept-Encoding: gzip`.",
        f"- Password hashing profile: {run['seed'].get('password_profile', '?')}.",
        "",
        "## Scenarios",
        "",
        "| scenario | rps | × baseline | p50 ms | p90 ms | p99 ms | max ms | server CPU ms/req "
        "| × baseline by CPU | PostgreSQL CPU ms/req | requests | bad |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        _row("baseline (Fortunes)", baseline, baseline),
        *[_row(result["title"], result, baseline) for result in run["scenarios"].values()],
    ]
    loaded = run.get("sign_in_load")
    if loaded:
        driver, cabinet = loaded["driver"], loaded["cabinet"]
        lines += [
            "",
            f"## Cabinet home while {loaded['rate']:g} sign-ins per second run",
            "",
            f"Cabinet: {cabinet['rps']:.0f} rps, p50 {_ms(cabinet['p50_ms'])} ms, "
            f"p99 {_ms(cabinet['p99_ms'])} ms (idle p99 {_ms(loaded['idle_p99_ms'])} ms). "
            f"Sign-ins: {driver['attempted']} attempted ({driver['attempted_per_s']}/s), "
            f"{driver['signed_in']} signed in, statuses {driver['statuses']}, "
            f"p50 {_ms(driver['p50_ms'])} ms, p99 {_ms(driver['p99_ms'])} ms. "
            f"{loaded['customers']} different customers, each attempt from its own "
            "X-Forwarded-For address.",
        ]
    memory = run.get("memory")
    if memory:
        lines += [
            "",
            "## Memory",
            "",
            f"Resident memory of the worker: {memory['rss_start_mb']:.1f} MB after start-up and "
            f"sign-in, {memory['rss_mb']:.1f} MB after {memory['requests']:,} requests "
            f"(peak {memory.get('peak_mb', 0):.1f} MB).",
        ]
    imported = run.get("import")
    if imported:
        lines += ["", "## Billing-API import", ""]
        if imported.get("status") == "ok":
            for one in imported["passes"]:
                lines.append(
                    f"- {one['pass']} pass: {one['rows']:,} rows in batches of "
                    f"{imported['batch']:,}, {one['seconds']} s, **{one['rows_per_s']:,} rows/s**"
                )
        else:
            lines.append(f"{imported.get('status')}: {imported.get('note', '')}")
    lines += ["", "## Budget", ""]
    if demo_source:
        lines.append(f"Compared with the demo run in `{demo_source}`.")
        lines.append("")
    lines += ["```", budget_table(verdicts), "```", ""]
    if run.get("notes"):
        lines += ["## Notes", "", *[f"- {note}" for note in run["notes"]], ""]
    return "\n".join(lines)


def write(
    run: dict[str, Any], verdicts: list[Verdict], directory: Path, demo_source: str | None
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{run['date']}-{run['db']}-{run['size']['name']}"
    (directory / f"{stem}.json").write_text(json.dumps(run, indent=1, ensure_ascii=False) + "\n")
    path = directory / f"{stem}.md"
    path.write_text(markdown(run, verdicts, demo_source), encoding="utf-8")
    return path


def latest_demo(directory: Path, db: str) -> tuple[dict[str, Any], str] | None:
    """The newest saved demo run on this database, to compare a larger one with."""
    found = sorted(directory.glob(f"*-{db}-demo.json"))
    if not found:
        return None
    return json.loads(found[-1].read_text()), str(found[-1])
