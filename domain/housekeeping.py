"""Housekeeping: deleting expired sessions and rate-limit counters, so the tables stay small,
and marking imports whose process died as failed.

Expired rows are already ignored when read; this only keeps them from piling up. Any
number of processes may run it side by side: each round is one statement per table.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from domain.db import Database
from domain.import_jobs import fail_abandoned_import_jobs
from domain.limits import DatabaseLimiter
from domain.models import utcnow
from domain.sessions import DatabaseSessionStore

log = logging.getLogger("portal.housekeeping")


async def purge_expired(database: Database) -> tuple[int, int]:
    """Delete expired sessions and counters; returns how many of each went."""
    # The pepper only hashes subjects; deleting by expiry does not need the real one.
    sessions = await DatabaseSessionStore(database).purge_expired()
    counters = await DatabaseLimiter(database, pepper="").purge_expired()
    return sessions, counters


async def run_housekeeping(
    database: Database, stop_event: asyncio.Event, every_seconds: float = 3600.0
) -> None:
    """Purge every `every_seconds` until `stop_event` is set (the first round at once)."""
    while not stop_event.is_set():
        try:
            sessions, counters = await purge_expired(database)
            if sessions or counters:
                log.info("purged %d expired sessions and %d rate counters", sessions, counters)
            async with database.session() as session:
                abandoned = await fail_abandoned_import_jobs(session, utcnow())
            if abandoned:
                log.warning("marked %d abandoned import jobs as failed", abandoned)
        except Exception:  # a database hiccup must not end the loop; the next round retries
            log.exception("housekeeping round failed")
        with suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=every_seconds)
