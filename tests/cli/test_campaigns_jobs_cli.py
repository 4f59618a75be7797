"""``bestow campaigns list``, ``bestow jobs list`` and ``bestow bulks list``: the Admin API's
listings of campaigns, issuance jobs and bulk enrollments, with its filters and cursor, in
process with Typer's runner and once as a real process, on each test database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from typer.testing import Result

from bestow.deps import Runtime
from tests.cli.helpers import Invoke, bestow, failed, ok
from tests.surfaces.admin.listings_world import World, build


@pytest.fixture
async def world(runtime: Runtime) -> World:
    return await build(runtime)


def command(cli: Invoke) -> Callable[..., Awaitable[Result]]:
    """``bestow ...`` in a thread: the runtime fixture's engine keeps the event loop."""

    async def run(*args: str) -> Result:
        return await asyncio.to_thread(cli, *args)

    return run


def ids(listed: dict[str, Any]) -> list[str]:
    return [item["id"] for item in listed["data"]]


async def test_campaigns_list_prints_the_admin_apis_page(cli: Invoke, world: World) -> None:
    run = command(cli)
    listed = ok(await run("campaigns", "list", "--client", world.a.client_id, "--json"))
    names = ["active", "scheduled", "cancelled", "ended"]
    assert ids(listed) == [world.campaigns[n] for n in names]
    assert [c["status"] for c in listed["data"]] == names
    assert listed["next_cursor"] is None
    assert [v["id"] for v in listed["data"][0]["variants"]] == [
        world.variants["treatment"],
        world.variants["control"],
    ]
    operator = ok(await run("campaigns", "list", "--client", world.operator_client_id, "--json"))
    assert [(c["surface"], c["variants"]) for c in operator["data"]] == [("operator", None)]


async def test_campaigns_list_filters_and_pages(cli: Invoke, world: World) -> None:
    run = command(cli)
    client = ("--client", world.a.client_id)
    ended = ok(await run("campaigns", "list", *client, "--status", "ended", "--json"))
    assert ids(ended) == [world.campaigns["ended"]]
    of_b = ok(await run("campaigns", "list", "--merchant", world.b.merchant_id, "--json"))
    assert ids(of_b) == [world.campaigns["b_active"]]
    none = ok(await run("campaigns", "list", *client, "--surface", "operator", "--json"))
    assert none == {"data": [], "next_cursor": None}
    first = ok(await run("campaigns", "list", *client, "--limit", "3", "--json"))
    assert first["next_cursor"]
    rest = ok(
        await run(
            "campaigns", "list", *client, "--limit", "3", "--cursor", first["next_cursor"], "--json"
        )
    )
    assert ids(first) + ids(rest) == [
        world.campaigns[n] for n in ("active", "scheduled", "cancelled", "ended")
    ]
    assert rest["next_cursor"] is None


async def test_campaigns_list_prints_a_table_and_where_to_go_on(cli: Invoke, world: World) -> None:
    result = await command(cli)("campaigns", "list", "--client", world.a.client_id, "--limit", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "id",
        "surface",
        "client_id",
        "merchant_id",
        "name",
        "status",
        "start_at",
        "end_at",
    ]
    assert world.campaigns["active"] in lines[1] and "active" in lines[1]
    assert world.campaigns["scheduled"] in lines[2]
    assert len(lines) == 3
    assert "more: --cursor " in result.stderr


async def test_jobs_list_filters_by_state_failures_and_window(cli: Invoke, world: World) -> None:
    run = command(cli)
    client = ("jobs", "list", "--client", world.a.client_id)
    every = ok(await run(*client, "--json"))
    assert ids(every) == [world.jobs[n] for n in ("pending", "failed", "partial", "done")]
    assert "identifiers" not in every["data"][0]
    assert every["data"][2]["failure_count"] == 2
    with_failures = ok(await run(*client, "--with-failures", "--json"))
    assert ids(with_failures) == [world.jobs["failed"], world.jobs["partial"]]
    without = ok(await run(*client, "--without-failures", "--json"))
    assert ids(without) == [world.jobs["pending"], world.jobs["done"]]
    completed = ok(await run(*client, "--state", "completed", "--json"))
    assert ids(completed) == [world.jobs["partial"], world.jobs["done"]]
    window = ok(
        await run(
            *client, "--since", "2031-03-10T02:00:00", "--until", "2031-03-10T04:00:00", "--json"
        )
    )
    assert ids(window) == [world.jobs["failed"], world.jobs["partial"]]
    campaign = ok(await run("jobs", "list", "--campaign", world.campaigns["b_active"], "--json"))
    assert ids(campaign) == [world.jobs["other"]]
    merchant = ok(await run("jobs", "list", "--merchant", world.b.merchant_id, "--json"))
    assert ids(merchant) == [world.jobs["other"]]
    first = ok(await run(*client, "--limit", "3", "--json"))
    rest = ok(await run(*client, "--limit", "3", "--cursor", first["next_cursor"], "--json"))
    assert ids(first) + ids(rest) == ids(every)
    assert rest["next_cursor"] is None


async def test_bulks_list_filters_by_status_failures_reward_and_window(
    cli: Invoke, world: World
) -> None:
    run = command(cli)
    client = ("bulks", "list", "--client", world.operator_client_id)
    every = ok(await run(*client, "--json"))
    assert ids(every) == [world.bulks[n] for n in ("pending", "failed", "partial", "done")]
    assert [b["status"] for b in every["data"]] == ["pending", "failed", "completed", "completed"]
    assert "player_ids" not in every["data"][0]
    failed_ = ok(await run(*client, "--status", "failed", "--json"))
    assert ids(failed_) == [world.bulks["failed"]]
    with_failures = ok(await run(*client, "--with-failures", "--json"))
    assert ids(with_failures) == [world.bulks["partial"]]
    reward = ok(await run("bulks", "list", "--reward", world.rewards["first"], "--json"))
    assert ids(reward) == [world.bulks["partial"], world.bulks["done"]]
    since = ok(await run(*client, "--since", "2031-03-10T03:00:00", "--json"))
    assert ids(since) == [world.bulks["pending"], world.bulks["failed"]]
    first = ok(await run(*client, "--limit", "2", "--json"))
    rest = ok(await run(*client, "--limit", "2", "--cursor", first["next_cursor"], "--json"))
    assert ids(first) + ids(rest) == ids(every)
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("campaigns", "list", "--status", "open"), "status is one of scheduled, active"),
        (("campaigns", "list", "--surface", "loyalty"), "surface is one of partner, operator"),
        (("campaigns", "list", "--cursor", "bm90IGEgY3Vyc29y"), "cursor"),
        (("jobs", "list", "--state", "done"), "state is one of pending, processing"),
        (("jobs", "list", "--cursor", "!!"), "cursor"),
        (("bulks", "list", "--status", "Completed"), "status is one of pending, processing"),
    ],
)
async def test_bad_filters_fail_with_one_line_naming_them(
    cli: Invoke, args: tuple[str, ...], message: str
) -> None:
    assert message in failed(await command(cli)(*args))


async def test_jobs_list_runs_as_a_real_process(cli_env: dict[str, str], world: World) -> None:
    done = await asyncio.to_thread(
        bestow, cli_env, "jobs", "list", "--client", world.b.client_id, "--json"
    )
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert ids(listed) == [world.jobs["other"]]
    assert listed["data"][0]["variant_id"] == world.variants["b_treatment"]
