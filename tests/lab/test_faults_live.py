"""The SDK against a real ``bestow serve`` with each request fault on: for every kind, by a
rule (on each surface) and by the ``X-Bestow-Fault`` header, the first answer is the fault and
the SDK's retries end with exactly one effect (an issuance job, a voucher order, a points
transaction, an enrollment), counted in the database. A production client in the same
deployment ignores the header and a rule, and cannot be given one. ``bestow-client`` says which
environment it talked to."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bestow.deps import Runtime
from bestow.models import FaultRule
from bestow_client import AsyncBestow
from tests.fixtures.deployment import Serving
from tests.lab.fault_helpers import (
    FAULT,
    Scenario,
    Traffic,
    add_rule_sync,
    first_only,
    logged_faults,
    post_rule,
    recovered,
    rules_sync,
    scenario,
    sdk,
)

pytestmark = pytest.mark.slow  # live servers: out of make test-fast

SURFACES = ("partner", "vouchers", "loyalty", "operator")
DELAY_MS = 3000
SLOW_TIMEOUT = 1.0
"""The SDK's timeout against a slow answer: it gives up on the first attempt and retries."""
CLI = Path(sys.executable).with_name("bestow-client")


def admin_token(served: Serving) -> str:
    token: str = json.loads(served.demo_json)["admin"]["token"]
    return token


def run(
    case: Scenario, traffic: Traffic, served: Serving, *, timeout: float = 30.0, hooks: Any = ()
) -> str | None:
    """The scenario's effect through the SDK; the environment the SDK saw."""
    with sdk(served.server.base_url, traffic, timeout=timeout, hooks=hooks) as bestow:
        case.act(bestow)
        return bestow.environment


def assert_first_answer_was(kind: str, answer: str, case: Scenario, traffic: Traffic) -> None:
    """The fault was really injected: the SDK's first attempt met it, a later one succeeded."""
    sent = traffic.to(case.path_part)
    statuses = traffic.statuses(case.path_part)
    assert len(sent) >= 2, (sent, statuses)
    assert 200 <= statuses[-1] < 300, statuses
    if kind == "rate_limit":
        assert statuses[0] == 429, statuses
    elif kind == "server_error":
        assert statuses[0] == 503, statuses
    elif kind == "lost_answer" and answer == "504":
        assert statuses[0] == 504, statuses
    else:
        # The connection was dropped, or the SDK timed out on the slow answer: one request
        # more than answers.
        assert len(sent) == len(statuses) + 1, (sent, statuses)


def wait_out_the_slow_request(kind: str, started: float) -> None:
    """A slow request the SDK gave up on still runs on the server after its delay (and then
    replays, doing nothing): count effects only once it has."""
    if kind == "slow":
        time.sleep(max(0.0, started + DELAY_MS / 1000 + 1.5 - time.monotonic()))


KINDS = [
    ("rate_limit", {}, ""),
    ("server_error", {}, ""),
    ("lost_answer", {"answer": "drop"}, "drop"),
    ("lost_answer", {"answer": "504"}, "504"),
    ("slow", {"delay_ms": DELAY_MS}, ""),
]


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize(
    ("kind", "params", "answer"), KINDS, ids=["rate_limit", "server_error", "drop", "504", "slow"]
)
async def test_the_sdk_survives_a_rule_with_exactly_one_effect(
    served: Serving,
    runtime: Runtime,
    surface: str,
    kind: str,
    params: dict[str, Any],
    answer: str,
) -> None:
    case = await scenario(runtime, served.server.base_url, surface)
    token = admin_token(served)
    add_rule_sync(
        served.server.base_url,
        token,
        case.client_id,
        kind=kind,
        count=1,
        route=case.route,
        params=params,
        ttl_seconds=600,
    )
    traffic = Traffic()
    started = time.monotonic()
    environment = run(case, traffic, served, timeout=SLOW_TIMEOUT if kind == "slow" else 30.0)
    wait_out_the_slow_request(kind, started)
    assert await case.effects() == 1
    assert_first_answer_was(kind, answer, case, traffic)
    assert environment == "demo"
    [rule] = rules_sync(served.server.base_url, token, case.client_id)
    assert rule["remaining"] == 0 and rule["live"] is False
    logged = logged_faults(served.server.base_url, token, case.client_id)
    assert [row for row in logged if row[2] == kind], logged
    assert recovered(logged), logged


