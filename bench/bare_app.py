"""The baseline: a bare Starlette application with one JSON route and no middleware.

``GET /partner/merchants`` builds and serialises, on every request, the same document Bestow
returns (given by ``bench/api.py`` in ``BENCH_BODY_JSON``), so both sides send a body of the same
size. Serve it as Bestow is served::

    uvicorn --app-dir bench bare_app:app --loop uvloop --http httptools --no-access-log
"""

from __future__ import annotations

import json
import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DEFAULT_BODY = {
    "merchants": [
        {"id": f"mer_{i:026d}", "name": "Bench Merchant", "handle": f"bench-{i}"} for i in range(3)
    ]
}
_ROWS: list[dict[str, Any]] = json.loads(
    os.environ.get("BENCH_BODY_JSON") or json.dumps(DEFAULT_BODY)
)["merchants"]


async def merchants(request: Request) -> JSONResponse:
    return JSONResponse(
        {"merchants": [{"id": r["id"], "name": r["name"], "handle": r["handle"]} for r in _ROWS]}
    )


app = Starlette(routes=[Route("/partner/merchants", merchants)])
