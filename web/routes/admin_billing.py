"""Billing integration in the staff area: API keys and CSV imports with their per-row reports."""

from __future__ import annotations

from typing import Any

handlers: list[Any] = []
