"""A real `portal serve` process and headless Chromium (Debian's build) driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_portal(database_url: str, **environment: str) -> Iterator[str]:
    """`portal serve` in a process of its own on a loopback port; yields "localhost:<port>".

    Extra PORTAL_* variables go in `environment`, e.g. PORTAL_DEMO_NOW to set its clock.
    """
    port = _free_port()
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_DEMO": "1",
        "PORTAL_SECRET_KEY": "browser-test-secret",
        **environment,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"portal did not start: {process.stderr.read().decode()[-2000:]}"
                )  # type: ignore[union-attr]
            time.sleep(0.2)
        yield f"localhost:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


# Module scope: the server's in-process outbox worker shares the test database, and
# must be gone before the outbox tests enqueue and claim messages of their own.
@pytest.fixture(scope="module")
def live_server(database_url: str) -> Iterator[str]:
    """The portal as a customer meets it: a separate process on a loopback port."""
    with running_portal(database_url) as host:
        yield host


# Module scope: Playwright's sync API keeps an event loop running while it is open, and
# pytest-asyncio needs the thread to itself again for the async tests that follow.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's 'chromium' package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-gpu",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


def axe_violations(page: object) -> list[dict[str, object]]:
    """Run axe-core (WCAG 2.x A and AA rules) on the page; returns the violations."""
    page.evaluate(AXE.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    result = page.evaluate(  # type: ignore[attr-defined]
        """async () => {
            const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' '))}));
        }"""
    )
    return list(result)
