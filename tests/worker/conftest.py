"""Fixtures for worker tests: a queue of the test's own, and an effects table."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bestow.deps import Runtime
from tests.fixtures.tasks import create_effects_table, drop_effects_table
from tests.worker.support import delete_queue, unique_queue


@pytest.fixture
async def queue(runtime: Runtime) -> AsyncIterator[str]:
    """A queue no other test uses, so that a worker here only ever sees this test's jobs."""
    name = unique_queue()
    yield name
    await delete_queue(runtime.db, name)


@pytest.fixture
async def effects_table(runtime: Runtime) -> AsyncIterator[str]:
    table = await create_effects_table(runtime.db)
    yield table
    await drop_effects_table(runtime.db, table)
