"""``bestow rewards list`` and ``bestow members history``: the same pages as the Admin API's
listings, in process with Typer's runner, on each test database."""

from __future__ import annotations

import asyncio

from typer.testing import Result

from bestow.deps import Runtime
from bestow.kit.ids import new_id
from bestow.views.rewards import COLUMNS
from tests.cli.helpers import Invoke, failed, ok
from tests.surfaces.admin.rewards_helpers import (
    add_points,
    add_rewards,
    add_voucher,
    at,
    new_member,
    new_merchant,
)


async def run(cli: Invoke, *args: str) -> Result:
    """The command in a thread: the runtime fixture's engine keeps the event loop."""
    return await asyncio.to_thread(cli, *args)


async def test_cli_lists_rewards_by_each_filter_newest_first(cli: Invoke, runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    member_id = await new_member(runtime, merchant_id)
    other = await new_member(runtime, merchant_id)
    campaign_id, job_id, client_id = new_id("cmp"), new_id("job"), new_id("cli")
    mine = {"merchant_id": merchant_id, "member_id": member_id}
    first, revoked, others = await add_rewards(
        runtime,
        [
            {**mine, "campaign_id": campaign_id, "job_id": job_id, "client_id": client_id},
            {**mine, "campaign_id": campaign_id, "state": "revoked", "revoked_at": at(3)},
            {"merchant_id": merchant_id, "member_id": other, "job_id": job_id},
        ],
    )

    async def listed(*args: str) -> list[str]:
        page = ok(await run(cli, "rewards", "list", *args, "--json"))
        return [reward["id"] for reward in page["data"]]

    assert await listed("--member", member_id) == [revoked, first]
    assert await listed("--campaign", campaign_id) == [revoked, first]
    assert await listed("--job", job_id) == [others, first]
    assert await listed("--client", client_id) == [first]
    assert await listed("--merchant", merchant_id, "--state", "revoked") == [revoked]
    assert await listed("--merchant", merchant_id, "--state", "active") == [others, first]

    shown = ok(await run(cli, "rewards", "list", "--member", member_id, "--json"))
    assert shown["next_cursor"] is None
    assert shown["data"][0]["issued_at"] == "2031-05-01T12:01:00Z"
    assert shown["data"][0]["revoked_at"] == "2031-05-01T12:03:00Z"

    table = await run(cli, "rewards", "list", "--job", job_id)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == list(COLUMNS)
    assert [line.split()[0] for line in lines[1:]] == [others, first]

    bad = await run(cli, "rewards", "list", "--state", "issued")
    assert bad.exit_code == 2 and "--state" in bad.output


async def test_cli_reward_pages_follow_the_cursor(cli: Invoke, runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    member_id = await new_member(runtime, merchant_id)
    made = await add_rewards(runtime, [{"merchant_id": merchant_id, "member_id": member_id}] * 3)

    first = ok(await run(cli, "rewards", "list", "--member", member_id, "--limit", "2", "--json"))
    assert [r["id"] for r in first["data"]] == made[:0:-1]
    cursor = first["next_cursor"]
    rest = ok(
        await run(cli, "rewards", "list", "--member", member_id, "--cursor", cursor, "--json")
    )
    assert ([r["id"] for r in rest["data"]], rest["next_cursor"]) == ([made[0]], None)

    table = await run(cli, "rewards", "list", "--member", member_id, "--limit", "2")
    assert table.exit_code == 0 and f"more: --cursor {cursor}" in table.stderr
    assert "cursor" in failed(await run(cli, "rewards", "list", "--cursor", "nope"))


async def test_cli_prints_a_members_history(cli: Invoke, runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    member_id = await new_member(runtime, merchant_id)
    (reward,) = await add_rewards(runtime, [{"merchant_id": merchant_id, "member_id": member_id}])
    voucher = await add_voucher(runtime, member_id, at(10), reward_id=reward)
    (points,) = await add_points(runtime, merchant_id, member_id, [(-40, at(20))])

    page = ok(await run(cli, "members", "history", member_id, "--json"))
    assert [(e["type"], e["id"]) for e in page["data"]] == [
        ("points", points),
        ("voucher", voucher.id),
        ("reward", reward),
    ]
    assert page["data"][1]["code"] == voucher.code and page["next_cursor"] is None

    first = ok(await run(cli, "members", "history", member_id, "--limit", "2", "--json"))
    assert [e["id"] for e in first["data"]] == [points, voucher.id]
    rest = ok(
        await run(cli, "members", "history", member_id, "--cursor", first["next_cursor"], "--json")
    )
    assert ([e["id"] for e in rest["data"]], rest["next_cursor"]) == ([reward], None)

    table = await run(cli, "members", "history", member_id)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["time", "type", "id", "summary"]
    assert lines[1].split()[1:] == ["points", points, "-40", "points", "(adhoc),", "balance", "-40"]
    assert voucher.code in lines[2] and "active" in lines[2]
    assert voucher.pin not in table.stdout.split()
    assert lines[3].split()[1:4] == ["reward", reward, "discount"]

    assert "not found" in failed(await run(cli, "members", "history", new_id("mbr")))
    assert "cursor" in failed(await run(cli, "members", "history", member_id, "--cursor", "x"))
