"""The billing-system API under /api/v1: JSON, authenticated by a tenant's API key.

It is the only part of the app in the OpenAPI schema (served at /api/v1/schema).
"""

from __future__ import annotations

from typing import Any

from litestar import Router

routes: list[Any] = [Router(path="/api/v1", route_handlers=[], include_in_schema=True)]
