"""Where the real server's CPU goes under load: py-spy samples `portal serve` while wrk
drives one scenario, and the samples are summed by library.

    uv run python -m bench.sample --db postgresql --scenario cabinet
    uv run python -m bench.sample --db sqlite --scenario readings --seconds 20 --top 40

Unlike bench.profile (the app alone, in this process), this includes uvicorn, the event
loop and the database driver's threads, as production runs them. The raw samples are kept
(`--raw`, py-spy's collapsed format) for a flame graph. Not a benchmark: the sampler itself
costs the server some CPU.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench import scenarios
from bench.processes import run_wrk, start_portal
from bench.seed_large import SIZES, prepare, target_for
from web.settings import PROJECT_ROOT

# A sample is counted for the first of these found from its innermost frame outwards.
LIBRARIES = [
    ("database driver", r"aiosqlite/|asyncpg/"),
    ("SQLAlchemy", r"sqlalchemy/|sqlmodel/"),
    ("gzip", r"gzip"),
    ("templates", r"jinja2/|web/templates/|markupsafe/"),
    ("Babel", r"babel/"),
    ("logging", r"logging/"),
    ("Litestar", r"litestar/"),
    ("uvicorn", r"uvicorn/"),
    ("portal code", r"/(web|domain|tenants)/"),
    ("event loop", r"asyncio/"),
    ("threads", r"threading\.py|queue\.py"),
]
# Innermost frames of a thread that is waiting, not working. py-spy counts a pool thread
# blocked in its queue's C get() as busy, so the pools' worker loop is listed too.
IDLE = re.compile(
    r"Condition\.wait|Queue\.get|_connection_worker_thread|Thread\.run \(|_worker \(.*thread\.py"
)


def summarise(raw: Path, top: int) -> str:
    """Busy samples by library, then the functions most often on the stack."""
    by_library: Counter[str] = Counter()
    on_stack: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not frames or IDLE.search(frames[-1]):
            continue
        samples = int(count)
        total += samples
        library = next(
            (
                name
                for frame in reversed(frames)
                for name, pattern in LIBRARIES
                if re.search(pattern, frame)
            ),
            "other",
        )
        by_library[library] += samples
        for frame in {re.sub(r" \((?:.*/)?([^/:]+):\d+\)", r" (\1)", f) for f in frames}:
            on_stack[frame] += samples
    if not total:
        return "no busy samples"
    lines = [f"{total} busy samples", "", "by library (innermost frame):"]
    lines += [f"  {share * 100 / total:5.1f} %  {name}" for name, share in by_library.most_common()]
    lines += ["", f"the {top} functions most often on the stack:"]
    lines += [f"  {n * 100 / total:5.1f} %  {name[:120]}" for name, n in on_stack.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--size", choices=sorted(SIZES), default="demo")
    parser.add_argument("--scenario", default="cabinet")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--raw", type=Path, default=PROJECT_ROOT / "var/bench/sample.txt")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))

    target = target_for(args.db, SIZES[args.size])
    prepare(target)
    server = start_portal(target.url, 0, PROJECT_ROOT / "var/bench/logs/sample.log")
    try:
        load = scenarios.signed_in_load(server.base_url, target, args.scenario)
        run_wrk(server.base_url, load, seconds=2, connections=args.connections, core=1)
        args.raw.parent.mkdir(parents=True, exist_ok=True)
        command = [py_spy, "record", "-p", str(server.process.pid), "-d", str(args.seconds)]
        command += ["-r", str(args.rate), "-f", "raw", "-o", str(args.raw)]
        sampler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu_before = server.cpu_seconds()
        measured = run_wrk(
            server.base_url, load, seconds=args.seconds, connections=args.connections, core=1
        )
        sampler.wait(timeout=args.seconds + 60)
        cpu_ms = (server.cpu_seconds() - cpu_before) * 1000 / max(1, measured.requests)
    finally:
        server.stop()
    print(
        f"{args.scenario} on {args.db} {args.size}: {measured.rps:.0f} rps, "
        f"p99 {measured.p99_ms:.1f} ms, {cpu_ms:.2f} ms server CPU per request (while sampled)"
    )
    print(summarise(args.raw, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
