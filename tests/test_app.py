"""Operational endpoints and the application factory."""

from __future__ import annotations

import httpx
import pytest

from bestow.app import create_app
from tests.conftest import make_settings

pytestmark = pytest.mark.asyncio


async def test_healthz_answers_ok(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_database(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


async def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: object) -> None:
    settings = make_settings(
        "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere",
        tmp_path,  # type: ignore[arg-type]
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


async def test_metrics_count_requests_by_route_template(app_client: httpx.AsyncClient) -> None:
    await app_client.get("/healthz")
    response = await app_client.get("/metrics")
    assert response.status_code == 200
    assert 'bestow_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text


async def test_openapi_describes_every_surface(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/partner/merchants" in paths
    assert "/partner/locations" in paths
    assert "/admin/clients" in paths
    parameters = paths["/partner/merchants"]["get"]["parameters"]
    assert {"Authorization", "X-ClientId", "Accept-Version"} <= {p["name"] for p in parameters}
    docs = await app_client.get("/docs")
    assert docs.status_code == 200


async def test_creating_the_app_opens_no_database(tmp_path: object) -> None:
    settings = make_settings("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", tmp_path)  # type: ignore[arg-type]
    app = create_app(settings)
    assert not hasattr(app.state, "runtime")
