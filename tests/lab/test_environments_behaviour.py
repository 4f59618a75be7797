"""What follows the calling client's environment in one unpinned deployment: the Operator hash
bypass, webhook URL rules (on save and at every send), the usage report; and a deployment
pinned with ``BESTOW_ENVIRONMENT`` refusing a client of another environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.models import Voucher, WebhookEndpoint
from bestow.webhooks import dispatcher
from tests.conftest import ADMIN_TOKEN, make_settings, unique
from tests.fixtures.apps import app_on
from tests.fixtures.receiver import Receiver
from tests.lab.env_helpers import issue_voucher, pinned_cli, product_code, voucher_client
from tests.operator.helpers import make_operator, sign
from tests.webhooks.helpers import (
    attempts,
    create_endpoint,
    deliveries,
    dispatching,
    make_client,
    poll,
    record_events,
    settle,
)

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BYPASS = "X-AUTH-REQUEST-HASH-BYPASS"


async def test_hash_bypass_follows_the_client(
    app_client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    assert settings.environment is None
    demo = await make_operator(runtime, environment="demo")
    production = await make_operator(runtime, environment="production")
    for operator, allowed in ((demo, True), (production, False)):
        headers = {"X-AUTH-OPERATOR-ID": str(operator.operator_id), BYPASS: "true"}
        response = await app_client.get("/v1/campaigns", headers=headers)
        if allowed:
            assert response.status_code == 200, response.text
        else:
            assert response.status_code == 401, response.text
            assert response.json()["responseCode"] == "Unauthorized"
            signed = {**headers, "X-AUTH-REQUEST-HASH": sign(operator.primary, "/v1/campaigns")}
            assert (await app_client.get("/v1/campaigns", headers=signed)).status_code == 200


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hooks", "http://example.com/hooks"])
async def test_local_webhook_urls_follow_the_client(
    app_client: httpx.AsyncClient, runtime: Runtime, url: str
) -> None:
    for environment, allowed in (("demo", True), ("uat", True), ("production", False)):
        client_id = await make_client(runtime, environment)
        response = await app_client.post(
            f"/admin/clients/{client_id}/webhook_endpoints", json={"url": url}, headers=ADMIN
        )
        if allowed:
            assert response.status_code == 201, f"{environment}: {response.text}"
        else:
            assert response.status_code == 400, f"{environment}: {response.text}"
            assert response.headers["content-type"] == "application/problem+json"
            assert "url" in response.text


async def test_claimed_deliveries_carry_their_clients_rules(runtime: Runtime) -> None:
    """The claim reads each endpoint's client's environment: strict for production only."""
    demo = await make_client(runtime, "demo")
    production = await make_client(runtime, "production")
    demo_endpoint, _ = await create_endpoint(runtime, demo, "http://127.0.0.1:9/hooks")
    production_endpoint, _ = await create_endpoint(runtime, production, "https://8.8.8.8/hooks")
    await record_events(runtime, demo)
    await record_events(runtime, production)
    await dispatcher.fan_out(runtime.db, probe=False)
    try:
        strict: dict[str, bool] = {}
        for _ in range(20):
            for item in await dispatcher.claim(
                runtime.db,
                runtime.sealer,
                worker_id=unique("wrk"),
                limit=100,
                lease=timedelta(seconds=30),
                probe=False,
            ):
                strict[item.target.id] = item.target.strict
            if {demo_endpoint, production_endpoint} <= set(strict):
                break
        assert strict[demo_endpoint] is False
        assert strict[production_endpoint] is True
    finally:
        await settle(runtime, demo_endpoint)
        await settle(runtime, production_endpoint)


async def test_dispatcher_follows_each_endpoints_client(
    runtime: Runtime, settings: Settings
) -> None:
    """Two endpoints on the same loopback receiver: a demo client's gets its delivery; a
    production client's (stored before the rules, or a name now resolving there) is refused at
    send time and never reaches the receiver."""
    async with Receiver() as receiver:
        demo = await make_client(runtime, "demo")
        production = await make_client(runtime, "production")
        demo_endpoint, _ = await create_endpoint(runtime, demo, receiver.url)
        production_endpoint, _ = await create_endpoint(runtime, production, "https://8.8.8.8/x")
        async with runtime.db.write_session() as session:
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == production_endpoint)
                .values(url=receiver.url)
            )
            await session.commit()
        [demo_event] = await record_events(runtime, demo)
        [production_event] = await record_events(runtime, production)
        try:
            async with dispatching(runtime, settings):

                async def refused() -> bool:
                    return any(not a.success for a in await attempts(runtime, production_endpoint))

                await receiver.wait_for(
                    1, predicate=lambda r: r.headers["webhook-id"] == demo_event
                )
                await poll(refused, "refused attempt of the production endpoint")
            [tried] = [a for a in await attempts(runtime, production_endpoint)][:1]
            assert tried.status_code is None
            assert "https" in (tried.error or ""), tried.error
            assert [d.state for d in await deliveries(runtime, demo_endpoint)] == ["succeeded"]
            ids = {r.headers["webhook-id"] for r in receiver.received}
            assert demo_event in ids and production_event not in ids
        finally:
            await settle(runtime, demo_endpoint)
            await settle(runtime, production_endpoint)


async def test_usage_counts_production_only(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await product_code(runtime)
    issued: dict[str, str] = {}
    for environment in ("demo", "uat", "production"):
        headers = await voucher_client(app_client, runtime, environment)
        voucher_id, _ = await issue_voucher(app_client, headers, product)
        issued[environment] = voucher_id
    async with runtime.db.write_session() as session:
        # Even a test client's voucher marked billable (by a bug, or by hand) is not counted.
        await session.execute(
            update(Voucher).where(Voucher.id == issued["uat"]).values(billable=True)
        )
        await session.commit()
        owners = dict(
            (
                await session.execute(
                    select(Voucher.id, Voucher.client_id).where(
                        Voucher.id.in_(list(issued.values()))
                    )
                )
            ).all()
        )
    month = utcnow().strftime("%Y-%m")

    async def counted(client_id: str, everything: bool = False) -> int:
        url = f"/admin/voucher_usage?month={month}&client_id={client_id}"
        response = await app_client.get(url + ("&all=true" if everything else ""), headers=ADMIN)
        assert response.status_code == 200, response.text
        return sum(line["count"] for line in response.json())

    assert await counted(owners[issued["production"]]) == 1
    assert await counted(owners[issued["demo"]]) == 0
    assert await counted(owners[issued["uat"]]) == 0
    assert await counted(owners[issued["demo"]], everything=True) == 1
    everyone = await app_client.get(f"/admin/voucher_usage?month={month}", headers=ADMIN)
    billed = {line["client_id"] for line in everyone.json()}
    assert owners[issued["production"]] in billed
    assert not billed & {owners[issued["demo"]], owners[issued["uat"]]}


async def test_pinned_deployment_refuses_another_environment_admin(
    database_url: str, var_dir: Path
) -> None:
    settings = make_settings(database_url, var_dir, environment="uat")
    async with app_on(settings) as http:
        refused = await http.post(
            "/admin/clients",
            json={"name": unique("pinned"), "environment": "production"},
            headers=ADMIN,
        )
        assert refused.status_code == 400, refused.text
        assert "environment" in refused.text
        made = await http.post("/admin/clients", json={"name": unique("pinned")}, headers=ADMIN)
        assert made.status_code == 201, made.text
        assert made.json()["environment"] == "uat"


def test_pinned_deployment_refuses_another_environment_cli(
    database_url: str, var_dir: Path
) -> None:
    name = unique("pinned-cli")
    refused = pinned_cli(
        database_url, var_dir, "uat", "clients", "create", "--name", name, "--environment", "demo"
    )
    assert refused.exit_code != 0
    assert "environment" in refused.stderr and "uat" in refused.stderr
    made = pinned_cli(database_url, var_dir, "uat", "clients", "create", "--name", name, "--json")
    assert made.exit_code == 0, made.stderr
    assert '"environment": "uat"' in made.stdout.replace('":"', '": "')
