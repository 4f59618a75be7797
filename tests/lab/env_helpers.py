"""Helpers of the environment tests: one unpinned deployment holding clients of every
environment, vouchers issued and looked up by code, and the CLI on a pinned deployment."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from typer.testing import CliRunner, Result

from bestow.cli.main import app
from bestow.config import get_settings
from bestow.deps import Runtime
from tests.security.world import World, open_world, voucher_login
from tests.vouchers.helpers import create as create_product
from tests.vouchers.helpers import fixed

ENVIRONMENT_HEADER = "X-Bestow-Environment"
SECRET_KEY = "test-secret-key-GtBMkZLOobCcQmeVCcWtFLRRYQxBN0wpRbSqPwddtpA"


@asynccontextmanager
async def environments_world(
    database_url: str, var_dir: Path, a_environment: str
) -> AsyncIterator[World]:
    """The security world in one unpinned deployment: client A of ``a_environment`` on every
    surface, client B a demo one."""
    async with open_world(
        database_url, var_dir, a_environment=a_environment, b_environment="demo"
    ) as world:
        assert world.settings.environment is None, "the deployment must not be pinned"
        yield world


async def voucher_client(
    http: httpx.AsyncClient, runtime: Runtime, environment: str
) -> dict[str, str]:
    """The bearer headers of a new Voucher API client of ``environment`` (issue and redeem)."""
    _, _, headers = await voucher_login(http, runtime, environment)
    return headers


async def product_code(runtime: Runtime) -> str:
    return (await create_product(runtime, **fixed())).code


async def issue_voucher(
    http: httpx.AsyncClient, headers: dict[str, str], product: str
) -> tuple[str, str]:
    """One voucher of ``product`` issued by the client: (voucher id, voucher code)."""
    issued = await http.post(
        f"/v3/products/{product}",
        json={"quantity": 1},
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert issued.status_code == 200, issued.text
    [voucher] = issued.json()["vouchers"]
    return voucher["voucher_id"], voucher["voucher_code"]


async def merchant_calls(
    http: httpx.AsyncClient, headers: dict[str, str], code: str
) -> list[httpx.Response]:
    """The merchant side on a voucher code: look-up, redeem (all), void."""
    base = f"/v3/merchant/vouchers/{code}"
    return [
        await http.get(base, headers=headers),
        await http.post(f"{base}/redeem", json={}, headers=headers),
        await http.post(f"{base}/void", json={}, headers=headers),
    ]


def pinned_cli(database_url: str, var_dir: Path, environment: str, *args: str) -> Result:
    """A CLI command in this process on a deployment pinned to ``environment``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BESTOW_")} | {
        "BESTOW_DATABASE_URL": database_url,
        "BESTOW_SECRET_KEY": SECRET_KEY,
        "BESTOW_VAR_DIR": str(var_dir),
        "BESTOW_ENVIRONMENT": environment,
    }
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    finally:
        get_settings.cache_clear()
