"""One deployment per database for the boundary tests: the security world (two clients on every
surface and client A's objects), at the production body limit so that 10 kB values reach the
fields instead of the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bestow.config import Settings
from tests.security.world import World, open_world

BODY_LIMIT = Settings.model_fields["max_body_bytes"].default


@pytest.fixture(scope="package")
async def world(database_url: str, var_dir: Path) -> AsyncIterator[World]:
    async with open_world(database_url, var_dir, max_body_bytes=BODY_LIMIT) as opened:
        yield opened
