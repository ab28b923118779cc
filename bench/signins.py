"""Sign-ins at a steady rate (open loop): many customers, each from an address of its own.

bench/run.py starts it on the load core beside wrk's cabinet load and reads the one JSON
line it prints. Successful sign-ins do not count against the sign-in limits (only wrong
passwords do), and the X-Forwarded-For address (honoured by uvicorn for a proxy on
127.0.0.1) differs for every attempt, so the per-address limit never interferes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from urllib.parse import urlencode

import httpx

# Attempts still unanswered this long after the last one was sent are given up.
DRAIN_SECONDS = 20.0


async def drive(
    base_url: str, host: str, logins: list[str], password: str, rate: float, seconds: float
) -> dict[str, object]:
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        first = await client.get(base_url + "/sign-in", headers={"Host": host})
        csrf = str(first.cookies["csrftoken"])

        async def attempt(number: int) -> None:
            login = logins[number % len(logins)]
            address = f"10.{number // 62500 % 250}.{number // 250 % 250}.{number % 250 + 1}"
            request = httpx.Request(
                "POST",
                base_url + "/sign-in",
                headers={
                    "Host": host,
                    "Cookie": f"csrftoken={csrf}",
                    "x-csrftoken": csrf,
                    "X-Forwarded-For": address,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
                content=urlencode({"identifier": login, "password": password}),
            )
            started = time.perf_counter()
            try:
                # A bare Request: the client's cookie jar adds no other customer's session.
                answer = await client.send(request)
                statuses[str(answer.status_code)] += 1
                latencies.append(time.perf_counter() - started)
            except httpx.HTTPError as error:
                statuses[type(error).__name__] += 1

        tasks: list[asyncio.Task[None]] = []
        started = time.perf_counter()
        number = 0
        while (elapsed := time.perf_counter() - started) < seconds:
            due = number / rate
            if due > elapsed:
                await asyncio.sleep(due - elapsed)
            tasks.append(asyncio.create_task(attempt(number)))
            number += 1
        sent_for = time.perf_counter() - started
        _, pending = await asyncio.wait(tasks, timeout=DRAIN_SECONDS) if tasks else (set(), set())
        for task in pending:
            task.cancel()
        statuses["unanswered"] += len(pending)
    latencies.sort()

    def percentile(share: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000, 1)

    return {
        "attempted": number,
        "attempted_per_s": round(number / sent_for, 2),
        "signed_in": statuses["303"],
        "statuses": dict(statuses),
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--logins", required=True, help="comma-separated")
    parser.add_argument("--password", required=True)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    summary = asyncio.run(
        drive(
            args.base_url,
            args.host,
            args.logins.split(","),
            args.password,
            args.rate,
            args.seconds,
        )
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
