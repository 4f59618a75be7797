"""Operating a loyalty programme: the Admin API's reward definitions, a client's ad hoc reward
feature and a member's points, and the ``bestow loyalty`` commands on the same services. Both
on each test database."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from bestow.cli.main import app
from bestow.config import get_settings
from bestow.deps import Runtime
from bestow.loyalty import ledger
from bestow.members import service as members
from bestow.merchants import service as merchants
from tests.conftest import ACTOR, ADMIN_TOKEN, unique
from tests.oauth.helpers import oauth_client

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PROBLEM = "application/problem+json"

AsyncInvoke = Callable[..., Awaitable[Result]]


async def new_merchant(runtime: Runtime) -> str:
    async with runtime.db.write_session() as session:
        merchant = await merchants.create_merchant(
            session, name="Loyalty Admin", handle=unique("loy"), time_zone="UTC", actor=ACTOR
        )
        await session.commit()
    return merchant.id


async def new_member(runtime: Runtime, merchant_id: str) -> str:
    async with runtime.db.write_session() as session:
        member = await members.create_member(
            session, merchant_id=merchant_id, loyalty_id=unique("L"), actor=ACTOR
        )
        await session.commit()
    return member.id


async def move(runtime: Runtime, member_id: str, merchant_id: str, amount: int, ref: str) -> str:
    async with runtime.db.write_session() as session:
        movement = await ledger.move(
            session,
            member_id=member_id,
            merchant_id=merchant_id,
            amount=amount,
            reward_id="BONUS",
            issuer_id="till-1",
            business_unit="Downtown",
            channel="POS",
            external_reference_id=ref,
        )
        await session.commit()
    return movement.transaction.id


def problem(response: httpx.Response, status: int, field: str | None = None) -> str:
    """The detail of a problem+json refusal with that status (and field)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    if field is not None:
        assert body.get("field") == field, body
    detail: str = body["detail"]
    return detail


