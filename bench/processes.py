"""The processes of a run: the portal or the baseline pinned to one core, wrk pinned to another.

Servers run one worker each (`portal serve` is uvicorn with one process); everything that
generates load, this harness included, runs on the load core, so the server's core does
nothing but serve.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from web.settings import PROJECT_ROOT

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "request.lua"
# A request slower than this counts as a timeout in wrk and drops out of its latency figures;
# ten seconds keeps even a badly overloaded server's answers in the percentiles.
WRK_TIMEOUT = "10s"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pinned(core: int | None, command: list[str]) -> list[str]:
    return command if core is None else ["taskset", "-c", str(core), *command]


def pin_this_process(core: int | None) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mb(self, field: str = "VmRSS") -> float:
        """Resident memory of the server process in MiB (1024² bytes); VmHWM for the peak."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kilobytes = next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith(field + ":")
        )
        return kilobytes / 1024

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far, every thread included."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # utime and stime are the 14th and 15th fields; the split starts at the 3rd.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_idle(self, timeout: float = 120, busy_share: float = 0.1) -> float:
        """Wait until the server uses under `busy_share` of a core (a backlog of work left by
        the previous load has drained); returns the seconds waited."""
        started = time.monotonic()
        before = self.cpu_seconds()
        while time.monotonic() - started < timeout:
            time.sleep(0.5)
            now = self.cpu_seconds()
            if now - before < busy_share * 0.5:
                break
            before = now
        return time.monotonic() - started

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, path: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                if httpx.get(self.base_url + path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} was not ready within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    name: str, command: list[str], env: dict[str, str], log_path: Path, port: int
) -> Server:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    return Server(name, process, port, log_path)


def start_portal(database_url: str, core: int | None, log_path: Path) -> Server:
    """`portal serve` (one uvicorn worker) on the database, in production mode (no demo)."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PORTAL_DEMO_NOW", "PORTAL_REDIS_URL", "PORTAL_SMTP_HOST"}
    }
    env.update(
        PORTAL_DATABASE_URL=database_url,
        PORTAL_DEMO="0",
        PORTAL_SECRET_KEY="bench-secret-key-not-for-production-0123456789",
        PORTAL_BASE_DOMAIN="localhost",
    )
    command = [sys.executable, "-m", "web.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = start_server("portal", pinned(core, command), env, log_path, port)
    server.wait_ready("/readyz")
    return server


def start_baseline(core: int | None, log_path: Path, database: Path) -> Server:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "bench.baseline",
        "--port",
        str(port),
        "--database",
        str(database),
    ]
    server = start_server("baseline", pinned(core, command), dict(os.environ), log_path, port)
    server.wait_ready("/fortunes")
    return server


def postgres_cpu_seconds(database: str) -> float:
    """CPU time used so far by the PostgreSQL backends serving `database` (they are not
    pinned: the server's processes run wherever the kernel puts them)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().decode(errors="replace")
            if not command.startswith("postgres: ") or f" {database} " not in command:
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


# --- wrk -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """One request shape for wrk, repeated as fast as `connections` connections allow."""

    method: str
    path: str
    headers: dict[str, str]
    body: str = ""
    expect: int = 200


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    unexpected: int
    first_unexpected_status: int

    @classmethod
    def parse(cls, output: str) -> WrkResult:
        line = next((x for x in output.splitlines() if x.startswith("BENCH_JSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no figures:\n{output}")
        raw: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
        seconds = raw["duration_us"] / 1e6
        return cls(
            requests=raw["requests"],
            seconds=round(seconds, 2),
            rps=round(raw["requests"] / seconds, 1) if seconds else 0.0,
            p50_ms=raw["p50_us"] / 1000,
            p90_ms=raw["p90_us"] / 1000,
            p99_ms=raw["p99_us"] / 1000,
            max_ms=raw["max_us"] / 1000,
            errors=sum(
                raw[key] for key in ("connect_errors", "read_errors", "write_errors", "timeouts")
            ),
            unexpected=raw["unexpected"],
            first_unexpected_status=raw["first_unexpected_status"],
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_wrk(
    base_url: str, load: Load, *, seconds: float, connections: int, core: int | None
) -> WrkResult:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        WRK_TIMEOUT,
        "-s",
        str(WRK_SCRIPT),
        base_url,
    ]
    env = dict(os.environ)
    env.update(
        BENCH_METHOD=load.method,
        BENCH_PATH=load.path,
        BENCH_HEADERS="\n".join(f"{name}: {value}" for name, value in load.headers.items()),
        BENCH_BODY=load.body,
        BENCH_EXPECT=str(load.expect),
    )
    done = subprocess.run(
        pinned(core, command), env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return WrkResult.parse(done.stdout)
