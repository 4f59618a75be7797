"""Helpers of the Admin API tests: the admin token's headers, problem checks, a new client."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ADMIN_TOKEN, unique

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any] | None = None) -> Any:
    response = await client.post(path, json=body, headers=ADMIN)
    assert response.status_code in (200, 201, 204), response.text
    return response.json() if response.content else None


async def new_client(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    created: dict[str, Any] = await post(
        client, "/admin/clients", {"name": unique("client"), "scopes": ["rewards.issue"], **fields}
    )
    return created


def assert_problem(response: httpx.Response, status: int, detail: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("https://bestow.dev/problems/")
    assert problem["title"]
    if detail is not None:
        assert detail in problem["detail"], problem
