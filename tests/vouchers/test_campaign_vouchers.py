"""Campaigns of kind ``voucher``: templates that point at a product, the batch issuance engine
issuing a voucher with each reward, stock, the ``reward.issued`` event and revocation."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from bestow.cli.main import app
from bestow.config import Settings, get_settings
from bestow.deps import Runtime
from bestow.kit.errors import Invalid
from bestow.models import IssuedReward, OutboxEvent, Product, Voucher
from bestow.vouchers import issuing, redemption
from tests.campaigns import failures, issue_campaign, revoke_job, small_chunks
from tests.conftest import ADMIN_TOKEN
from tests.surfaces.partner.helpers import (
    Partner,
    email,
    make_members,
    new_partner,
    worker_client,
)
from tests.vouchers.helpers import make_product, voucher_template

pytestmark = pytest.mark.asyncio

OUT_OF_STOCK = "Out of stock"


async def run_campaign(
    client: httpx.AsyncClient,
    runtime: Runtime,
    config: dict[str, Any],
    addresses: list[str],
    *,
    partner: Partner | None = None,
) -> tuple[Partner, dict[str, Any], dict[str, Any]]:
    """A voucher campaign issued to ``addresses`` and processed: (partner, campaign, job)."""
    partner = partner or await new_partner(runtime)
    template = await voucher_template(runtime, partner.merchant_id, config)
    campaign, job = await issue_campaign(client, partner, template.id, addresses)
    return partner, campaign, job


async def issue_to_members(
    settings: Settings,
    runtime: Runtime,
    config: dict[str, Any],
    addresses: list[str],
    *,
    members: list[str] | None = None,
    environment: str | None = None,
) -> tuple[Partner, list[str], dict[str, Any], dict[str, Any]]:
    """A new partner of ``environment`` whose merchant has members at ``members`` (by default
    every address), and a voucher campaign issued to ``addresses`` and processed by a worker:
    (partner, member ids, campaign, job)."""
    partner = await new_partner(runtime, environment=environment)
    member_ids = await make_members(
        runtime, partner.merchant_id, emails=addresses if members is None else members
    )
    async with worker_client(settings) as client:
        _, campaign, job = await run_campaign(client, runtime, config, addresses, partner=partner)
    return partner, member_ids, campaign, job


async def vouchers_of(runtime: Runtime, job_id: str) -> list[tuple[IssuedReward, Voucher]]:
    """The job's rewards with their vouchers, in identifier order."""
    async with runtime.db.session() as session:
        rows = await session.execute(
            select(IssuedReward, Voucher)
            .join(Voucher, Voucher.reward_id == IssuedReward.id)
            .where(IssuedReward.job_id == job_id)
            .order_by(IssuedReward.identifier_index)
        )
        return [(reward, voucher) for reward, voucher in rows]


async def rewards_of(runtime: Runtime, job_id: str) -> list[IssuedReward]:
    async with runtime.db.session() as session:
        rows = await session.scalars(select(IssuedReward).where(IssuedReward.job_id == job_id))
        return list(rows)


# --- Issuance ---------------------------------------------------------------------------------


async def test_a_voucher_campaign_issues_one_voucher_per_rewarded_member(
    settings: Settings, runtime: Runtime
) -> None:
    product = await make_product(runtime)
    addresses = [email("v0"), email("v1"), email("nobody"), email("v3")]
    partner, members, campaign, job = await issue_to_members(
        settings,
        runtime,
        {"product_code": product.code},
        addresses,
        members=[addresses[0], addresses[1], addresses[3]],
    )

    assert (job["state"], job["success_count"], failures(job)) == (
        "completed",
        3,
        [(2, "User not found")],
    )
    issued = await vouchers_of(runtime, job["id"])
    assert [(r.identifier_index, r.member_id, v.member_id) for r, v in issued] == [
        (0, members[0], members[0]),
        (1, members[1], members[1]),
        (3, members[2], members[2]),
    ]
    assert len({v.code for _, v in issued}) == 3
    for reward, voucher in issued:
        assert reward.kind == "voucher"
        assert (voucher.product_code, voucher.name, voucher.currency) == (
            product.code,
            "Ten dollars",
            "SGD",
        )
        assert (voucher.face_value, voucher.remaining_amount) == (1000, 1000)
        # A job's vouchers are its order, at their identifiers' indexes.
        assert (voucher.source, voucher.client_id, voucher.order_id, voucher.position) == (
            "campaign",
            partner.client_id,
            job["id"],
            reward.identifier_index,
        )
        assert voucher.billable is False
        assert voucher.valid_from == reward.valid_from
        assert voucher.valid_from is not None
        assert voucher.valid_from.isoformat() == campaign["redeemable_from"].replace("Z", "+00:00")
        assert voucher.expires_at == issuing.expiry(product, voucher.issued_at)
        assert voucher.status == "active"


