"""Idempotency records, called directly: one execution per key, replays, mismatches, take-overs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.deps import Runtime
from bestow.kit.errors import IdempotencyInFlight, IdempotencyMismatch
from bestow.kit.idempotency import Claim, IdempotencyStore, StoredResponse, fingerprint
from bestow.merchants import service as merchants
from bestow.models import Merchant
from tests.conftest import ACTOR

ROUTE = "POST /things"
Work = Callable[[AsyncSession], Awaitable[StoredResponse]]


def new_key() -> str:
    return f"key-{uuid.uuid4()}"


def store_with(runtime: Runtime, **settings: int) -> IdempotencyStore:
    return IdempotencyStore(runtime.db, runtime.settings.model_copy(update=settings))


class Recorder:
    """A unit of work that creates a merchant and answers with its id; counts its executions."""

    def __init__(
        self,
        *,
        hold: asyncio.Event | None = None,
        hold_after_write: bool = False,
        fail: bool = False,
    ) -> None:
        self.calls = 0
        self.started = asyncio.Event()
        self.hold = hold
        self.hold_after_write = hold_after_write
        self.fail = fail
        self.handles: list[str] = []

    async def __call__(self, session: AsyncSession) -> StoredResponse:
        self.calls += 1
        handle = f"m-{uuid.uuid4().hex[:12]}"
        self.handles.append(handle)
        if not self.hold_after_write:
            await self._pause()
        merchant = await merchants.create_merchant(
            session, name="Idempotent", handle=handle, time_zone="UTC", actor=ACTOR
        )
        if self.hold_after_write:
            await self._pause()
        if self.fail:
            raise RuntimeError("work failed")
        body = orjson.dumps({"id": merchant.id, "handle": handle})
        return StoredResponse(201, {"content-type": "application/json"}, body)

    async def _pause(self) -> None:
        self.started.set()
        if self.hold is not None:
            await self.hold.wait()
        else:
            await asyncio.sleep(0.05)


async def warm_pool(runtime: Runtime, connections: int) -> None:
    """Open connections at once, so that concurrent callers race in the database, not the pool."""
    ready = asyncio.Barrier(connections)

    async def hold() -> None:
        async with runtime.db.write_engine.connect():
            await ready.wait()

    await asyncio.gather(*(hold() for _ in range(connections)))


async def merchants_created(runtime: Runtime, handles: list[str]) -> int:
    async with runtime.db.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(Merchant).where(Merchant.handle.in_(handles))
        )
    return int(count or 0)


async def run(
    store: IdempotencyStore,
    work: Work,
    *,
    key: str,
    client_id: str = "client-a",
    body: bytes = b'{"a": 1}',
) -> tuple[StoredResponse, bool]:
    return await store.run(
        client_id=client_id,
        key=key,
        route=ROUTE,
        fingerprint=fingerprint("POST", "/things", body),
        work=work,
    )


async def test_concurrent_identical_calls_run_the_work_once(runtime: Runtime) -> None:
    work = Recorder()
    key = new_key()
    await warm_pool(runtime, 10)

    outcomes = await asyncio.gather(
        *(run(runtime.idempotency, work, key=key) for _ in range(20)), return_exceptions=True
    )

    assert work.calls == 1
    assert await merchants_created(runtime, work.handles) == 1
    fresh = [o for o in outcomes if isinstance(o, tuple) and not o[1]]
    replays = [o for o in outcomes if isinstance(o, tuple) and o[1]]
    in_flight = [o for o in outcomes if isinstance(o, IdempotencyInFlight)]
    assert len(fresh) == 1
    assert len(fresh) + len(replays) + len(in_flight) == 20
    assert all(replay[0] == fresh[0][0] for replay in replays)


async def test_a_repeat_after_completion_replays_the_identical_response(runtime: Runtime) -> None:
    work = Recorder()
    key = new_key()
    first, first_replayed = await run(runtime.idempotency, work, key=key)

    again, replayed = await run(runtime.idempotency, work, key=key, body=b'{ "a" : 1 }')

    assert (first_replayed, replayed) == (False, True)
    assert again.body == first.body
    assert again == first
    assert work.calls == 1


async def test_a_duplicate_while_the_first_is_in_flight_is_refused(runtime: Runtime) -> None:
    hold = asyncio.Event()
    work = Recorder(hold=hold)
    key = new_key()
    first = asyncio.create_task(run(runtime.idempotency, work, key=key))
    await work.started.wait()
    duplicate = Recorder()
    try:
        with pytest.raises(IdempotencyInFlight):
            await run(runtime.idempotency, duplicate, key=key)
    finally:
        hold.set()
        await first
    assert (work.calls, duplicate.calls) == (1, 0)


async def test_the_same_key_with_another_request_is_a_mismatch(runtime: Runtime) -> None:
    work = Recorder()
    key = new_key()
    await run(runtime.idempotency, work, key=key, body=b'{"a": 1}')

    with pytest.raises(IdempotencyMismatch):
        await run(runtime.idempotency, work, key=key, body=b'{"a": 2}')
    assert work.calls == 1


async def test_the_same_key_on_another_route_is_a_mismatch(runtime: Runtime) -> None:
    key = new_key()
    await run(runtime.idempotency, Recorder(), key=key)

    with pytest.raises(IdempotencyMismatch):
        await runtime.idempotency.run(
            client_id="client-a",
            key=key,
            route="POST /other",
            fingerprint=fingerprint("POST", "/things", b'{"a": 1}'),
            work=Recorder(),
        )


async def test_concurrent_calls_whose_work_fails_get_the_failure_or_in_flight(
    runtime: Runtime,
) -> None:
    work = Recorder(fail=True)
    key = new_key()
    await warm_pool(runtime, 10)

    outcomes = await asyncio.gather(
        *(run(runtime.idempotency, work, key=key) for _ in range(20)), return_exceptions=True
    )

    failures = [o for o in outcomes if isinstance(o, RuntimeError)]
    in_flight = [o for o in outcomes if isinstance(o, IdempotencyInFlight)]
    assert len(failures) == work.calls >= 1
    assert len(failures) + len(in_flight) == 20, outcomes
    assert await merchants_created(runtime, work.handles) == 0


async def test_failing_work_releases_the_key_so_a_retry_runs_it(runtime: Runtime) -> None:
    key = new_key()
    failing = Recorder(fail=True)
    with pytest.raises(RuntimeError):
        await run(runtime.idempotency, failing, key=key)

    retry = Recorder()
    response, replayed = await run(runtime.idempotency, retry, key=key)

    assert (failing.calls, retry.calls, replayed) == (1, 1, False)
    assert await merchants_created(runtime, failing.handles) == 0
    assert orjson.loads(response.body)["handle"] == retry.handles[0]


async def test_a_server_fault_is_not_stored_and_a_retry_runs_the_work(runtime: Runtime) -> None:
    key = new_key()
    calls = 0

    async def unavailable(session: AsyncSession) -> StoredResponse:
        nonlocal calls
        calls += 1
        return StoredResponse(503, {}, b"try later")

    first, _ = await run(runtime.idempotency, unavailable, key=key)
    second, replayed = await run(runtime.idempotency, unavailable, key=key)

    assert (first.status_code, second.status_code, replayed, calls) == (503, 503, False, 2)


async def test_an_expired_lock_is_taken_over_and_the_slow_original_cannot_commit(
    runtime: Runtime,
) -> None:
    store = store_with(runtime, idempotency_lock_seconds=0)
    key = new_key()
    hold = asyncio.Event()
    # SQLite admits one writer at a time, so there the original stalls before it writes; on
    # PostgreSQL it stalls with its write done and its transaction open.
    slow = Recorder(hold=hold, hold_after_write=not runtime.db.is_sqlite)
    original = asyncio.create_task(run(store, slow, key=key))
    await slow.started.wait()

    try:
        response, replayed = await run(store, Recorder(), key=key)
    finally:
        hold.set()
    with pytest.raises(IdempotencyInFlight):
        await original

    assert (slow.calls, replayed) == (1, False)
    assert await merchants_created(runtime, slow.handles) == 0
    replay, replayed = await run(store, Recorder(), key=key)
    assert (replay, replayed) == (response, True)


async def test_a_taken_over_claim_cannot_complete(runtime: Runtime) -> None:
    store = store_with(runtime, idempotency_lock_seconds=0)
    key = new_key()
    taken = await store.begin(client_id="client-a", key=key, route=ROUTE, fingerprint="f")
    assert isinstance(taken, Claim)
    retry = await store.begin(client_id="client-a", key=key, route=ROUTE, fingerprint="f")
    assert isinstance(retry, Claim) and retry.owner != taken.owner
    work = Recorder()

    async with runtime.db.write_session() as session:
        response = await work(session)
        with pytest.raises(IdempotencyInFlight):
            await store.complete(session, taken, response)
        await session.rollback()

    assert await merchants_created(runtime, work.handles) == 0
    async with runtime.db.write_session() as session:
        await store.complete(session, retry, response)
        await session.commit()
    replay = await store.begin(client_id="client-a", key=key, route=ROUTE, fingerprint="f")
    assert replay == response


async def test_concurrent_take_overs_of_an_expired_lock_yield_one_claim(runtime: Runtime) -> None:
    key = new_key()
    abandoned = await store_with(runtime, idempotency_lock_seconds=0).begin(
        client_id="client-a", key=key, route=ROUTE, fingerprint="f"
    )
    assert isinstance(abandoned, Claim)
    await warm_pool(runtime, 10)

    outcomes = await asyncio.gather(
        *(
            runtime.idempotency.begin(client_id="client-a", key=key, route=ROUTE, fingerprint="f")
            for _ in range(10)
        ),
        return_exceptions=True,
    )

    claims = [o for o in outcomes if isinstance(o, Claim)]
    refused = [o for o in outcomes if isinstance(o, IdempotencyInFlight)]
    assert (len(claims), len(refused)) == (1, 9)


async def test_concurrent_callers_after_expiry_run_the_work_once(runtime: Runtime) -> None:
    key = new_key()
    await run(store_with(runtime, idempotency_ttl_seconds=0), Recorder(), key=key)
    work = Recorder()
    await warm_pool(runtime, 10)

    outcomes = await asyncio.gather(
        *(run(runtime.idempotency, work, key=key) for _ in range(10)), return_exceptions=True
    )

    assert work.calls == 1
    assert all(isinstance(o, tuple | IdempotencyInFlight) for o in outcomes), outcomes
    assert len([o for o in outcomes if isinstance(o, tuple) and not o[1]]) == 1


async def test_keys_are_scoped_per_client(runtime: Runtime) -> None:
    work = Recorder()
    key = new_key()

    first, first_replayed = await run(runtime.idempotency, work, key=key, client_id="client-a")
    second, second_replayed = await run(runtime.idempotency, work, key=key, client_id="client-b")

    assert work.calls == 2
    assert (first_replayed, second_replayed) == (False, False)
    assert first.body != second.body


async def test_an_expired_record_is_treated_as_new(runtime: Runtime) -> None:
    store = store_with(runtime, idempotency_ttl_seconds=0)
    work = Recorder()
    key = new_key()
    await run(store, work, key=key, body=b'{"a": 1}')

    response, replayed = await run(store, work, key=key, body=b'{"a": 2}')

    assert replayed is False
    assert work.calls == 2
    assert orjson.loads(response.body)["handle"] == work.handles[1]


async def test_an_expired_record_still_in_flight_is_not_taken_over(runtime: Runtime) -> None:
    store = store_with(runtime, idempotency_ttl_seconds=0)
    hold = asyncio.Event()
    work = Recorder(hold=hold)
    key = new_key()
    first = asyncio.create_task(run(store, work, key=key))
    await work.started.wait()
    try:
        with pytest.raises(IdempotencyInFlight):
            await run(store, Recorder(), key=key, body=b'{"a": 2}')
    finally:
        hold.set()
    response, replayed = await first

    assert (work.calls, replayed, response.status_code) == (1, False, 201)


def test_fingerprint_ignores_json_spacing_and_key_order() -> None:
    assert fingerprint("POST", "/x", b'{"a": 1, "b": [1, 2]}') == fingerprint(
        "POST", "/x", b'{ "b":[1,2], "a":1 }'
    )
    assert fingerprint("POST", "/x", b'{"a": 1}') != fingerprint("POST", "/x", b'{"a": 2}')
    assert fingerprint("POST", "/x", b"{}") != fingerprint("POST", "/y", b"{}")
