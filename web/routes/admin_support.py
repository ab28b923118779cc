"""Customer support and the remaining staff queues.

Customer search, lock, unlock and password resets; broadband requests; failed
messages; the audit log.
"""

from __future__ import annotations

from typing import Any

handlers: list[Any] = []
