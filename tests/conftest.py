"""Shared fixtures. Every database test runs on SQLite and, when available, on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bestow.app import build_runtime
from bestow.clients import service as clients
from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.actor import Actor
from bestow.merchants import service as merchants
from tests.fixtures import databases
from tests.fixtures.apps import app_on as app_on
from tests.fixtures.deployment import Deployment, Serving, serving, with_worker

ADMIN_TOKEN = "test-admin-token-vCktmnBmcUjYSzqA3f6kkhDR0qiyO6GZEOexrVAVNT4"
ACTOR = Actor("test")
GO_LIVE_OVERRIDE = "test fixture"
"""Production fixtures go live without a certified UAT client (``bestow.lab.golive``)."""


def pytest_report_header() -> list[str]:
    return [
        f"bestow databases: sqlite, postgresql={'yes' if databases.postgres_url() else 'no'}",
        f"bestow redis: {'yes' if databases.redis_url() else 'no'}",
    ]


SPAWNING_FIXTURES = frozenset({"served", "deployment"})
"""Fixtures that start ``bestow`` processes: a test using one is marked ``slow`` (``make test-fast``
leaves it out), as is every test that starts processes itself (marked by hand)."""


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that start processes ``slow``, then run the modules holding them first
    within each database's block, so that pytest-xdist's last tests are short ones and no
    worker is left alone with a long tail. pytest's grouping by database (all SQLite tests,
    then all PostgreSQL ones, then those without a database) is kept, so each database and
    its shared server are set up once per worker."""
    for item in items:
        if SPAWNING_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    blocks: dict[object, int] = {}
    slow_modules = {item.module for item in items if item.get_closest_marker("slow")}  # type: ignore[attr-defined]

    def key(item: pytest.Item) -> tuple[int, bool]:
        callspec = getattr(item, "callspec", None)
        database = callspec.params.get("database_url") if callspec else None
        block = blocks.setdefault(database, len(blocks))
        return block, getattr(item, "module", None) not in slow_modules

    items.sort(key=key)


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


def _db_params() -> list[object]:
    params: list[object] = [pytest.param("sqlite", id="sqlite")]
    if databases.postgres_url():
        params.append(pytest.param("postgresql", id="postgresql"))
    return params


@pytest.fixture(scope="session", params=_db_params())
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of each kind, for the whole run."""
    if request.param == "sqlite":
        yield from databases.migrated(databases.sqlite_url(tmp_path_factory.mktemp("sqlite")))
        return
    base = databases.postgres_url()
    assert base is not None
    url = databases.create_postgres_database(base)
    try:
        yield from databases.migrated(url)
    finally:
        databases.drop_postgres_database(base, url)


@pytest.fixture(scope="session")
def served(
    database_url: str, var_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Serving]:
    """A real ``bestow serve`` on each test database, seeded with the demo by the CLI: one per
    database and per xdist worker, shared by every module that uses ``deployment``."""
    with serving(database_url, var_dir, tmp_path_factory.mktemp("deployment")) as server:
        yield server


@pytest.fixture(scope="module")
def deployment(served: Serving, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """The shared server and a ``bestow worker`` for this module only: a worker left running for
    the session would take the jobs and webhook deliveries of other tests on the same database.
    Its tests must leave the demo as they found it (its clients' tiers and secrets) and make
    their own campaigns; a module that cannot builds its own with ``deployment.deployed``."""
    with with_worker(served, request.module.__name__.rsplit(".", 1)[-1]) as deployment:
        yield deployment


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own, not migrated: the migration tests move it up and down."""
    if request.param == "sqlite":
        yield databases.sqlite_url(tmp_path)
        return
    base = databases.postgres_url()
    if base is None:
        pytest.skip("PostgreSQL is not available")
    url = databases.create_postgres_database(base)
    try:
        yield url
    finally:
        databases.drop_postgres_database(base, url)


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    return f"bestow-test-{uuid.uuid4().hex[:8]}"


def make_settings(database_url: str, var_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "var_dir": var_dir,
        "admin_token": ADMIN_TOKEN,
        "secret_key": "test-secret-key-GtBMkZLOobCcQmeVCcWtFLRRYQxBN0wpRbSqPwddtpA",
        "log_json": True,
        "worker_poll_seconds": 0.05,
        # Suites that send wrong credentials by the hundred (security, fuzz) are not throttled;
        # the throttle's tests set their own limits.
        "auth_failures_per_address": 100_000,
        "auth_failures_per_identity": 100_000,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str, var_dir: Path) -> Settings:
    return make_settings(database_url, var_dir)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """The services of a deployment, without HTTP: for service tests."""
    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        await rt.db.dispose()


@pytest.fixture
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the application (ASGI transport, lifespan run): one application per
    database and xdist worker, its state reset for each test (``tests/fixtures/apps.py``)."""
    async with app_on(settings) as client:
        yield client


@dataclass
class PartnerWorld:
    """A merchant granted to a partner client, and another client's merchant beside it."""

    client_id: str
    token: str
    merchant_id: str
    other_client_id: str
    other_token: str
    other_merchant_id: str

    def headers(self, **extra: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "X-ClientId": self.client_id,
            "Accept-Version": "v4.0",
            **extra,
        }

    def other_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.other_token}",
            "X-ClientId": self.other_client_id,
            "Accept-Version": "v4.0",
        }


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def make_partner(
    runtime: Runtime,
    *,
    tier: str = "default",
    scopes: tuple[str, ...] = ("rewards.issue",),
    environment: str | None = None,
) -> tuple[str, str, str]:
    """A client with a partner token and one granted merchant: (client_id, token, merchant_id);
    of ``environment`` (unset: the deployment's pin, else demo)."""
    async with runtime.db.write_session() as session:
        merchant = await merchants.create_merchant(
            session,
            name="Test Merchant",
            handle=unique("m"),
            time_zone="America/New_York",
            actor=ACTOR,
        )
        await merchants.create_location(
            session, merchant_id=merchant.id, name="Main Street", city="Springfield", actor=ACTOR
        )
        client = await clients.create_client(
            session,
            name=unique("partner"),
            scopes=list(scopes),
            rate_limit_tier=tier,
            known_tiers=runtime.rate_limiter.tier_names(),
            environment=environment,
            pinned=runtime.settings.environment,
            actor=ACTOR,
        )
        issued = await clients.issue_credential(
            session,
            runtime.sealer,
            client_id=client.id,
            kind=clients.PARTNER_TOKEN,
            override_reason=GO_LIVE_OVERRIDE,
            pinned=runtime.settings.environment,
            actor=ACTOR,
        )
        await clients.grant_merchant(
            session, client_id=client.id, merchant_id=merchant.id, actor=ACTOR
        )
        await session.commit()
    return client.id, issued.secret, merchant.id


@pytest.fixture
async def partner(runtime: Runtime) -> PartnerWorld:
    first = await make_partner(runtime)
    second = await make_partner(runtime)
    return PartnerWorld(*first, *second)