async def test_each_reward_issued_event_carries_its_voucher(
    settings: Settings, runtime: Runtime
) -> None:
    product = await make_product(
        runtime, validity_days=None, valid_until=datetime(2035, 1, 31, 16, tzinfo=UTC)
    )
    addresses = [email("e0"), email("e1")]
    *_, job = await issue_to_members(settings, runtime, {"product_code": product.code}, addresses)

    by_reward = {r.id: v for r, v in await vouchers_of(runtime, job["id"])}
    async with runtime.db.session() as session:
        events = list(
            await session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.type == "reward.issued",
                    OutboxEvent.subject_id.in_(list(by_reward)),
                )
            )
        )
    assert len(events) == 2
    for event in events:
        voucher = by_reward[event.subject_id]
        assert event.payload["data"]["voucher"] == {
            "voucher_id": voucher.id,
            "voucher_code": voucher.code,
            "name": "Ten dollars",
            "status": "active",
            "product_code": product.code,
            "currency": "SGD",
            "face_value": 1000,
            "remaining_amount": 1000,
            "expiration": voucher.expires_at.isoformat(),
        }
        assert event.payload["data"]["reward_id"] == event.subject_id


async def test_an_open_value_campaign_issues_the_configured_face_value(
    settings: Settings, runtime: Runtime
) -> None:
    """Of a production client: its vouchers are billable."""
    product = await make_product(
        runtime, name="Coffee Voucher", is_open_value=True, face_value=None
    )
    addresses = [email("o0"), email("o1")]
    config = {"product_code": product.code, "face_value": 1234}
    *_, job = await issue_to_members(settings, runtime, config, addresses, environment="production")

    issued = await vouchers_of(runtime, job["id"])
    assert [(v.face_value, v.name, v.billable) for _, v in issued] == [
        (1234, "$12.34 Coffee Voucher", True)
    ] * 2


