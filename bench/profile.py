"""Where one scenario's CPU goes: the portal in this process, one request after another.

    uv run python -m bench.profile --db sqlite --size demo --scenario cabinet
    uv run python -m bench.profile --scenario reading_check --pyinstrument var/bench/check.html
    uv run python -m bench.profile --scenario cabinet --cprofile var/bench/cabinet.prof

It signs in through a real `portal serve` (as bench.run does), stops it, then builds the
app here and sends the scenario's request straight to the ASGI app, with no network and no
load generator, so the CPU time per request is the app's own. Not a benchmark: nothing
here is compared with the budget; it shows what to fix.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench import scenarios
from bench.processes import Load, start_portal
from bench.seed_large import SIZES, prepare, target_for
from web.settings import PROJECT_ROOT, Settings

Call = Callable[[], Awaitable[int]]


def _asgi_call(app: Any, load: Load, port: int = 8000) -> Call:
    """One request of `load` to the ASGI app; returns the status."""
    path, _, query = load.path.partition("?")
    headers = [(k.lower().encode(), v.encode()) for k, v in load.headers.items()]
    body = (load.body or "").encode()
    if body:
        headers.append((b"content-length", str(len(body)).encode()))

    async def call() -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": load.method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", port),
        }
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    return call


async def _run(app: Any, load: Load, requests: int, profile: Callable[[Call, int], Any]) -> None:
    litestar = app.app
    async with litestar.lifespan():
        call = _asgi_call(app, load)
        for _ in range(50):  # warm caches and the connection pool
            status = await call()
        if status != load.expect:
            raise RuntimeError(f"{load.method} {load.path} answered {status}, not {load.expect}")
        started_cpu, started = time.process_time(), time.perf_counter()
        await profile(call, requests)
        cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
        print(
            f"{requests} × {load.method} {load.path}: {cpu * 1000 / requests:.3f} ms CPU, "
            f"{wall * 1000 / requests:.3f} ms wall per request"
        )


async def _plain(call: Call, requests: int) -> None:
    for _ in range(requests):
        await call()


def _collections(requests: int) -> Callable[[Call, int], Any]:
    """Runs the requests and prints the garbage collector's passes: how many, how long."""

    async def profile(call: Call, _requests: int) -> None:
        passes: dict[int, list[float]] = {0: [], 1: [], 2: []}
        started = 0.0

        def timed(phase: str, info: dict[str, int]) -> None:
            nonlocal started
            if phase == "start":
                started = time.perf_counter()
            else:
                passes[info["generation"]].append(time.perf_counter() - started)

        # As `portal serve` does before it answers its first request.
        gc.collect()
        gc.freeze()
        gc.callbacks.append(timed)
        try:
            await _plain(call, requests)
        finally:
            gc.callbacks.remove(timed)
        for generation, times in passes.items():
            total = sum(times) * 1000
            longest = max(times, default=0) * 1000
            print(
                f"generation {generation}: {len(times)} passes, {total:.1f} ms in all "
                f"({total / requests:.3f} ms per request), longest {longest:.2f} ms"
            )
        print(f"thresholds {gc.get_threshold()}, frozen {gc.get_freeze_count():,} objects")

    return profile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--size", choices=sorted(SIZES), default="demo")
    parser.add_argument("--scenario", default="cabinet")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--pyinstrument", type=Path, help="write an HTML profile here")
    parser.add_argument("--cprofile", type=Path, help="write a cProfile dump here")
    parser.add_argument(
        "--collections", action="store_true", help="time the garbage collector's passes"
    )
    args = parser.parse_args(argv)

    target = target_for(args.db, SIZES[args.size])
    prepare(target)
    server = start_portal(target.url, None, PROJECT_ROOT / "var/bench/logs/profile.log")
    try:
        load = scenarios.signed_in_load(server.base_url, target, args.scenario)
    finally:
        server.stop()

    os.environ.update(
        PORTAL_DATABASE_URL=target.url,
        PORTAL_DEMO="0",
        PORTAL_SECRET_KEY="bench-secret-key-not-for-production-0123456789",
        PORTAL_BASE_DOMAIN="localhost",
    )
    from web.app import create_app  # after the environment is set

    app = create_app(Settings.from_environment())
    profile: Callable[[Call, int], Any] = _plain
    if args.pyinstrument:
        from pyinstrument import Profiler

        async def profile(call: Call, requests: int) -> None:
            with Profiler(async_mode="disabled", interval=0.0002) as profiler:
                await _plain(call, requests)
            args.pyinstrument.write_text(profiler.output_html())
            print(profiler.output_text(unicode=True, color=False, show_all=False)[:12000])

    elif args.collections:
        profile = _collections(args.requests)
    elif args.cprofile:

        async def profile(call: Call, requests: int) -> None:
            with cProfile.Profile() as profiler:
                await _plain(call, requests)
            profiler.dump_stats(args.cprofile)

    asyncio.run(_run(app, load, args.requests, profile))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