HEADER_CASES = [
    ("vouchers", "rate_limit", {}),
    ("loyalty", "server_error", {}),
    ("operator", "lost_answer", {}),
    ("partner", "lost_answer", {"X-Bestow-Fault-Answer": "504"}),
    ("partner", "slow", {"X-Bestow-Fault-Delay-Ms": str(DELAY_MS)}),
]


@pytest.mark.parametrize(
    ("surface", "kind", "extra"), HEADER_CASES, ids=[f"{s}-{k}" for s, k, _ in HEADER_CASES]
)
async def test_the_sdk_survives_the_fault_header_with_exactly_one_effect(
    served: Serving, runtime: Runtime, surface: str, kind: str, extra: dict[str, str]
) -> None:
    """The header on the first attempt only, as a proxy in front of the integration would put
    it (the SDK sends the same request, headers and all, on every retry)."""
    case = await scenario(runtime, served.server.base_url, surface)
    traffic = Traffic()
    hook = first_only({FAULT: kind, **extra}, case.path_part)
    started = time.monotonic()
    run(case, traffic, served, timeout=SLOW_TIMEOUT if kind == "slow" else 30.0, hooks=(hook,))
    wait_out_the_slow_request(kind, started)
    assert await case.effects() == 1
    assert_first_answer_was(kind, extra.get("X-Bestow-Fault-Answer", "drop"), case, traffic)
    logged = logged_faults(served.server.base_url, admin_token(served), case.client_id)
    assert [row for row in logged if row[2] == kind], logged
    assert recovered(logged), logged


@pytest.mark.parametrize("surface", ("partner", "operator"))
async def test_a_production_client_beside_them_ignores_the_header_and_its_rule(
    served: Serving, runtime: Runtime, surface: str
) -> None:
    case = await scenario(runtime, served.server.base_url, surface, environment="production")
    token = admin_token(served)
    refused = post_rule(served.server.base_url, token, case.client_id, kind="rate_limit", count=5)
    assert refused.status_code == 400, refused.text
    assert refused.json()["field"] == "client_id"
    # A rule written behind the Admin API's back is ignored too.
    async with runtime.db.write_session() as session:
        session.add(FaultRule(client_id=case.client_id, kind="server_error", share=1.0, params={}))
        await session.commit()
    traffic = Traffic()

    def every_request(request: httpx.Request) -> None:
        request.headers[FAULT] = "lost_answer"

    environment = run(case, traffic, served, hooks=(every_request,))
    assert await case.effects() == 1
    assert traffic.statuses(case.path_part) == [200 if surface == "operator" else 202]
    assert environment == "production"
    assert traffic.environments == {"production"}


async def test_the_async_sdk_survives_a_dropped_answer_with_exactly_one_effect(
    served: Serving, runtime: Runtime
) -> None:
    case = await scenario(runtime, served.server.base_url, "vouchers")
    add_rule_sync(
        served.server.base_url,
        admin_token(served),
        case.client_id,
        kind="lost_answer",
        count=1,
        route=case.route,
    )
    sent: list[str] = []
    answered: list[int] = []

    async def on_request(request: httpx.Request) -> None:
        sent.append(request.url.path)

    async def on_response(response: httpx.Response) -> None:
        answered.append(response.status_code)

    http = httpx.AsyncClient(
        base_url=served.server.base_url,
        event_hooks={"request": [on_request], "response": [on_response]},
    )
    async with AsyncBestow(
        base_url=served.server.base_url, app_name="faults", http_client=http
    ) as bestow:
        vouchers = bestow.vouchers(**case.credentials)
        [order] = await vouchers.issue(case.product)
    assert len(order.vouchers) == 1 and order.replayed  # the retry got the stored answer
    assert await case.effects() == 1
    issued = [path for path in sent if path.startswith("/v3/products/")]
    assert len(issued) == 2  # the first answer never came
    assert bestow.environment == "demo"


def test_bestow_client_says_which_environment_it_talks_to(served: Serving, tmp_path: Path) -> None:
    demo = tmp_path / "demo.json"
    demo.write_text(served.demo_json)
    done = subprocess.run(
        [str(CLI), "--base-url", served.server.base_url, "--demo-json", str(demo), "discover"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "bestow-client: environment: demo" in done.stderr
    assert "environment" not in done.stdout
