"""The platform operator's pages under /admin/platform: tenants, their domains and their admins."""

from __future__ import annotations

from typing import Any

handlers: list[Any] = []
