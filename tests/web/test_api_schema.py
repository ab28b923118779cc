"""A schemathesis run against the OpenAPI schema the app serves: no request gets a 5xx.

Requests are generated from the schema (valid ones and deliberately invalid ones) for every
operation and sent, with a valid key, to the real app on a private copy of the database.
"""

from __future__ import annotations

import asyncio

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi

from domain.api_keys import create_api_key
from domain.db import Database
from domain.models import Tenant, utcnow
from web.app import create_app
from web.settings import Settings

HOST = "ivanovo-water.localhost"
# Examples per operation and mode: enough to reach every field, quick enough for the suite.
EXAMPLES = {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 20}


async def _key(database_url: str) -> str:
    from sqlmodel import select

    database = Database(database_url)
    try:
        async with database.session() as session:
            tenant = (
                await session.exec(select(Tenant).where(Tenant.slug == "ivanovo-water"))
            ).one()
            assert tenant.id is not None
            _, plain = await create_api_key(
                session, tenant_id=tenant.id, name="schemathesis", created_by=None, now=utcnow()
            )
            await session.commit()
        return plain
    finally:
        await database.dispose()


def test_no_generated_request_gets_a_server_error(private_settings: Settings) -> None:
    key = asyncio.run(_key(private_settings.database_url))
    app = create_app(private_settings)
    headers = {"Host": HOST, "Authorization": f"Bearer {key}", "Accept-Language": "en"}
    try:
        schema = schemathesis.openapi.from_asgi(
            "/api/v1/schema/openapi.json", app, headers={"Host": HOST}
        )
        operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
        assert len(operations) == 7
        for operation in operations:
            for mode, examples in EXAMPLES.items():

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                def no_server_error(case: schemathesis.Case) -> None:
                    response = case.call(headers=headers)
                    assert response.status_code < 500, (case.method, case.path, response.text)
                    assert "application/json" in str(response.headers.get("content-type"))

                no_server_error()
    finally:
        asgi.shutdown_lifespans()
