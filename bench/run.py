"""The one command: seed (or reuse) a database, then measure the baseline and the portal.

    uv run python -m bench.run --db sqlite --size demo
    uv run python -m bench.run --db all --size all      # SQLite and PostgreSQL, demo and large

For each database and size: the Fortunes baseline, then `portal serve` (one worker, no demo
mode) under wrk on six scenarios, the cabinet home while 10 sign-ins per second run, the
worker's memory after 50,000 requests, the first-load weight of the pages, and the
billing-API import. Writes bench/results/<date>-<db>-<size>.md (and .json) and prints the
budget table, PASS or MISS per line.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import billing_import, report, scenarios
from bench.processes import (
    Load,
    Server,
    pin_this_process,
    pinned,
    postgres_cpu_seconds,
    run_wrk,
    start_baseline,
    start_portal,
)
from bench.seed_large import (
    BENCH_DIR,
    CHURNED_TABLES,
    DEFAULT_PG_SERVER,
    SIZES,
    Size,
    Target,
    custom_size,
    login_of,
    prepare,
    scenario_account_index,
    scenario_tenant,
    target_for,
    vacuum,
)
from domain.demo import DEMO_PASSWORD
from web.settings import PROJECT_ROOT

RESULTS = Path(__file__).resolve().parent / "results"
# How many different customers the sign-in load cycles through.
SIGN_IN_CUSTOMERS = 250
# The memory phase runs each read scenario this long in turn.
MEMORY_SLICE_SECONDS = 5


def _say(text: str) -> None:
    print(text, flush=True)


def _machine() -> dict[str, Any]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {"cpu": cpu, "cores": os.cpu_count(), "load_before": _load()}


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" with uncommitted changes" if git("status", "--porcelain") else "")


class Run:
    """One database and size: its settings, the measurements so far, the servers it started."""

    def __init__(self, args: argparse.Namespace, target: Target) -> None:
        self.args = args
        self.target = target
        self.logs = args.work_dir / "logs"
        self.result: dict[str, Any] = {
            "date": datetime.now(UTC).date().isoformat(),
            "db": target.backend,
            "size": {
                "name": target.size.name,
                "tenants": target.size.tenants,
                "accounts": target.size.accounts,
                "months": target.size.months,
            },
            "command": "uv run python -m bench.run " + shlex.join(args.argv),
            "commit": _commit(),
            "machine": _machine(),
            "settings": {
                "connections": args.connections,
                "seconds": args.seconds,
                "warmup": args.warmup,
                "server_core": args.server_core,
                "load_core": args.load_core,
            },
            "scenarios": {},
            "notes": [],
        }

    def wrk(self, server: Server, load: Load, seconds: float | None = None) -> dict[str, Any]:
        server.wait_idle()
        if self.args.warmup:
            run_wrk(
                server.base_url,
                load,
                seconds=self.args.warmup,
                connections=self.args.connections,
                core=self.args.load_core,
            )
        cpu_before, db_before = server.cpu_seconds(), self._db_cpu()
        measured = run_wrk(
            server.base_url,
            load,
            seconds=seconds or self.args.seconds,
            connections=self.args.connections,
            core=self.args.load_core,
        ).as_dict()
        # The server's own CPU time per request: much steadier than requests per second
        # when other work shares the machine.
        cpu, db = server.cpu_seconds() - cpu_before, self._db_cpu() - db_before
        requests = measured["requests"] or 1
        measured["cpu_ms"] = round(cpu * 1000 / requests, 3)
        if self.target.backend == "postgresql" and server.name == "portal":
            # A backend that exits meanwhile takes its CPU time with it: no figure then.
            measured["db_cpu_ms"] = round(db * 1000 / requests, 3) if db >= 0 else None
        return measured

    def _db_cpu(self) -> float:
        if self.target.backend != "postgresql":
            return 0.0
        return postgres_cpu_seconds(self.target.database_name)

    def baseline(self) -> None:
        server = start_baseline(
            self.args.server_core,
            self.logs / "baseline.log",
            self.args.work_dir / "fortunes.sqlite3",
        )
        try:
            load = Load("GET", "/fortunes", {"Accept-Encoding": "gzip"})
            self.result["baseline"] = self.wrk(server, load)
        finally:
            server.stop()
        _say(f"  baseline (Fortunes): {self.result['baseline']['rps']:.0f} rps")

    def portal(self) -> None:
        vacuum(self.target, _say, CHURNED_TABLES)
        name = f"portal-{self.target.backend}-{self.target.size.name}.log"
        server = start_portal(self.target.url, self.args.server_core, self.logs / name)
        try:
            self._measure_portal(server)
        finally:
            server.stop()

    def _measure_portal(self, server: Server) -> None:
        size = self.target.size
        host = f"{scenario_tenant(size)}.localhost"
        self.result["tenant"] = host.split(".")[0]
        customer = scenarios.sign_in(
            server.base_url,
            host,
            login_of(scenario_account_index(size)),
            DEMO_PASSWORD,
            self.target.url,
        )
        scenarios.check_and_submit(server.base_url, customer)
        rss_start = server.rss_mb()
        loads = scenarios.scenarios(customer)
        partial = next(s for s in loads if s.kind == "partial")
        self.result["weight"] = scenarios.weights(server.base_url, customer, partial)
        loads = [s for s in loads if self._wanted(s.key)]
        served = 0
        for scenario in loads:
            measured = self.wrk(server, scenario.load)
            measured.update(title=scenario.title, kind=scenario.kind)
            self.result["scenarios"][scenario.key] = measured
            served += measured["requests"]
            bad = measured["errors"] + measured["unexpected"]
            _say(
                f"  {scenario.title}: {measured['rps']:.0f} rps, p50 {measured['p50_ms']:.1f} ms, "
                f"p99 {measured['p99_ms']:.1f} ms" + (f", {bad} bad answers" if bad else "")
            )
            if measured["unexpected"]:
                self.result["notes"].append(
                    f"{scenario.title}: {measured['unexpected']} answers were not "
                    f"{scenario.load.expect} (first: {measured['first_unexpected_status']})"
                )
        cabinet = next((s for s in loads if s.key == "cabinet"), None)
        if cabinet is not None and self._wanted("sign_ins"):
            served += self._sign_in_load(server, cabinet.load, customer.host)
        reads = [s.load for s in loads if s.kind in ("read", "partial")]
        if reads and self._wanted("memory"):
            served += self._memory(server, reads, served, rss_start)
        if self._wanted("import"):
            self._import(server, customer.host)

    def _wanted(self, key: str) -> bool:
        return not self.args.only or key in self.args.only.split(",")

    def _sign_in_load(self, server: Server, cabinet: Load, host: str) -> int:
        size = self.target.size
        mine = scenario_account_index(size)
        count = min(SIGN_IN_CUSTOMERS, size.accounts - 1)
        logins = [login_of(i) for i in range(size.accounts) if i != mine][:count]
        lead = 2.0
        driver = subprocess.Popen(
            pinned(
                self.args.load_core,
                [
                    sys.executable,
                    "-m",
                    "bench.signins",
                    "--base-url",
                    server.base_url,
                    "--host",
                    host,
                    "--logins",
                    ",".join(logins),
                    "--password",
                    DEMO_PASSWORD,
                    "--rate",
                    str(self.args.sign_in_rate),
                    "--seconds",
                    str(self.args.seconds + lead + 1),
                ],
            ),
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(lead)
        measured = run_wrk(
            server.base_url,
            cabinet,
            seconds=self.args.seconds,
            connections=self.args.connections,
            core=self.args.load_core,
        ).as_dict()
        output, _ = driver.communicate(timeout=120)
        summary = json.loads(output.strip().splitlines()[-1])
        # Sign-ins the server has not finished yet must not weigh on what comes next.
        summary["drained_after_s"] = round(server.wait_idle(), 1)
        self.result["sign_in_load"] = {
            "rate": self.args.sign_in_rate,
            "customers": len(logins),
            "idle_p99_ms": self.result["scenarios"]["cabinet"]["p99_ms"],
            "cabinet": measured,
            "driver": summary,
        }
        idle = self.result["scenarios"]["cabinet"]["p99_ms"]
        _say(
            f"  cabinet with {self.args.sign_in_rate:g} sign-ins/s: "
            f"p99 {measured['p99_ms']:.1f} ms (idle {idle:.1f} ms); sign-ins "
            f"{summary['signed_in']}/{summary['attempted']}, p99 {summary['p99_ms']} ms"
        )
        return int(measured["requests"]) + int(summary["attempted"])

    def _memory(self, server: Server, loads: list[Load], served: int, rss_start: float) -> int:
        """The read scenarios in turn, a few seconds each, until the worker has served the
        asked number of requests (or the time allowed is up); then its resident memory."""
        extra, turn = 0, 0
        started = time.monotonic()
        while (
            served + extra < self.args.memory_requests
            and time.monotonic() - started < self.args.memory_seconds
        ):
            extra += run_wrk(
                server.base_url,
                loads[turn % len(loads)],
                seconds=MEMORY_SLICE_SECONDS,
                connections=self.args.connections,
                core=self.args.load_core,
            ).requests
            turn += 1
        server.wait_idle()
        self.result["memory"] = {
            "requests": served + extra,
            "rss_mb": round(server.rss_mb(), 1),
            "rss_start_mb": round(rss_start, 1),
            "peak_mb": round(server.rss_mb("VmHWM"), 1),
        }
        _say(
            f"  memory: {self.result['memory']['rss_mb']:.1f} MB after {served + extra:,} requests"
        )
        return extra

    def _import(self, server: Server, host: str) -> None:
        if not self.args.import_rows:
            return
        outcome = billing_import.run_import(
            server.base_url, self.target.url, host, self.args.import_rows
        )
        self.result["import"] = outcome
        if outcome["status"] == "ok":
            rates = ", ".join(f"{p['rows_per_s']:,} rows/s" for p in outcome["passes"])
            _say(f"  billing import: {rates}")
        else:
            _say(f"  billing import {outcome['status']}: {outcome['note']}")

    def finish(self, demo: tuple[dict[str, Any], str] | None) -> dict[str, Any]:
        self.result["machine"]["load_after"] = _load()
        verdicts = report.budget(self.result, demo[0] if demo else None)
        path = report.write(self.result, verdicts, self.args.results, demo[1] if demo else None)
        _say(f"\nBudget: {self.target.backend}, {self.target.size.name} (report: {path})")
        _say(report.budget_table(verdicts))
        return self.result


def _sizes(args: argparse.Namespace) -> list[Size]:
    if args.tenants or args.accounts:
        base = SIZES["large"]
        return [
            custom_size(args.tenants or base.tenants, args.accounts or base.accounts, args.months)
        ]
    return [SIZES["demo"], SIZES["large"]] if args.size == "all" else [SIZES[args.size]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "all"], default="sqlite")
    parser.add_argument("--size", choices=[*sorted(SIZES), "all"], default="demo")
    parser.add_argument("--tenants", type=int, help="a custom size instead: benchmark tenants")
    parser.add_argument("--accounts", type=int, help="a custom size instead: accounts per tenant")
    parser.add_argument("--months", type=int, default=24, help="a custom size: months of history")
    parser.add_argument(
        "--only",
        help="comma-separated parts to run: scenario keys (sign_in_page, cabinet, readings, "
        "reading_check, reading_submit, charges) and sign_ins, memory, import",
    )
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds before each")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--load-core", type=int, default=1)
    parser.add_argument("--sign-in-rate", type=float, default=10)
    parser.add_argument("--memory-requests", type=int, default=report.MEMORY_AFTER_REQUESTS)
    parser.add_argument(
        "--memory-seconds", type=float, default=600, help="at most this long to reach them"
    )
    parser.add_argument("--import-rows", type=int, default=20_000, help="0 skips the import")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where reports go")
    parser.add_argument(
        "--work-dir", type=Path, default=BENCH_DIR, help="SQLite databases and server logs"
    )
    parser.add_argument(
        "--pg-server",
        default=os.environ.get("BENCH_PG_SERVER", DEFAULT_PG_SERVER),
        help="PostgreSQL server URL without a database; bench_<size> databases are made there",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    if (os.cpu_count() or 1) < 2:
        _say("one core only: the server and the load generator share it (figures are pessimistic)")
        args.server_core = args.load_core = None
    cores = os.sched_getaffinity(0)
    pin_this_process(args.load_core)
    try:
        run_all(args)
    finally:
        os.sched_setaffinity(0, cores)
    return 0


def run_all(args: argparse.Namespace) -> None:
    backends = ["sqlite", "postgresql"] if args.db == "all" else [args.db]
    for backend in backends:
        demo: tuple[dict[str, Any], str] | None = None
        for size in _sizes(args):
            target = target_for(backend, size, sqlite_dir=args.work_dir, pg_server=args.pg_server)
            _say(f"== {backend}, {size.name}")
            marker = prepare(target, log=_say)
            run = Run(args, target)
            run.result["seed"] = marker
            run.baseline()
            run.portal()
            if demo is None and size.name != "demo":
                demo = report.latest_demo(args.results, backend)
            result = run.finish(demo)
            if size.name == "demo":
                demo = (result, "this run")


if __name__ == "__main__":
    raise SystemExit(main())
