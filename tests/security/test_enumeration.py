"""Timing does not tell which client ids or operator ids exist: an unknown id goes through the
same database reads and the same hash verification as a known one presented with a wrong secret.

Counted, not timed: the statements sent to the database and the calls to the verification
functions, on each path."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bestow.clients import service as clients
from bestow.deps import Runtime
from bestow.kit import security
from bestow.surfaces.operator import auth as operator_auth
from tests.conftest import ACTOR
from tests.oauth.helpers import change_client, oauth_client
from tests.operator.helpers import make_operator, sign


@contextmanager
def counted(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, *spied: tuple[Any, str]
) -> Iterator[Counter[str]]:
    """Counts of SQL statements (``"sql"``) and of calls to each spied function, by name."""
    seen: Counter[str] = Counter()

    def on_execute(*_: Any) -> None:
        seen["sql"] += 1

    for owner, name in spied:
        real = getattr(owner, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            seen[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(owner, name, spy)
    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
        monkeypatch.undo()


@pytest.mark.parametrize("kind", [clients.OAUTH_SECRET, clients.PARTNER_TOKEN])
async def test_an_unknown_client_id_is_read_and_verified_like_a_wrong_secret(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    client_id, _, _ = await oauth_client(runtime)
    if kind == clients.PARTNER_TOKEN:
        async with runtime.db.write_session() as session:
            await clients.issue_credential(
                session, runtime.sealer, client_id=client_id, kind=kind, actor=ACTOR
            )
            await session.commit()
    suspended, _, _ = await oauth_client(runtime)
    await change_client(runtime, suspended, status="suspended")

    async def attempt(who: str) -> Counter[str]:
        with counted(runtime.db.engine, monkeypatch, (clients, "matches")) as seen:
            async with runtime.db.session() as session:
                found = await clients.authenticate_secret(
                    session, client_id=who, secret="bst_wrong-secret", kind=kind
                )
        assert found is None
        return seen

    known = await attempt(client_id)
    assert known["matches"] == 1 and known["sql"] >= 2
    assert await attempt("cli_01unknownclient0000000000") == known
    assert await attempt(suspended) == known


async def test_an_unknown_operator_id_is_read_and_verified_like_a_wrong_hash(
    app_client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = await make_operator(runtime, secondary=False)
    app = app_client.app  # type: ignore[attr-defined]
    engine = app.state.runtime.db.engine

    async def attempt(operator_id: int) -> Counter[str]:
        headers = {
            "X-AUTH-OPERATOR-ID": str(operator_id),
            "X-AUTH-REQUEST-HASH": sign("not-the-key", "/v1/campaigns"),
        }
        spied = ((operator_auth, "request_hash"), (security.Sealer, "unseal"))
        with counted(engine, monkeypatch, *spied) as seen:
            response = await app_client.get("/v1/campaigns", headers=headers)
        assert response.status_code == 401, response.text
        return seen

    app.state.operator_auth_cache.clear()
    known = await attempt(operator.operator_id)
    assert known["unseal"] == known["request_hash"] == 1 and known["sql"] >= 2
    unknown_id = (operator.operator_id + 1) % 2_000_000_000 + 1
    assert await attempt(unknown_id) == known
    # Cached, both answer without the database and with the same one hash.
    assert await attempt(operator.operator_id) == {"request_hash": 1}
    assert await attempt(unknown_id) == {"request_hash": 1}
