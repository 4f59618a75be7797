"""The security deployment, built once per module and database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.security.world import World, open_world


@pytest.fixture(scope="module")
async def world(database_url: str, var_dir: Path) -> AsyncIterator[World]:
    async with open_world(database_url, var_dir) as opened:
        yield opened