async def audit(app_client: httpx.AsyncClient, target_type: str, target_id: str) -> list[Any]:
    response = await app_client.get(
        "/admin/audit",
        params={"target_type": target_type, "target_id": target_id},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    return [(e["actor"], e["action"], e["changes"]) for e in response.json()["data"]]


# --- Admin API: reward definitions -----------------------------------------------------------


async def test_rewards_are_defined_listed_changed_and_audited(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    merchant_id = await new_merchant(runtime)
    base = f"/admin/merchants/{merchant_id}/loyalty_rewards"

    created = await app_client.post(
        base,
        json={"reward_id": "BONUS-100", "name": " Bonus ", "max_per_transaction": 1000},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    reward = created.json()
    assert reward["id"].startswith("lrw_")
    assert {k: reward[k] for k in ("merchant_id", "reward_id", "name", "enabled")} == {
        "merchant_id": merchant_id,
        "reward_id": "BONUS-100",
        "name": "Bonus",
        "enabled": True,
    }
    disabled = await app_client.post(
        base,
        json={"reward_id": "OLD", "name": "Old", "max_per_transaction": 5, "enabled": False},
        headers=ADMIN,
    )
    assert disabled.status_code == 201, disabled.text
    assert disabled.json()["enabled"] is False

    first = await app_client.get(base, params={"limit": 1}, headers=ADMIN)
    assert first.status_code == 200, first.text
    assert [r["reward_id"] for r in first.json()["data"]] == ["BONUS-100"]
    rest = await app_client.get(base, params={"cursor": first.json()["next_cursor"]}, headers=ADMIN)
    assert [r["reward_id"] for r in rest.json()["data"]] == ["OLD"]
    assert rest.json()["next_cursor"] is None

    path = f"/admin/loyalty_rewards/{reward['id']}"
    patched = await app_client.patch(
        path,
        json={"name": "Big bonus", "max_per_transaction": 2000, "enabled": False},
        headers=ADMIN,
    )
    assert patched.status_code == 200, patched.text
    again = await app_client.get(path, headers=ADMIN)
    assert again.status_code == 200
    assert again.json() == patched.json()
    assert (again.json()["name"], again.json()["max_per_transaction"]) == ("Big bonus", 2000)
    assert again.json()["enabled"] is False
    assert again.json()["reward_id"] == "BONUS-100"

    assert await audit(app_client, "loyalty_reward", reward["id"]) == [
        (
            "admin:env",
            "loyalty_reward.created",
            {"merchant_id": merchant_id, "reward_id": "BONUS-100", "max": 1000},
        ),
        (
            "admin:env",
            "loyalty_reward.updated",
            {"name": "Big bonus", "max_per_transaction": 2000, "enabled": False},
        ),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reward_id": "has space", "name": "N", "max_per_transaction": 1}, "reward_id"),
        ({"reward_id": "", "name": "N", "max_per_transaction": 1}, "reward_id"),
        ({"reward_id": "R", "name": "   ", "max_per_transaction": 1}, "name"),
        ({"reward_id": "R", "name": "N", "max_per_transaction": 0}, "max_per_transaction"),
        ({"reward_id": "R", "name": "N", "max_per_transaction": 10**9 + 1}, "max_per_transaction"),
        ({"reward_id": "R", "name": "N", "max_per_transaction": True}, "max_per_transaction"),
        ({"reward_id": "R", "name": "N", "max_per_transaction": "5"}, "max_per_transaction"),
        ({"reward_id": "R", "name": "N", "max_per_transaction": 5, "enabled": "no"}, "enabled"),
        ({"reward_id": "R", "name": "N"}, "max_per_transaction"),
        ({"reward_id": "R", "name": "N", "max_per_transaction": 5, "issuer": "x"}, "issuer"),
    ],
)
async def test_a_bad_definition_is_a_problem_naming_its_field(
    app_client: httpx.AsyncClient, runtime: Runtime, body: dict[str, Any], field: str
) -> None:
    merchant_id = await new_merchant(runtime)
    base = f"/admin/merchants/{merchant_id}/loyalty_rewards"
    problem(await app_client.post(base, json=body, headers=ADMIN), 400, field)
    listed = await app_client.get(base, headers=ADMIN)
    assert listed.json()["data"] == []


async def test_refusals_are_problems(app_client: httpx.AsyncClient, runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    base = f"/admin/merchants/{merchant_id}/loyalty_rewards"
    body = {"reward_id": "GOODWILL", "name": "Goodwill", "max_per_transaction": 500}
    created = await app_client.post(base, json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    path = f"/admin/loyalty_rewards/{created.json()['id']}"

    assert "exists" in problem(await app_client.post(base, json=body, headers=ADMIN), 409)
    # The same reward id in another programme is another reward.
    other = await app_client.post(
        f"/admin/merchants/{await new_merchant(runtime)}/loyalty_rewards", json=body, headers=ADMIN
    )
    assert other.status_code == 201, other.text

    unknown = "/admin/merchants/mer_unknown/loyalty_rewards"
    problem(await app_client.post(unknown, json=body, headers=ADMIN), 404)
    problem(await app_client.get(unknown, headers=ADMIN), 404)
    problem(await app_client.get("/admin/loyalty_rewards/lrw_unknown", headers=ADMIN), 404)
    problem(
        await app_client.patch("/admin/loyalty_rewards/lrw_unknown", json={}, headers=ADMIN), 404
    )
    for change, field in [
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"max_per_transaction": -1}, "max_per_transaction"),
        ({"max_per_transaction": None}, "max_per_transaction"),
        ({"enabled": None}, "enabled"),
        ({"enabled": 1}, "enabled"),
        ({"reward_id": "OTHER"}, "reward_id"),
    ]:
        problem(await app_client.patch(path, json=change, headers=ADMIN), 400, field)
    assert (await app_client.get(path, headers=ADMIN)).json() == created.json()

    problem(await app_client.get(base), 401)
    problem(await app_client.post(base, json=body, headers={"Authorization": "Bearer no"}), 401)


# --- Admin API: the ad hoc reward feature ----------------------------------------------------


async def test_the_adhoc_feature_is_turned_on_and_off_and_audited(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id, _, _ = await oauth_client(runtime, ("loyalty.adhoc_reward",), name="loyalty")
    path = f"/admin/clients/{client_id}/features/adhoc_reward"
    off = {"client_id": client_id, "feature": "adhoc_reward", "enabled": False}

    assert (await app_client.get(path, headers=ADMIN)).json() == off
    on = await app_client.put(path, json={"enabled": True}, headers=ADMIN)
    assert on.status_code == 200, on.text
    assert on.json() == {**off, "enabled": True}
    assert (await app_client.get(path, headers=ADMIN)).json() == {**off, "enabled": True}
    again = await app_client.put(path, json={"enabled": False}, headers=ADMIN)
    assert again.json() == off
    assert (await app_client.get(path, headers=ADMIN)).json() == off

    entries = await audit(app_client, "client", client_id)
    assert [e for e in entries if e[1] == "client.adhoc_reward_feature"] == [
        ("admin:env", "client.adhoc_reward_feature", {"enabled": True}),
        ("admin:env", "client.adhoc_reward_feature", {"enabled": False}),
    ]

    for body in ({}, {"enabled": "yes"}, {"enabled": 1}, {"enabled": True, "x": 1}):
        problem(await app_client.put(path, json=body, headers=ADMIN), 400)
    unknown = "/admin/clients/cli_unknown/features/adhoc_reward"
    problem(await app_client.put(unknown, json={"enabled": True}, headers=ADMIN), 404)
    problem(await app_client.get(unknown, headers=ADMIN), 404)
    problem(await app_client.put(path, json={"enabled": True}), 401)


# --- Admin API: a member's points ------------------------------------------------------------


async def test_a_members_points_show_the_balance_and_latest_transactions(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    merchant_id = await new_merchant(runtime)
    member_id = await new_member(runtime, merchant_id)
    path = f"/admin/members/{member_id}/points"

    empty = await app_client.get(path, headers=ADMIN)
    assert empty.status_code == 200, empty.text
    assert empty.json() == {
        "member_id": member_id,
        "merchant_id": merchant_id,
        "balance": 0,
        "transactions": [],
    }

    ids = [
        await move(runtime, member_id, merchant_id, amount, f"ref-{n}")
        for n, amount in enumerate((100, 250, -50))
    ]
    points = (await app_client.get(path, headers=ADMIN)).json()
    assert points["balance"] == 300
    assert [t["id"] for t in points["transactions"]] == ids[::-1]
    latest = points["transactions"][0]
    assert {k: latest[k] for k in ("amount", "balance_after", "kind", "reward_id")} == {
        "amount": -50,
        "balance_after": 300,
        "kind": "adhoc",
        "reward_id": "BONUS",
    }
    assert (latest["business_unit"], latest["channel"], latest["external_reference_id"]) == (
        "Downtown",
        "POS",
        "ref-2",
    )
    limited = await app_client.get(path, params={"limit": 2}, headers=ADMIN)
    assert [t["id"] for t in limited.json()["transactions"]] == ids[:0:-1]

    problem(await app_client.get(path, params={"limit": 0}, headers=ADMIN), 400, "limit")
    problem(await app_client.get("/admin/members/mbr_unknown/points", headers=ADMIN), 404)
    problem(await app_client.get(path), 401)


# --- CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli(database_url: str, var_dir: Path) -> Iterator[AsyncInvoke]:
    """``bestow`` in this process, on a thread of its own (a command runs its own event loop);
    settings read afresh from the test environment."""
    env = {
        **os.environ,
        "BESTOW_DATABASE_URL": database_url,
        "BESTOW_SECRET_KEY": "test-secret-key-GtBMkZLOobCcQmeVCcWtFLRRYQxBN0wpRbSqPwddtpA",
        "BESTOW_VAR_DIR": str(var_dir),
    }
    env.pop("BESTOW_ADMIN_TOKEN", None)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        get_settings.cache_clear()
        try:
            return runner.invoke(app, list(args), env=env, catch_exceptions=False)
        finally:
            get_settings.cache_clear()

    async def invoke_async(*args: str) -> Result:
        return await asyncio.to_thread(invoke, *args)

    yield invoke_async


def ok(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def refused(result: Result) -> str:
    """A command that failed as it should: exit 1, one line on stderr, no traceback."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    return result.stderr


async def test_the_cli_defines_lists_and_changes_rewards(
    cli: AsyncInvoke, app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    merchant_id = await new_merchant(runtime)
    other_id = await new_merchant(runtime)
    made = ok(
        await cli(
            "loyalty", "rewards", "create", merchant_id,
            "--reward-id", "BONUS-100", "--name", "Bonus", "--max", "1000", "--json",
        )
    )  # fmt: skip
    assert (made["reward_id"], made["max_per_transaction"], made["enabled"]) == (
        "BONUS-100",
        1000,
        True,
    )
    off = ok(
        await cli(
            "loyalty", "rewards", "create", merchant_id,
            "--reward-id", "OLD", "--name", "Old", "--max", "5", "--disabled", "--json",
        )
    )  # fmt: skip
    assert off["enabled"] is False
    ok(
        await cli(
            "loyalty", "rewards", "create", other_id,
            "--reward-id", "ELSEWHERE", "--name", "Elsewhere", "--max", "5", "--json",
        )
    )  # fmt: skip

    mine = ok(await cli("loyalty", "rewards", "list", "--merchant-id", merchant_id, "--json"))
    assert [r["reward_id"] for r in mine] == ["BONUS-100", "OLD"]
    everyone = ok(await cli("loyalty", "rewards", "list", "--json"))
    assert {"BONUS-100", "OLD", "ELSEWHERE"} <= {r["reward_id"] for r in everyone}
    table = await cli("loyalty", "rewards", "list", "--merchant-id", merchant_id)
    assert table.exit_code == 0, table.output
    assert "BONUS-100" in table.stdout and "max_per_transaction" in table.stdout

    changed = ok(
        await cli(
            "loyalty", "rewards", "update", made["id"],
            "--name", "Big bonus", "--max", "2000", "--disable", "--json",
        )
    )  # fmt: skip
    assert (changed["name"], changed["max_per_transaction"], changed["enabled"]) == (
        "Big bonus",
        2000,
        False,
    )
    assert ok(await cli("loyalty", "rewards", "update", made["id"], "--enable", "--json"))[
        "enabled"
    ]
    shown = ok(await cli("loyalty", "rewards", "show", made["id"], "--json"))
    assert (shown["name"], shown["enabled"]) == ("Big bonus", True)
    api = await app_client.get(f"/admin/loyalty_rewards/{made['id']}", headers=ADMIN)
    assert api.json() == shown

    assert await audit(app_client, "loyalty_reward", made["id"]) == [
        (
            f"cli:{getpass.getuser()}",
            "loyalty_reward.created",
            {"merchant_id": merchant_id, "reward_id": "BONUS-100", "max": 1000},
        ),
        (
            f"cli:{getpass.getuser()}",
            "loyalty_reward.updated",
            {"name": "Big bonus", "max_per_transaction": 2000, "enabled": False},
        ),
        (f"cli:{getpass.getuser()}", "loyalty_reward.updated", {"enabled": True}),
    ]

    create = ("loyalty", "rewards", "create", merchant_id, "--name", "N", "--max", "5")
    assert "exists" in refused(await cli(*create, "--reward-id", "OLD"))
    assert "reward_id" in refused(await cli(*create, "--reward-id", "bad id"))
    assert "not found" in refused(
        await cli("loyalty", "rewards", "create", "mer_unknown", "--reward-id", "R", "--name", "N",
            "--max", "5")
    )  # fmt: skip
    assert "not found" in refused(await cli("loyalty", "rewards", "list", "--merchant-id", "mer_x"))
    assert "nothing to change" in refused(await cli("loyalty", "rewards", "update", made["id"]))
    assert "not found" in refused(await cli("loyalty", "rewards", "update", "lrw_x", "--max", "3"))
    assert "max_per_transaction" in refused(
        await cli("loyalty", "rewards", "update", made["id"], "--max", str(10**9 + 1))
    )
    assert (await cli("loyalty", "rewards", "update", made["id"], "--max", "0")).exit_code == 2


async def test_the_cli_turns_the_adhoc_feature_on_and_off(
    cli: AsyncInvoke, app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id, _, _ = await oauth_client(runtime, ("loyalty.adhoc_reward",), name="loyalty")
    view = {"client_id": client_id, "feature": "adhoc_reward"}
    assert ok(await cli("loyalty", "adhoc-feature", client_id, "--json")) == {
        **view,
        "enabled": False,
    }
    assert ok(await cli("loyalty", "adhoc-feature", client_id, "--enable", "--json")) == {
        **view,
        "enabled": True,
    }
    api = await app_client.get(f"/admin/clients/{client_id}/features/adhoc_reward", headers=ADMIN)
    assert api.json()["enabled"] is True
    shown = await cli("loyalty", "adhoc-feature", client_id, "--disable")
    assert shown.exit_code == 0, shown.output
    assert "enabled    False" in shown.stdout
    assert ok(await cli("loyalty", "adhoc-feature", client_id, "--json"))["enabled"] is False
    entries = await audit(app_client, "client", client_id)
    assert [e[1:] for e in entries if e[1] == "client.adhoc_reward_feature"] == [
        ("client.adhoc_reward_feature", {"enabled": True}),
        ("client.adhoc_reward_feature", {"enabled": False}),
    ]
    assert "not found" in refused(await cli("loyalty", "adhoc-feature", "cli_unknown", "--enable"))
    assert "not found" in refused(await cli("loyalty", "adhoc-feature", "cli_unknown"))


async def test_the_cli_shows_a_members_balance(
    cli: AsyncInvoke, app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    merchant_id = await new_merchant(runtime)
    member_id = await new_member(runtime, merchant_id)
    empty = ok(await cli("loyalty", "balance", member_id, "--json"))
    assert (empty["balance"], empty["transactions"]) == (0, [])

    ids = [await move(runtime, member_id, merchant_id, n, f"cli-{n}") for n in (40, 2)]
    points = ok(await cli("loyalty", "balance", member_id, "--json"))
    api = await app_client.get(f"/admin/members/{member_id}/points", headers=ADMIN)
    assert points == api.json()
    assert points["balance"] == 42
    assert [t["id"] for t in points["transactions"]] == ids[::-1]
    latest = ok(await cli("loyalty", "balance", member_id, "--limit", "1", "--json"))
    assert [t["id"] for t in latest["transactions"]] == [ids[1]]

    table = await cli("loyalty", "balance", member_id)
    assert table.exit_code == 0, table.output
    assert "balance      42" in table.stdout
    assert ids[0] in table.stdout and "cli-40" in table.stdout
    assert "not found" in refused(await cli("loyalty", "balance", "mbr_unknown"))
