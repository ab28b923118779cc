"""Liveness and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from sqlalchemy import text

from domain.migrate import current_revision, head_revision


@get("/healthz", sync_to_thread=False, include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    database = request.app.state.portal.database
    expected = head_revision()
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            current = await connection.run_sync(current_revision)
    except Exception as error:  # any database fault means "not ready", never a 500
        return Response(
            {"status": "unavailable", "database": type(error).__name__}, status_code=503
        )
    if current != expected:
        body = {"status": "migrations pending", "current": current, "expected": expected}
        return Response(body, status_code=503)
    return Response({"status": "ready", "revision": current}, status_code=200)


routes = [healthz, readyz]
