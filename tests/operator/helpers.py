"""Helpers of the Operator API tests: an operator client with both shared keys, and a signer
that computes the request hash itself (hashlib, as an operator's script would), not with the
project's code."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from bestow.clients import service as clients
from bestow.deps import Runtime
from tests.conftest import ACTOR, unique

SCOPE = "operator.campaigns"


@dataclass
class Operator:
    client_id: str
    operator_id: int
    primary: str
    secondary: str


def sign(key: str, url: str, body: bytes = b"") -> str:
    """The documented hash: SHA-256 of key + relative URL (the path's trailing slashes trimmed,
    the query string as sent) + body."""
    path, mark, query = url.partition("?")
    relative = path.rstrip("/") + (mark + query if query else "")
    return hashlib.sha256(key.encode() + relative.encode() + body).hexdigest()


def headers(operator: Operator, url: str, body: bytes = b"", *, key: str | None = None) -> dict:
    return {
        "X-AUTH-OPERATOR-ID": str(operator.operator_id),
        "X-AUTH-REQUEST-HASH": sign(key or operator.primary, url, body),
        "Content-Type": "application/json",
    }


async def make_operator(
    runtime: Runtime, *, scopes: tuple[str, ...] = (SCOPE,), secondary: bool = True
) -> Operator:
    operator_id = random.randint(1, 2_000_000_000)
    async with runtime.db.write_session() as session:
        client = await clients.create_client(
            session,
            name=unique("operator"),
            scopes=list(scopes),
            rate_limit_tier="unlimited",
            known_tiers=runtime.rate_limiter.tier_names(),
            operator_id=operator_id,
            actor=ACTOR,
        )
        keys = []
        for label in ("primary", "secondary") if secondary else ("primary",):
            issued = await clients.issue_credential(
                session,
                runtime.sealer,
                client_id=client.id,
                kind=clients.OPERATOR_KEY,
                label=label,
                actor=ACTOR,
            )
            keys.append(issued.secret)
        await session.commit()
    return Operator(client.id, operator_id, keys[0], keys[-1])


async def call(
    http: httpx.AsyncClient,
    operator: Operator,
    method: str,
    url: str,
    body: Any = None,
    *,
    key: str | None = None,
) -> httpx.Response:
    """A signed request; ``url`` is the relative URL as sent (path and query)."""
    raw = b"" if body is None else orjson.dumps(body)
    return await http.request(
        method, url, content=raw, headers=headers(operator, url, raw, key=key)
    )
