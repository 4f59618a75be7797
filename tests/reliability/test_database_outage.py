"""A PostgreSQL outage seen from a real ``bestow serve``: fast 503s in each surface's shape, an
honest ``/readyz``, and recovery without a restart.

The real PostgreSQL service is never touched: the server reaches its (fresh) database through a
small TCP proxy run by the test, in a thread of its own. Cutting the proxy closes its listener
(new connections are refused) and resets every connection it carries (pooled ones break);
restoring it listens again on the same port.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bestow.surfaces.common import classify
from tests.fixtures import databases, servers
from tests.fixtures.proxy import TcpProxy
from tests.reliability.helpers import via

OUTAGE_BOUND_SECONDS = 10.0
"""Each request during the outage must be answered (503) before this: generous for CI, far below
a hang (asyncpg's command timeout, the pool's timeout)."""
CLIENT_TIMEOUT_SECONDS = OUTAGE_BOUND_SECONDS + 20.0
RECOVERY_SECONDS = 30.0
CLI_TIMEOUT_SECONDS = 120


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    base = databases.postgres_url()
    if base is None:
        pytest.skip("PostgreSQL only: set BESTOW_TEST_DATABASE_URL")
    url = databases.create_postgres_database(base)
    try:
        yield url
    finally:
        databases.drop_postgres_database(base, url)


def bestow(env: Mapping[str, str], *args: str) -> str:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("BESTOW_")} | dict(env)
    done = subprocess.run(
        [*servers.BESTOW, *args],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"bestow {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def oauth(http: httpx.Client, client_id: str, secret: str) -> str:
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {pair}"},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@dataclass
class Probe:
    """One request of a surface, and the check of its error shape during the outage."""

    surface: str
    send: Callable[[httpx.Client], httpx.Response]
    shape: Callable[[dict[str, Any]], bool]


def probes(demo: dict[str, Any], http: httpx.Client) -> list[Probe]:
    partner = demo["partner"]
    partner_headers = {
        "Authorization": f"Bearer {partner['access_token']}",
        "X-ClientId": partner["client_id"],
        "Accept-Version": "v4.0",
    }
    vouchers = oauth(http, demo["vouchers"]["client_id"], demo["vouchers"]["client_secret"])
    loyalty = oauth(http, demo["loyalty"]["client_id"], demo["loyalty"]["client_secret"])
    correlation = "outage-1"
    session = http.post(
        f"/client/users/{demo['loyalty']['member']['account_id']}/sessions",
        json={"correlationId": correlation, "channel": "APP"},
        headers={"Authorization": f"Bearer {loyalty}"},
    )
    assert session.status_code == 200, session.text
    operator = demo["operator"]
    operator_url = "/v1/campaigns"
    operator_hash = hashlib.sha256(
        operator["primary_shared_key"].encode() + operator_url.encode()
    ).hexdigest()
    admin = {"Authorization": f"Bearer {demo['admin']['token']}"}
    return [
        Probe(
            "admin",
            lambda h: h.get("/admin/merchants", headers=admin),
            lambda b: b.get("status") == 503 and b.get("title") == "Service Unavailable",
        ),
        Probe(
            "partner",
            lambda h: h.get(
                "/partner/campaigns",
                params={"merchant_id": partner["merchant_id"]},
                headers=partner_headers,
            ),
            lambda b: b.get("code") == "SERVICE_UNAVAILABLE" and bool(b.get("message")),
        ),
        Probe(
            "vouchers",
            lambda h: h.get("/v3/products", headers={"Authorization": f"Bearer {vouchers}"}),
            lambda b: b.get("status") == 503 and b.get("code") == "503-000",
        ),
        Probe(
            "loyalty",
            lambda h: h.get(
                f"/client/users/{correlation}/transactions/history/v2",
                headers={"Authorization": f"Bearer {loyalty}"},
            ),
            lambda b: b.get("statusCode") == 503 and b.get("errorCode") == "SERVICE_UNAVAILABLE",
        ),
        Probe(
            "operator",
            lambda h: h.get(
                operator_url,
                headers={
                    "X-AUTH-OPERATOR-ID": str(operator["operator_id"]),
                    "X-AUTH-REQUEST-HASH": operator_hash,
                },
            ),
            lambda b: b.get("responseCode") == "ServiceUnavailable" and b.get("data") == {},
        ),
    ]


def timed(send: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


@pytest.mark.slow
def test_a_database_outage_answers_503_fast_and_recovers_without_a_restart(
    base_url: str, tmp_path: Path
) -> None:
    upstream = urlsplit(base_url)
    with TcpProxy(upstream.hostname or "127.0.0.1", upstream.port or 5432) as proxy:
        env = {
            "BESTOW_DATABASE_URL": via(base_url, proxy.port),
            "BESTOW_VAR_DIR": str(tmp_path / "var"),
            "BESTOW_SECRET_KEY": "outage-secret-key",
            "BESTOW_LOG_LEVEL": "WARNING",
        }
        bestow(env, "db", "upgrade")
        demo = json.loads(bestow(env, "demo", "--json"))
        with (
            servers.running(env, log_dir=tmp_path) as server,
            httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT_SECONDS) as http,
        ):
            checks = probes(demo, http)
            for probe in checks:
                response = probe.send(http)
                assert response.status_code == 200, (probe.surface, response.text)
            assert http.get("/readyz").json() == {"status": "ok", "database": "ok"}

            proxy.cut()
            for _ in range(2):  # the pool's broken connections first, then refused connects
                for probe in checks:
                    response, took = timed(lambda p=probe: p.send(http))  # type: ignore[misc]
                    assert response.status_code == 503, (probe.surface, response.text)
                    assert probe.shape(response.json()), (probe.surface, response.text)
                    assert took < OUTAGE_BOUND_SECONDS, (probe.surface, took)
            ready, took = timed(lambda: http.get("/readyz"))
            assert ready.status_code == 503, ready.text
            assert ready.json()["status"] == "unavailable"
            assert took < OUTAGE_BOUND_SECONDS
            assert http.get("/healthz").status_code == 200

            proxy.restore()
            deadline = time.monotonic() + RECOVERY_SECONDS
            while http.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "/readyz did not recover"
                time.sleep(0.2)
            for probe in checks:
                response = probe.send(http)
                assert response.status_code == 200, (probe.surface, response.text)
            assert server.process.poll() is None


@pytest.mark.slow
def test_the_first_request_after_an_outage_succeeds(base_url: str, tmp_path: Path) -> None:
    """Pooled connections broken by the outage are found on checkout (a pre-ping) and replaced:
    no request after the database is back pays for them with a 503."""
    upstream = urlsplit(base_url)
    with TcpProxy(upstream.hostname or "127.0.0.1", upstream.port or 5432) as proxy:
        env = {
            "BESTOW_DATABASE_URL": via(base_url, proxy.port),
            "BESTOW_VAR_DIR": str(tmp_path / "var"),
            "BESTOW_SECRET_KEY": "outage-secret-key",
            "BESTOW_LOG_LEVEL": "WARNING",
            # Every request reads the database: no credential is served from the cache.
            "BESTOW_AUTH_CACHE_SECONDS": "0",
        }
        bestow(env, "db", "upgrade")
        demo = json.loads(bestow(env, "demo", "--json"))
        with (
            servers.running(env, log_dir=tmp_path) as server,
            httpx.Client(base_url=server.base_url, timeout=CLIENT_TIMEOUT_SECONDS) as http,
        ):
            checks = probes(demo, http)
            for probe in checks:
                assert probe.send(http).status_code == 200, probe.surface
            # A request that finishes its database work before answering: the previous ones'
            # sessions are closed by then, so the cut below breaks idle pooled connections only.
            assert http.get("/readyz").status_code == 200
            proxy.cut()
            proxy.restore()
            for probe in checks:
                response = probe.send(http)
                assert response.status_code == 200, (probe.surface, response.text)


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),
        PoolTimeout("QueuePool limit of size 10 overflow 10 reached"),
        DBAPIError("SELECT 1", None, Exception("closed"), connection_invalidated=True),
    ],
    ids=["refused", "reset", "timeout", "pool-timeout", "invalidated"],
)
def test_an_unreachable_database_is_classified_unavailable(exc: Exception) -> None:
    info = classify(exc)
    assert (info.status, info.kind) == (503, "unavailable")
    assert info.headers == {"Retry-After": "1"}


def test_other_database_errors_are_not_unavailable() -> None:
    error = DBAPIError("SELECT 1", None, Exception("syntax error"))
    assert classify(error).status == 500
