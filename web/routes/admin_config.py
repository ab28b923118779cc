"""The configuration editor under /admin/config.

Drafts, validation, preview, publish, rollback and a diff between versions.
"""

from __future__ import annotations

from typing import Any

handlers: list[Any] = []