async def test_identifiers_beyond_the_stock_fail_out_of_stock(
    settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of two: the stock of three runs out in the second chunk."""
    small_chunks(settings, monkeypatch, 2)
    product = await make_product(runtime, stock=3)
    addresses = [email(f"s{n}") for n in range(6)]
    _, members, _, job = await issue_to_members(
        settings, runtime, {"product_code": product.code}, addresses, members=addresses[:5]
    )

    assert (job["state"], job["success_count"], job["failure_count"]) == ("completed", 3, 3)
    assert failures(job) == [(3, OUT_OF_STOCK), (4, OUT_OF_STOCK), (5, "User not found")]
    issued = await vouchers_of(runtime, job["id"])
    assert [v.member_id for _, v in issued] == members[:3]
    assert len(await rewards_of(runtime, job["id"])) == 3
    async with runtime.db.session() as session:
        assert await session.scalar(select(Product.stock).where(Product.id == product.id)) == 0


async def test_an_archived_product_fails_every_identifier(
    settings: Settings, runtime: Runtime
) -> None:
    product = await make_product(runtime)
    partner = await new_partner(runtime)
    template = await voucher_template(runtime, partner.merchant_id, {"product_code": product.code})
    addresses = [email("a0")]
    await make_members(runtime, partner.merchant_id, emails=addresses)
    async with runtime.db.write_session() as session:
        await session.execute(
            update(Product).where(Product.id == product.id).values(state="archived")
        )
        await session.commit()
    async with worker_client(settings) as client:
        _, job = await issue_campaign(client, partner, template.id, addresses)

    assert (job["state"], failures(job)) == ("failed", [(0, "Voucher product unavailable")])
    assert await rewards_of(runtime, job["id"]) == []


async def test_revoking_the_job_voids_its_vouchers_but_not_a_used_one(
    settings: Settings, runtime: Runtime
) -> None:
    product = await make_product(runtime)
    partner = await new_partner(runtime)
    addresses = [email("r0"), email("r1"), email("r2")]
    await make_members(runtime, partner.merchant_id, emails=addresses)
    async with worker_client(settings) as client:
        _, _, job = await run_campaign(
            client, runtime, {"product_code": product.code}, addresses, partner=partner
        )
        used = (await vouchers_of(runtime, job["id"]))[0][1]
        async with runtime.db.write_session() as session:
            await redemption.redeem(session, code=used.code, amount=None, actor="till")
            await session.commit()
        await revoke_job(client, partner, job["id"])

    issued = await vouchers_of(runtime, job["id"])
    assert [r.state for r, _ in issued] == ["revoked"] * 3
    assert [v.status for _, v in issued] == ["used", "voided", "voided"]


# --- Templates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "config.product_code must name a voucher product"),
        ({"product_code": "NO_SUCH_PRODUCT"}, "no active product NO_SUCH_PRODUCT"),
        ({"product_code": "{fixed}", "face_value": 500}, "face_value is only accepted"),
        ({"product_code": "{open}"}, "face_value is required for open-value products"),
        ({"product_code": "{open}", "face_value": 99}, "100 to 100000"),
        ({"product_code": "{open}", "face_value": "500"}, "must be an integer"),
        ({"product_code": "{fixed}", "colour": "red"}, "not colour"),
        ({"product_code": "{archived}"}, "no active product"),
    ],
)
async def test_a_voucher_template_needs_an_active_product_and_a_fitting_face_value(
    runtime: Runtime, config: dict[str, Any], message: str
) -> None:
    codes = {
        "{fixed}": (await make_product(runtime)).code,
        "{open}": (await make_product(runtime, is_open_value=True, face_value=None)).code,
        "{archived}": (await make_product(runtime)).code,
    }
    async with runtime.db.write_session() as session:
        await session.execute(
            update(Product).where(Product.code == codes["{archived}"]).values(state="archived")
        )
        await session.commit()
    partner = await new_partner(runtime)
    code = config.get("product_code")
    config = {**config, "product_code": codes.get(code, code)} if code else config
    with pytest.raises(Invalid) as raised:
        await voucher_template(runtime, partner.merchant_id, config)
    assert raised.value.field == "config"
    assert message in raised.value.message


async def test_the_admin_api_creates_a_voucher_template_or_answers_400(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await make_product(runtime, is_open_value=True, face_value=None)
    partner = await new_partner(runtime)
    path = f"/admin/merchants/{partner.merchant_id}/reward_templates"
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    body = {"kind": "voucher", "name": "Coffee", "config": {"product_code": product.code}}

    refused = await app_client.post(path, headers=admin, json=body)
    body["config"] = {"product_code": product.code, "face_value": 500}
    created = await app_client.post(path, headers=admin, json=body)
    kinds = await app_client.get("/admin/reward_kinds", headers=admin)

    assert refused.status_code == 400, refused.text
    assert "face_value is required" in refused.json()["detail"]
    assert created.status_code == 201, created.text
    assert {k: created.json()[k] for k in ("kind", "type", "subtype", "discount", "config")} == {
        "kind": "voucher",
        "type": "voucher",
        "subtype": "open_value",
        "discount": None,
        "config": {"product_code": product.code, "face_value": 500},
    }
    assert "voucher" in kinds.json()


@pytest.fixture
def cli_env(database_url: str, var_dir: Path) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "BESTOW_DATABASE_URL": database_url,
        "BESTOW_SECRET_KEY": "test-secret-key-GtBMkZLOobCcQmeVCcWtFLRRYQxBN0wpRbSqPwddtpA",
        "BESTOW_VAR_DIR": str(var_dir),
    }
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


async def test_the_cli_creates_a_voucher_template(
    runtime: Runtime, cli_env: dict[str, str]
) -> None:
    product = await make_product(runtime)
    partner = await new_partner(runtime)
    config = json.dumps({"product_code": product.code})
    runner = CliRunner()
    args = [
        *("templates", "create", partner.merchant_id),
        *("--name", "Ten", "--kind", "voucher", "--json"),
    ]

    # The CLI runs its own event loop: in a thread, beside the test's.
    created = await asyncio.to_thread(runner.invoke, app, [*args, "--config", config], env=cli_env)
    not_an_object = await asyncio.to_thread(
        runner.invoke, app, [*args, "--config", "[1]"], env=cli_env
    )

    assert created.exit_code == 0, created.output
    template = json.loads(created.stdout)
    assert (template["kind"], template["subtype"], template["discount"]) == (
        "voucher",
        "fixed",
        None,
    )
    assert template["config"] == {"product_code": product.code}
    assert not_an_object.exit_code == 2
