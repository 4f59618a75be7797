"""Helpers of the Operator checklist's tests: signed calls with extra headers (the lab's fault
header, the hash bypass), request ids, and the operator's report."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tests.lab.certification_helpers import report_of
from tests.lab.helpers import ADMIN
from tests.operator.helpers import Operator, headers

LOST = {"X-Bestow-Fault": "lost_answer", "X-Bestow-Fault-Answer": "504"}
"""The answer is lost after the request was done (answered 504: the ASGI test transport
cannot see a dropped connection)."""
RATE_LIMITED = {"X-Bestow-Fault": "rate_limit"}
BYPASS = {"X-AUTH-REQUEST-HASH-BYPASS": "true"}


async def send(
    http: httpx.AsyncClient,
    operator: Operator,
    method: str,
    url: str,
    body: Any = None,
    *,
    extra: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
) -> httpx.Response:
    """A signed request with ``extra`` headers added and the headers named in ``drop`` left
    out."""
    raw = b"" if body is None else orjson.dumps(body)
    sent = {k: v for k, v in headers(operator, url, raw).items() if k not in drop}
    return await http.request(method, url, content=raw, headers={**sent, **(extra or {})})


async def send_chunked(
    http: httpx.AsyncClient, operator: Operator, url: str, body: Any
) -> httpx.Response:
    """A signed POST whose body is streamed (no ``Content-Length``), without ``Content-Type``."""
    raw = orjson.dumps(body)
    sent = {k: v for k, v in headers(operator, url, raw).items() if k != "Content-Type"}

    async def stream() -> Any:
        yield raw

    return await http.post(url, content=stream(), headers=sent)


def rid(response: httpx.Response) -> str:
    return response.headers["x-request-id"]


async def report(http: httpx.AsyncClient, operator: Operator) -> dict[str, Any]:
    return await report_of(http, operator.client_id, "operator")


async def add_fault(
    http: httpx.AsyncClient, client_id: str, kind: str, route: str, count: int = 1
) -> None:
    response = await http.post(
        f"/admin/clients/{client_id}/faults",
        json={"kind": kind, "count": count, "route": route},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
