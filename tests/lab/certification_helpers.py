"""Helpers of the certification's tests: a report as the Admin API answers it (after the
request log is written), and one item of it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.lab.helpers import ADMIN, flushed


async def report_of(
    http: httpx.AsyncClient, client_id: str, surface: str, **params: Any
) -> dict[str, Any]:
    """``GET /admin/clients/{client_id}/certification`` after a flush of the request log."""
    await flushed(http)
    response = await http.get(
        f"/admin/clients/{client_id}/certification",
        params={"surface": surface, **{k: v for k, v in params.items() if v is not None}},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def item(report: dict[str, Any], item_id: str) -> dict[str, Any]:
    [found] = [i for i in report["items"] if i["id"] == item_id]
    return found


def evidence_ids(found: dict[str, Any]) -> list[str]:
    """The request ids an item's evidence names."""
    return [e["request_id"] for e in found["evidence"] if "request_id" in e]


async def open_run(
    http: httpx.AsyncClient, client_id: str, surface: str, *, faults: bool = False
) -> dict[str, Any]:
    response = await http.post(
        f"/admin/clients/{client_id}/certification/runs",
        json={"surface": surface, "faults": faults},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def close_run(http: httpx.AsyncClient, client_id: str, run_id: str) -> dict[str, Any]:
    response = await http.post(
        f"/admin/clients/{client_id}/certification/runs/{run_id}/close", headers=ADMIN
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
