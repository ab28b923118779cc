"""The `portal` command: serve, worker, migrate, and the translators' `i18n` tools."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import sys
from collections.abc import Sequence

from domain.db import Database
from domain.demo import (
    DEMO_OPERATOR_LOGIN,
    DEMO_PASSWORD,
    DEMO_STAFF_LOGIN,
    DemoSignIn,
    load_demo_data,
)
from domain.migrate import upgrade
from domain.tenancy import install_presets, published_configs
from tenants.loader import ConfigError, load_presets
from tenants.schema import TenantConfig
from web import catalogs
from web.logs import configure_logging
from web.settings import Settings


class MigrationFailed(Exception):
    pass


async def _migrate_in_a_child(database_url: str) -> None:
    """`portal migrate` in a child process: run here, Alembic's migration scripts and the
    synchronous driver would stay in the serving worker's memory for good (about 10 MB,
    bench/results)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "web.cli",
        "migrate",
        env={**os.environ, "PORTAL_DATABASE_URL": database_url},
    )
    if await child.wait() != 0:
        raise MigrationFailed(f"migrating the database failed (exit code {child.returncode})")


async def prepare_database(settings: Settings, presets: list[TenantConfig]) -> list[DemoSignIn]:
    """Migrate, install the presets, and on first start load the demo data."""
    await _migrate_in_a_child(settings.database_url)
    database = Database(settings.database_url)
    try:
        async with database.session() as session:
            await install_presets(session, presets)
            if not settings.demo:
                return []
            tenants = await published_configs(session)
            return await load_demo_data(session, tenants)
    finally:
        await database.dispose()


def _print_welcome(
    settings: Settings,
    host: str,
    port: int,
    presets: list[TenantConfig],
    sign_ins: list[DemoSignIn],
) -> None:
    suffix = "" if port == 80 else f":{port}"
    print(f"Portal on http://{settings.base_domain}{suffix}/ (listening on {host}:{port})")
    for config in presets:
        print(f"  {config.slug:18} http://{config.slug}.{settings.base_domain}{suffix}/")
    if sign_ins:
        print("Demo sign-ins (loaded now, on an empty database):")
        for entry in sign_ins:
            label = entry.identifier.label.get("en")
            note = f" [{entry.note}]" if entry.note else ""
            print(f"  {entry.slug:18} {label}: {entry.value}  password: {entry.password}{note}")
        staff = f"login {DEMO_STAFF_LOGIN}, password {DEMO_PASSWORD}"
        print(f"Staff area: /admin on each tenant's host, {staff}")
        operator = f"login {DEMO_OPERATOR_LOGIN}, password {DEMO_PASSWORD}"
        print(f"Platform operator (every tenant, and /admin/platform): {operator}")


def serve(settings: Settings, host: str, port: int) -> int:
    import uvicorn

    from web.app import create_app

    try:
        presets = load_presets()
        sign_ins = asyncio.run(prepare_database(settings, presets))
    except (ConfigError, MigrationFailed) as error:
        print(error, file=sys.stderr)
        return 2
    _print_welcome(settings, host, port, presets, sign_ins)
    app = create_app(settings)
    # Everything loaded so far (modules, presets, the app) lives as long as the process.
    # Frozen, the collector never walks it again: a full collection of those ~180,000
    # objects took 100 ms or more, stalling every request in flight (bench/results).
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        proxy_headers=True,
        server_header=False,
    )
    return 0


def worker(settings: Settings) -> int:
    """Deliver the outbox until Ctrl-C or SIGTERM."""
    from domain.delivery import Senders, run_worker
    from domain.housekeeping import run_housekeeping
    from domain.models import utcnow
    from domain.reminders import run_reminders
    from web.messages import render_message

    async def deliver_until_stopped() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        database = Database(settings.database_url)
        try:
            senders = Senders.from_settings(settings, settings.sms_gateway_url)
            await asyncio.gather(
                run_worker(database, senders, stop),
                run_reminders(database, render_message, stop, utcnow),
                run_housekeeping(database, stop),
            )
        finally:
            await database.dispose()

    print(
        "portal worker: delivering the outbox, reading reminders and purging expired "
        "sessions; Ctrl-C stops it.",
        file=sys.stderr,
    )
    asyncio.run(deliver_until_stopped())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portal", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="migrate, load presets and demo data, serve")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    commands.add_parser("worker", help="deliver the outbox (mail and SMS)")
    commands.add_parser("migrate", help="upgrade the database to the newest schema")
    commands.add_parser("check-presets", help="validate the tenant presets and exit")
    catalogs.configure_cli(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    settings = Settings.from_environment()
    if args.command == "serve":
        return serve(settings, args.host, args.port)
    if args.command == "worker":
        return worker(settings)
    if args.command == "migrate":
        upgrade(settings.database_url)
        return 0
    if args.command == "check-presets":
        try:
            configs = load_presets()
        except ConfigError as error:
            print(error, file=sys.stderr)
            return 2
        print(f"{len(configs)} presets are valid.")
        return 0
    return catalogs.run_cli(args)


if __name__ == "__main__":
    sys.exit(main())
