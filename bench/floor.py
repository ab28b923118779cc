"""The floor under the budget's throughput lines: what Litestar alone costs for our pages.

    uv run python -m bench.floor

The budget asks the cabinet home for half the Fortunes baseline's requests per second and
the htmx check for 0.7 of it. This serves the portal's own answers (the cabinet home's
HTML and the check's partial, fetched from the portal on the SQLite demo database) as
fixed strings from a bare Litestar app, once without middleware and once with the
portal's CSRF and gzip settings, pinned and loaded exactly as `bench.run` loads the
portal, beside the baseline. There is no database, no session, no template: whatever the
real page does on top costs more, so a floor below the budget's ratio means the line cannot
be met with this stack. Results go to `bench/results/<date>-floor.md`.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, MediaType, get, post
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig

from bench import scenarios
from bench.processes import (
    Load,
    Server,
    free_port,
    pinned,
    run_wrk,
    start_baseline,
    start_portal,
    start_server,
)
from bench.seed_large import SIZES, prepare, target_for
from web.settings import PROJECT_ROOT

SECRET = "bench-floor-secret-0123456789abcdef"
PAGES = PROJECT_ROOT / "var" / "bench" / "floor"
GZIP = {"Accept-Encoding": "gzip"}


def create_app(middleware: bool, pages: Path = PAGES) -> Litestar:
    """The two answers as fixed strings; with `middleware`, the portal's CSRF and gzip
    settings (web/app.py) around them."""
    cabinet = (pages / "cabinet.html").read_text()
    partial = (pages / "partial.html").read_text()

    @get("/cabinet", media_type=MediaType.HTML)
    async def cabinet_page() -> str:
        return cabinet

    @post("/check", media_type=MediaType.HTML, status_code=200)
    async def check_partial() -> str:
        return partial

    settings: dict[str, Any] = {}
    if middleware:
        settings["csrf_config"] = CSRFConfig(
            secret=SECRET, cookie_name="csrftoken", cookie_httponly=True, header_name="x-csrftoken"
        )
        settings["compression_config"] = CompressionConfig(
            backend="gzip", minimum_size=500, gzip_compress_level=6
        )
    return Litestar(
        route_handlers=[cabinet_page, check_partial], debug=False, logging_config=None, **settings
    )


def _fetch_pages(work_dir: Path) -> None:
    """The cabinet home and the check's partial, as the portal answers the benchmark customer."""
    target = target_for("sqlite", SIZES["demo"])
    prepare(target)
    portal = start_portal(target.url, None, work_dir / "logs" / "floor-portal.log")
    try:
        loads = {
            key: scenarios.signed_in_load(portal.base_url, target, key)
            for key in ("cabinet", "reading_check")
        }
        PAGES.mkdir(parents=True, exist_ok=True)
        for key, name in (("cabinet", "cabinet.html"), ("reading_check", "partial.html")):
            load = loads[key]
            answer = httpx.request(
                load.method, portal.base_url + load.path, headers=load.headers, content=load.body
            )
            answer.raise_for_status()
            (PAGES / name).write_text(answer.text)
    finally:
        portal.stop()


def _start_floor(middleware: bool, core: int, log: Path) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "bench.floor", "--serve", str(port)]
    if middleware:
        command.append("--middleware")
    server = start_server("floor", pinned(core, command), dict(os.environ), log, port)
    server.wait_ready("/cabinet")
    return server


def _loads(server: Server) -> dict[str, Load]:
    """GET of the page and POST of the partial, with a CSRF cookie (and header) as the
    signed-in customer sends them: without one, every answer would set a new cookie."""
    token = httpx.get(server.base_url + "/cabinet").cookies.get("csrftoken") or ""
    cookie = {"Cookie": f"csrftoken={token}"} if token else {}
    form = {"Content-Type": "application/x-www-form-urlencoded", "x-csrftoken": token}
    return {
        "cabinet": Load("GET", "/cabinet", {**GZIP, **cookie}),
        "partial": Load("POST", "/check", {**GZIP, **cookie, **form, "hx-request": "true"}, "v=1"),
    }


def _measure(server: Server, load: Load, args: argparse.Namespace) -> tuple[float, float]:
    """Requests per second and the server's CPU milliseconds per request."""
    server.wait_idle()
    run_wrk(server.base_url, load, seconds=args.warmup, connections=8, core=args.load_core)
    before = server.cpu_seconds()
    measured = run_wrk(
        server.base_url, load, seconds=args.seconds, connections=8, core=args.load_core
    )
    if measured.errors or measured.unexpected:
        raise RuntimeError(f"{load.method} {load.path}: bad answers ({measured})")
    cpu_ms = (server.cpu_seconds() - before) * 1000 / max(1, measured.requests)
    return measured.rps, cpu_ms


def run(args: argparse.Namespace) -> str:
    logs = args.work_dir / "logs"
    _fetch_pages(args.work_dir)
    baseline = start_baseline(
        args.server_core, logs / "baseline.log", args.work_dir / "fortunes.sqlite3"
    )
    try:
        base_rps, base_cpu = _measure(baseline, Load("GET", "/fortunes", GZIP), args)
    finally:
        baseline.stop()
    lines = [
        "| answer | Litestar | rps | × baseline | server CPU ms/req | × baseline by CPU |",
        "|---|---|---:|---:|---:|---:|",
        f"| Fortunes baseline | – | {base_rps:.0f} | 1.00 | {base_cpu:.3f} | 1.00 |",
    ]
    for middleware in (False, True):
        server = _start_floor(middleware, args.server_core, logs / "floor.log")
        try:
            for key, load in _loads(server).items():
                rps, cpu = _measure(server, load, args)
                lines.append(
                    f"| {key} as a fixed string | {'CSRF + gzip' if middleware else 'bare'} "
                    f"| {rps:.0f} | {rps / base_rps:.2f} | {cpu:.3f} | {base_cpu / cpu:.2f} |"
                )
        finally:
            server.stop()
    sizes = {name: len((PAGES / name).read_bytes()) for name in ("cabinet.html", "partial.html")}
    return "\n".join(
        [
            f"# The floor under the throughput lines ({datetime.now(UTC).date().isoformat()})",
            "",
            "- Command: `uv run python -m bench.floor`",
            f"- Answers: the cabinet home ({sizes['cabinet.html']:,} bytes of HTML) and the "
            f"htmx check's partial ({sizes['partial.html']:,} bytes: the scenario's value "
            "passes, so the answer carries no message), fetched from the portal on the SQLite "
            "demo database and served as fixed strings.",
            f"- Server on core {args.server_core}, wrk on core {args.load_core}: 1 thread, "
            f"8 connections, {args.warmup} s warm-up, {args.seconds} s measured, gzip accepted.",
            "- Budget: the cabinet home ≥ 0.5 × the baseline, htmx partials ≥ 0.7 ×.",
            "",
            *lines,
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--load-core", type=int, default=1)
    parser.add_argument("--work-dir", type=Path, default=PROJECT_ROOT / "var" / "bench")
    parser.add_argument("--results", type=Path, default=PROJECT_ROOT / "bench" / "results")
    # Internal: how the measured server is started.
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--middleware", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        import uvicorn

        uvicorn.run(
            create_app(args.middleware),
            host="127.0.0.1",
            port=args.serve,
            access_log=False,
            log_level="warning",
            server_header=False,
        )
        return 0
    report = run(args)
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / f"{datetime.now(UTC).date().isoformat()}-floor.md"
    path.write_text(report)
    print(report)
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
