"""``GET /admin/campaigns``, ``/admin/issuance_jobs`` and ``/admin/enrollment_bulks``: every
client's campaigns (both surfaces), issuance jobs and bulk enrollments, newest first, filtered
and paged by cursor, for the admin token only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bestow.deps import Runtime
from tests.surfaces.admin.helpers import ADMIN, assert_problem
from tests.surfaces.admin.listings_world import World, build

CAMPAIGNS, JOBS, BULKS = "/admin/campaigns", "/admin/issuance_jobs", "/admin/enrollment_bulks"


@pytest.fixture
async def world(runtime: Runtime) -> World:
    return await build(runtime)


async def listed(http: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await http.get(path, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def ids(http: httpx.AsyncClient, path: str, **params: Any) -> list[str]:
    page = await listed(http, path, **params)
    assert page["next_cursor"] is None
    return [item["id"] for item in page["data"]]


async def every_page(http: httpx.AsyncClient, path: str, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = await listed(http, path, **params, **({"cursor": cursor} if cursor else {}))
        pages.append([item["id"] for item in page["data"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "the cursor never ends"


# Campaigns


async def test_campaigns_list_a_clients_campaigns_newest_first_with_variants(
    app_client: httpx.AsyncClient, world: World
) -> None:
    page = await listed(app_client, CAMPAIGNS, client_id=world.a.client_id)
    names = ["active", "scheduled", "cancelled", "ended"]
    assert [c["id"] for c in page["data"]] == [world.campaigns[n] for n in names]
    assert [c["status"] for c in page["data"]] == names
    assert page["next_cursor"] is None
    active = page["data"][0]
    assert active["surface"] == "partner"
    assert active["client_id"] == world.a.client_id
    assert active["merchant_id"] == world.a.merchant_id
    assert active["name"] == "Active"
    assert active["variants"] == [
        {
            "id": world.variants["treatment"],
            "name": "Treatment",
            "reward_template_id": world.template_id,
            "is_control": False,
        },
        {
            "id": world.variants["control"],
            "name": "Control",
            "reward_template_id": None,
            "is_control": True,
        },
    ]
    assert page["data"][3]["variants"] == []
    assert page["data"][2]["cancelled_at"] is not None
    for key in ("start_at", "end_at", "redeemable_from", "redeemable_to", "created_at"):
        assert active[key] is not None, key


async def test_operator_campaigns_are_listed_with_no_merchant_and_no_variants(
    app_client: httpx.AsyncClient, world: World
) -> None:
    page = await listed(app_client, CAMPAIGNS, client_id=world.operator_client_id)
    [campaign] = page["data"]
    assert campaign["id"] == world.campaigns["operator"]
    assert campaign["surface"] == "operator"
    assert campaign["merchant_id"] is None
    assert campaign["variants"] is None
    assert campaign["redeemable_from"] is None
    assert campaign["status"] == "active"


@pytest.mark.parametrize("status", ["active", "scheduled", "ended", "cancelled"])
async def test_campaigns_filter_by_status(
    app_client: httpx.AsyncClient, world: World, status: str
) -> None:
    found = await ids(app_client, CAMPAIGNS, client_id=world.a.client_id, status=status)
    assert found == [world.campaigns[status]]


async def test_campaigns_filter_by_merchant_and_surface(
    app_client: httpx.AsyncClient, world: World
) -> None:
    of_b = await ids(app_client, CAMPAIGNS, merchant_id=world.b.merchant_id)
    assert of_b == [world.campaigns["b_active"]]
    operator = world.operator_client_id
    assert await ids(app_client, CAMPAIGNS, client_id=operator, surface="operator") == [
        world.campaigns["operator"]
    ]
    assert await ids(app_client, CAMPAIGNS, client_id=operator, surface="partner") == []
    page = await listed(app_client, CAMPAIGNS, surface="operator", limit=500)
    everywhere = [c["id"] for c in page["data"]]
    assert world.campaigns["operator"] in everywhere
    assert world.campaigns["active"] not in everywhere


async def test_campaigns_without_a_filter_are_every_clients_newest_first(
    app_client: httpx.AsyncClient, world: World
) -> None:
    page = await listed(app_client, CAMPAIGNS, limit=500)
    found = [c["id"] for c in page["data"]]
    assert found == sorted(found, reverse=True)
    mine = [c for c in found if c in world.campaigns.values()]
    assert mine == sorted(world.campaigns.values(), reverse=True)


async def test_campaign_pages_do_not_overlap_and_the_last_has_no_cursor(
    app_client: httpx.AsyncClient, world: World
) -> None:
    pages = await every_page(app_client, CAMPAIGNS, client_id=world.a.client_id, limit=3)
    assert pages == [
        [world.campaigns[n] for n in ("active", "scheduled", "cancelled")],
        [world.campaigns["ended"]],
    ]


# Issuance jobs


async def test_jobs_list_newest_first_with_counts_and_no_identifiers(
    app_client: httpx.AsyncClient, world: World
) -> None:
    page = await listed(app_client, JOBS, client_id=world.a.client_id)
    assert [j["id"] for j in page["data"]] == [
        world.jobs[n] for n in ("pending", "failed", "partial", "done")
    ]
    partial = page["data"][2]
    assert partial["campaign_id"] == world.campaigns["active"]
    assert partial["variant_id"] == world.variants["treatment"]
    assert partial["merchant_id"] == world.a.merchant_id
    assert partial["state"] == "completed"
    assert (partial["total_count"], partial["success_count"], partial["failure_count"]) == (
        3,
        1,
        2,
    )
    assert partial["progress_percent"] == 100
    assert partial["created_at"].startswith("2031-03-10T02:00:00")
    assert page["data"][0]["progress_percent"] == 0
    assert page["data"][1]["error"] == "every identifier failed"
    assert "identifiers" not in partial


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"state": "completed"}, ["partial", "done"]),
        ({"state": "failed"}, ["failed"]),
        ({"state": "revoked"}, []),
        ({"with_failures": "true"}, ["failed", "partial"]),
        ({"with_failures": "false"}, ["pending", "done"]),
        ({"since": "2031-03-10T02:00:00Z"}, ["pending", "failed", "partial"]),
        ({"until": "2031-03-10T02:00:00Z"}, ["done"]),
        # A time without an offset is UTC; with one, it is converted.
        ({"since": "2031-03-10T02:00:00", "until": "2031-03-10T04:00:00"}, ["failed", "partial"]),
        ({"until": "2031-03-10T05:30:00+02:00"}, ["failed", "partial", "done"]),
        # A date alone is its midnight, UTC.
        ({"since": "2031-03-10", "until": "2031-03-11"}, ["pending", "failed", "partial", "done"]),
        ({"until": "2031-03-10"}, []),
        ({"campaign_id": "cmp_00000000000000000000000000"}, []),
    ],
)
async def test_jobs_filter_by_state_failures_and_window(
    app_client: httpx.AsyncClient, world: World, params: dict[str, str], expected: list[str]
) -> None:
    found = await ids(app_client, JOBS, client_id=world.a.client_id, **params)
    assert found == [world.jobs[n] for n in expected]


async def test_jobs_filter_by_client_merchant_and_campaign(
    app_client: httpx.AsyncClient, world: World
) -> None:
    assert await ids(app_client, JOBS, client_id=world.b.client_id) == [world.jobs["other"]]
    assert await ids(app_client, JOBS, merchant_id=world.b.merchant_id) == [world.jobs["other"]]
    of_b = await ids(app_client, JOBS, campaign_id=world.campaigns["b_active"])
    assert of_b == [world.jobs["other"]]
    of_a = await ids(app_client, JOBS, campaign_id=world.campaigns["active"], state="failed")
    assert of_a == [world.jobs["failed"]]


async def test_job_pages_do_not_overlap_and_the_last_has_no_cursor(
    app_client: httpx.AsyncClient, world: World
) -> None:
    pages = await every_page(app_client, JOBS, client_id=world.a.client_id, limit=2)
    assert pages == [
        [world.jobs["pending"], world.jobs["failed"]],
        [world.jobs["partial"], world.jobs["done"]],
    ]


# Bulk enrollments


async def test_bulks_list_newest_first_with_counts_and_no_player_ids(
    app_client: httpx.AsyncClient, world: World
) -> None:
    page = await listed(app_client, BULKS, client_id=world.operator_client_id)
    assert [b["id"] for b in page["data"]] == [
        world.bulks[n] for n in ("pending", "failed", "partial", "done")
    ]
    assert [b["status"] for b in page["data"]] == ["pending", "failed", "completed", "completed"]
    partial = page["data"][2]
    assert partial["reward_id"] == world.rewards["first"]
    counts = ("total_count", "enrolled_count", "existing_count", "failed_count")
    assert [partial[c] for c in counts] == [4, 2, 1, 1]
    assert (partial["bet_value_minor"], partial["bet_count"]) == (125, 2)
    assert partial["created_at"].startswith("2031-03-10T02:00:00")
    assert page["data"][1]["error"] == "the reward was cancelled"
    assert "player_ids" not in partial


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "completed"}, ["partial", "done"]),
        ({"status": "failed"}, ["failed"]),
        ({"status": "processing"}, []),
        ({"with_failures": "true"}, ["partial"]),
        ({"with_failures": "false"}, ["pending", "failed", "done"]),
        ({"since": "2031-03-10T03:00:00Z"}, ["pending", "failed"]),
        ({"until": "2031-03-10T02:00:00"}, ["done"]),
        ({"since": "2031-03-10T03:00:00+01:00", "until": "2031-03-10T03:00:00"}, ["partial"]),
    ],
)
async def test_bulks_filter_by_status_failures_and_window(
    app_client: httpx.AsyncClient, world: World, params: dict[str, str], expected: list[str]
) -> None:
    found = await ids(app_client, BULKS, client_id=world.operator_client_id, **params)
    assert found == [world.bulks[n] for n in expected]


async def test_bulks_filter_by_reward_and_client(
    app_client: httpx.AsyncClient, world: World
) -> None:
    second = await ids(app_client, BULKS, reward_id=world.rewards["second"])
    assert second == [world.bulks["pending"], world.bulks["failed"]]
    assert await ids(app_client, BULKS, client_id=world.a.client_id) == []


async def test_bulk_pages_do_not_overlap_and_the_last_has_no_cursor(
    app_client: httpx.AsyncClient, world: World
) -> None:
    pages = await every_page(app_client, BULKS, client_id=world.operator_client_id, limit=3)
    assert pages == [
        [world.bulks["pending"], world.bulks["failed"], world.bulks["partial"]],
        [world.bulks["done"]],
    ]


# Refusals


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        (CAMPAIGNS, {"status": "open"}, "status"),
        (CAMPAIGNS, {"status": "Active"}, "status"),
        (CAMPAIGNS, {"surface": "loyalty"}, "surface"),
        (CAMPAIGNS, {"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        (CAMPAIGNS, {"limit": "0"}, "limit"),
        (JOBS, {"state": "done"}, "state"),
        (JOBS, {"since": "yesterday"}, "since"),
        (JOBS, {"until": "2031-13-01"}, "until"),
        (JOBS, {"with_failures": "maybe"}, "with_failures"),
        (JOBS, {"limit": "501"}, "limit"),
        (JOBS, {"cursor": "!!"}, "cursor"),
        (BULKS, {"status": "Completed"}, "status"),
        (BULKS, {"since": "soon"}, "since"),
        (BULKS, {"with_failures": "2"}, "with_failures"),
        (BULKS, {"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
    ],
)
async def test_bad_filters_are_refused_naming_the_field(
    app_client: httpx.AsyncClient, path: str, params: dict[str, str], field: str
) -> None:
    response = await app_client.get(path, params=params, headers=ADMIN)
    assert_problem(response, 400)
    assert response.json()["field"] == field


@pytest.mark.parametrize("path", [CAMPAIGNS, JOBS, BULKS])
async def test_the_lists_need_the_admin_token(
    app_client: httpx.AsyncClient, world: World, path: str
) -> None:
    assert_problem(await app_client.get(path), 401)
    assert_problem(await app_client.get(path, headers=world.a.headers()), 401)
