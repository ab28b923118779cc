"""Two commits measured in turn, for a fix too small to see through a machine that drifts.

    uv run python -m bench.compare HEAD~1 --only cabinet,charges --rounds 3
    uv run python -m bench.compare main --db postgresql --only readings

The other commit is checked out in a git worktree under var/bench/compare/, then
`bench.run --only … --seconds 5 --warmup 1` runs from it and from this checkout in turn,
`--rounds` times, on the same seeded database. A run's figures move with the machine (on a
shared VM, the baseline's CPU per request moved by half within one session); alternating
puts both commits through the same spells. Prints server CPU per request, and p99, for
each scenario of each run, then each commit's median. Not a report: nothing is written to
bench/results.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.seed_large import BENCH_DIR
from web.settings import PROJECT_ROOT

WORKTREE = BENCH_DIR / "compare"


def _worktree(ref: str) -> Path:
    """`ref` checked out (detached) in the comparison worktree, made on first use."""
    if not (WORKTREE / ".git").exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(WORKTREE), ref],
            cwd=PROJECT_ROOT,
            check=True,
            capture_output=True,
        )
    subprocess.run(
        ["git", "checkout", "--detach", ref], cwd=WORKTREE, check=True, capture_output=True
    )
    return WORKTREE


def _measure(tree: Path, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """One bench.run from `tree`: scenario → (server CPU ms per request, p99 ms)."""
    with tempfile.TemporaryDirectory() as results:
        command = [sys.executable, "-m", "bench.run", "--db", args.db, "--size", args.size]
        command += ["--only", args.only, "--seconds", str(args.seconds), "--warmup", "1"]
        command += ["--import-rows", "0", "--results", results, "--work-dir", str(BENCH_DIR)]
        subprocess.run(command, cwd=tree, check=True, capture_output=True)
        (report,) = Path(results).glob("*.json")
        data = json.loads(report.read_text())
    figures = {"baseline": (data["baseline"]["cpu_ms"], data["baseline"]["p99_ms"])}
    for key, scenario in data["scenarios"].items():
        figures[key] = (scenario["cpu_ms"], scenario["p99_ms"])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ref", help="the commit to compare this checkout with")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--size", default="demo")
    parser.add_argument("--only", default="cabinet", help="scenario keys, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args(argv)

    trees = {args.ref: _worktree(args.ref), "this checkout": PROJECT_ROOT}
    cpu: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    for round_number in range(1, args.rounds + 1):
        for name, tree in trees.items():
            figures = _measure(tree, args)
            shown = "  ".join(f"{key} {ms:.2f}/{p99:.0f}" for key, (ms, p99) in figures.items())
            print(f"round {round_number}, {name}: {shown}  (CPU ms/request / p99 ms)")
            for key, (ms, _) in figures.items():
                cpu[name].setdefault(key, []).append(ms)
    print()
    for name, by_scenario in cpu.items():
        medians = "  ".join(f"{key} {statistics.median(v):.2f}" for key, v in by_scenario.items())
        print(f"median, {name}: {medians}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
