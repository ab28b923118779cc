"""Log lines leave the event loop in batches.

Every request writes an access line. Writing it from the loop could block on a slow pipe;
handing each line to a thread through a queue (what Litestar sets up by default) wakes
that thread once per line, which cost 7–9 % of a worker's CPU under load (bench/results).
Here a record is appended to a deque (no lock, no wake-up) and a writer thread drains it a
few times a second.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import deque

# How long a line may wait before it is written.
FLUSH_SECONDS = 0.2


class BatchingHandler(logging.Handler):
    """Hands records to `target` from a thread of its own, every `interval` seconds."""

    def __init__(self, target: logging.Handler, interval: float = FLUSH_SECONDS) -> None:
        super().__init__()
        self.target = target
        self.interval = interval
        self._pending: deque[logging.LogRecord] = deque()
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._writer.start()
        atexit.register(self.close)

    def emit(self, record: logging.LogRecord) -> None:
        self._pending.append(record)

    def flush(self) -> None:
        while self._pending:
            self.target.handle(self._pending.popleft())
        self.target.flush()

    def close(self) -> None:
        self._stop.set()
        if self._writer.is_alive() and self._writer is not threading.current_thread():
            self._writer.join(timeout=5)
        self.flush()
        super().close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()


def configure_logging(level: int = logging.INFO) -> None:
    """One line per event on stderr, written off the event loop; request lines are JSON
    (see web.gateway)."""
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(BatchingHandler(console))
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
