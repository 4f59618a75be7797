"""On PostgreSQL a commit with new deliveries wakes the dispatchers instead of their poll."""

from __future__ import annotations

import pytest

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.ids import new_id
from bestow.webhooks import fanout
from tests.fixtures.receiver import Received, Receiver
from tests.webhooks.helpers import create_endpoint, event_row, make_client
from tests.worker.support import running_worker

LONG_POLL = 60.0
"""Longer than the test waits: a delivery that arrives was woken, not polled."""


async def test_deliveries_written_with_a_change_wake_the_dispatcher(
    runtime: Runtime, settings: Settings
) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("SQLite has no NOTIFY; its dispatchers poll")
    client_id = await make_client(runtime)
    async with Receiver() as receiver:
        await create_endpoint(runtime, client_id, receiver.url)
        async with running_worker(
            runtime.db, settings, f"q-{new_id('q')[-8:]}", webhook_poll_seconds=LONG_POLL
        ):
            # The first may be found by the start-up look; the second arrives while the
            # dispatcher waits in its long poll, so only the NOTIFY can bring it.
            for _ in range(2):
                event_id = await write_event(runtime, client_id)

                def is_it(request: Received, wanted: str = event_id) -> bool:
                    return request.headers["webhook-id"] == wanted

                await receiver.wait_for(1, timeout=10, predicate=is_it)


async def write_event(runtime: Runtime, client_id: str) -> str:
    event = event_row(client_id)
    async with runtime.db.write_session() as session:
        assert await fanout.write_events(session, [event]) == 1
        await session.commit()
    return str(event["id"])
