"""Fixtures of the Loyalty API tests."""

from __future__ import annotations

import httpx
import pytest

from bestow.deps import Runtime
from tests.loyalty.helpers import Programme, make_programme


@pytest.fixture
async def programme(app_client: httpx.AsyncClient, runtime: Runtime) -> Programme:
    """A new programme (``helpers.make_programme``): a merchant with its business units and
    rewards, and a client granted it with the ad hoc feature."""
    return await make_programme(app_client, runtime)
