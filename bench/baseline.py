"""The baseline: a minimal Litestar + Jinja2 app serving TechEmpower's "Fortunes" page.

Each request reads the twelve fortunes from SQLite, adds one at request time, sorts them
by message and renders an HTML table with every message escaped. Every portal scenario is
reported as a ratio to this page's requests per second on the same machine and cores.
Run on its own: `uv run python -m bench.baseline --port 8100` (GET /fortunes).
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
from jinja2 import DictLoader, Environment, select_autoescape
from litestar import Litestar, MediaType, get
from litestar.datastructures import State

from web.settings import PROJECT_ROOT

DEFAULT_DATABASE = PROJECT_ROOT / "var" / "bench" / "fortunes.sqlite3"
# TechEmpower's twelve rows (test type 4), markup and non-Latin text included on purpose.
FORTUNES = [
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. — Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    '<script>alert("This should not be displayed in a browser alert box.");</script>',
    "フレームワークのベンチマーク",
]
ADDED = "Additional fortune added at request time."
PAGE = """<!DOCTYPE html>
<html><head><title>Fortunes</title></head><body><table>
<tr><th>id</th><th>message</th></tr>
{% for id, message in fortunes %}<tr><td>{{ id }}</td><td>{{ message }}</td></tr>
{% endfor %}</table></body></html>"""

templates = Environment(
    loader=DictLoader({"fortunes.html": PAGE}), autoescape=select_autoescape(default=True)
)


def create_database(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE IF EXISTS fortune")
        connection.execute("CREATE TABLE fortune (id INTEGER PRIMARY KEY, message TEXT NOT NULL)")
        connection.executemany(
            "INSERT INTO fortune (id, message) VALUES (?, ?)",
            [(index + 1, message) for index, message in enumerate(FORTUNES)],
        )


def create_app(database: Path = DEFAULT_DATABASE) -> Litestar:
    create_database(database)

    @asynccontextmanager
    async def connection(app: Litestar) -> AsyncIterator[None]:
        async with aiosqlite.connect(database) as db:
            app.state.db = db
            yield

    @get("/fortunes", media_type=MediaType.HTML)
    async def fortunes(state: State) -> str:
        async with state.db.execute("SELECT id, message FROM fortune") as cursor:
            rows: list[Any] = list(await cursor.fetchall())
        rows.append((0, ADDED))
        rows.sort(key=lambda row: row[1])
        return templates.get_template("fortunes.html").render(fortunes=rows)

    return Litestar(route_handlers=[fortunes], lifespan=[connection])


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--database", type=Path, default=DEFAULT_DATABASE)
    args = parser.parse_args(argv)
    uvicorn.run(
        create_app(args.database),
        host=args.host,
        port=args.port,
        access_log=False,
        log_level="warning",
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
