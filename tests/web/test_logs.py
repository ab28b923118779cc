"""Log records written off the event loop, in batches, in order, and none lost at the end."""

from __future__ import annotations

import io
import logging
import threading
import time

from web.logs import BatchingHandler


def _logger(handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(f"test.logs.{id(handler)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


def test_records_reach_the_target_from_the_writer_thread_in_order() -> None:
    written = io.StringIO()
    threads: set[str] = set()

    class Target(logging.StreamHandler):
        def emit(self, record: logging.LogRecord) -> None:
            threads.add(threading.current_thread().name)
            super().emit(record)

    handler = BatchingHandler(Target(written), interval=0.01)
    logger = _logger(handler)
    for number in range(100):
        logger.info("line %d", number)
    deadline = time.monotonic() + 5
    while written.getvalue().count("\n") < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    handler.close()
    assert written.getvalue().splitlines() == [f"line {number}" for number in range(100)]
    assert threads == {"log-writer"}


def test_closing_writes_what_is_still_pending() -> None:
    written = io.StringIO()
    handler = BatchingHandler(logging.StreamHandler(written), interval=3600)
    logger = _logger(handler)
    logger.warning("the last words")
    assert written.getvalue() == ""  # still waiting for the writer's next round
    handler.close()
    assert written.getvalue() == "the last words\n"
