"""Admin API: issued rewards (``GET /admin/rewards``) and a member's whole history
(``GET /admin/members/{member_id}/history``): every filter, newest first, cursor pages that never
overlap, the 400s naming the field, the 404 of an unknown member and the admin token. On each test
database."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.ids import new_id
from tests.surfaces.admin.helpers import ADMIN, assert_problem
from tests.surfaces.admin.rewards_helpers import (
    add_points,
    add_rewards,
    add_voucher,
    at,
    new_member,
    new_merchant,
)
from tests.surfaces.partner.helpers import (
    create_campaign,
    email,
    in_state,
    issue_body,
    make_members,
    make_template,
    new_partner,
    variant_id,
    wait_for_job,
    worker_client,
)

pytestmark = pytest.mark.asyncio


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def walk(client: httpx.AsyncClient, path: str, **params: Any) -> list[list[str]]:
    """Every page's ids, following the cursor to the end."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = await get(client, path, **params, **({"cursor": cursor} if cursor else {}))
        pages.append([item["id"] for item in page["data"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "the cursor never ends"


def assert_field(response: httpx.Response, field: str) -> None:
    assert_problem(response, 400)
    assert response.json()["field"] == field, response.json()


# Issued rewards -------------------------------------------------------------------------------


async def test_rewards_are_listed_newest_first_with_their_fields(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    merchant_id = await new_merchant(runtime)
    member_id = await new_member(runtime, merchant_id)
    campaign_id, variant_id, template_id, job_id = (new_id(p) for p in ("cmp", "var", "tpl", "job"))
    client_id = new_id("cli")
    first, second = await add_rewards(
        runtime,
        [
            {
                "merchant_id": merchant_id,
                "member_id": member_id,
                "client_id": client_id,
                "campaign_id": campaign_id,
                "variant_id": variant_id,
                "template_id": template_id,
                "job_id": job_id,
                "identifier_index": 0,
                "kind": "voucher",
                "state": "revoked",
                "valid_to": at(600),
                "revoked_at": at(30),
            },
            {"merchant_id": merchant_id, "member_id": member_id},
        ],
    )

    page = await get(app_client, "/admin/rewards", member_id=member_id)

    assert page["next_cursor"] is None
    assert [r["id"] for r in page["data"]] == [second, first]
    assert page["data"][1] == {
        "id": first,
        "kind": "voucher",
        "state": "revoked",
        "member_id": member_id,
        "merchant_id": merchant_id,
        "client_id": client_id,
        "campaign_id": campaign_id,
        "variant_id": variant_id,
        "job_id": job_id,
        "template_id": template_id,
        "valid_from": None,
        "valid_to": "2031-05-01T22:00:00Z",
        "issued_at": "2031-05-01T12:00:00Z",
        "revoked_at": "2031-05-01T12:30:00Z",
    }
    assert page["data"][0]["state"] == "active" and page["data"][0]["revoked_at"] is None


async def test_each_reward_filter_selects_its_rewards(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    merchant_id, other_merchant = await new_merchant(runtime), await new_merchant(runtime)
    member_id = await new_member(runtime, merchant_id)
    other_member = await new_member(runtime, merchant_id)
    stranger = await new_member(runtime, other_merchant)
    campaign_id, job_id, client_id = new_id("cmp"), new_id("job"), new_id("cli")
    mine = {"merchant_id": merchant_id, "member_id": member_id}
    ids = await add_rewards(
        runtime,
        [
            {**mine, "campaign_id": campaign_id, "job_id": job_id, "client_id": client_id},
            {**mine, "campaign_id": campaign_id, "state": "revoked", "revoked_at": at(5)},
            {**mine, "client_id": client_id},
            {"merchant_id": merchant_id, "member_id": other_member, "job_id": job_id},
            {"merchant_id": other_merchant, "member_id": stranger, "client_id": client_id},
        ],
    )
    by_job, revoked, by_client, others, strangers = ids

    async def listed(**params: str) -> list[str]:
        page = await get(app_client, "/admin/rewards", limit=500, **params)
        return [r["id"] for r in page["data"]]

    assert await listed(member_id=member_id) == [by_client, revoked, by_job]
    assert await listed(campaign_id=campaign_id) == [revoked, by_job]
    assert await listed(job_id=job_id) == [others, by_job]
    assert await listed(client_id=client_id) == [strangers, by_client, by_job]
    assert await listed(merchant_id=other_merchant) == [strangers]
    assert await listed(merchant_id=merchant_id, state="revoked") == [revoked]
    assert await listed(merchant_id=merchant_id, state="active") == [others, by_client, by_job]
    assert await listed(client_id=client_id, merchant_id=merchant_id) == [by_client, by_job]
    assert await listed(member_id=new_id("mbr")) == []
    everything = await listed()
    assert strangers in everything and others in everything


async def test_reward_pages_hold_every_reward_once_newest_first(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    merchant_id = await new_merchant(runtime)
    member_id = await new_member(runtime, merchant_id)
    made = await add_rewards(runtime, [{"merchant_id": merchant_id, "member_id": member_id}] * 5)

    pages = await walk(app_client, "/admin/rewards", member_id=member_id, limit=2)

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [reward for page in pages for reward in page] == made[::-1]


async def test_a_jobs_rewards_are_listed_as_issued_then_as_revoked(
    settings: Settings, runtime: Runtime
) -> None:
    async with worker_client(settings) as client:
        partner = await new_partner(runtime)
        template = await make_template(runtime, partner.merchant_id)
        campaign = await create_campaign(client, partner, template.id)
        addresses = [email("r0"), email("r1"), email("r2")]
        member_ids = await make_members(runtime, partner.merchant_id, emails=addresses)
        identifiers = [{"type": "email", "value": value} for value in addresses]
        accepted = await client.post(
            "/partner/campaigns/issue",
            headers=partner.headers(),
            json=issue_body(partner, campaign, identifiers, "Treatment"),
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["issuance_job"]["id"]
        await wait_for_job(client, partner, job_id, in_state("completed"))

        issued = (await get(client, "/admin/rewards", job_id=job_id))["data"]
        assert sorted(r["member_id"] for r in issued) == sorted(member_ids)
        expected = {
            "kind": "discount",
            "state": "active",
            "client_id": partner.client_id,
            "merchant_id": partner.merchant_id,
            "campaign_id": campaign["id"],
            "variant_id": variant_id(campaign, "Treatment"),
            "job_id": job_id,
            "template_id": template.id,
            "revoked_at": None,
        }
        assert all({k: r[k] for k in expected} == expected for r in issued), issued
        assert [r["id"] for r in issued] == sorted((r["id"] for r in issued), reverse=True)
        by_campaign = await get(client, "/admin/rewards", campaign_id=campaign["id"])
        assert [r["id"] for r in by_campaign["data"]] == [r["id"] for r in issued]

        revoke = await client.post(
            f"/partner/issuance_jobs/{job_id}/revoke",
            headers=partner.headers(),
            json={"merchant_id": partner.merchant_id},
        )
        assert revoke.status_code == 202, revoke.text
        await wait_for_job(client, partner, job_id, in_state("revoked"))

        revoked = await get(client, "/admin/rewards", job_id=job_id, state="revoked")
        assert [r["id"] for r in revoked["data"]] == [r["id"] for r in issued]
        assert all(r["revoked_at"] is not None for r in revoked["data"])
        assert (await get(client, "/admin/rewards", job_id=job_id, state="active"))["data"] == []
        history = await get(client, f"/admin/members/{member_ids[0]}/history")
        [entry] = history["data"]
        mine = next(r for r in revoked["data"] if r["member_id"] == member_ids[0])
        assert (entry["type"], entry["id"], entry["state"], entry["time"]) == (
            "reward",
            mine["id"],
            "revoked",
            mine["issued_at"],
        )


async def test_bad_reward_filters_are_400s_naming_the_field(
    app_client: httpx.AsyncClient,
) -> None:
    for params, field in (
        ({"state": "issued"}, "state"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"member_id": "m" * 41}, "member_id"),
        ({"job_id": "j" * 41}, "job_id"),
    ):
        response = await app_client.get("/admin/rewards", params=params, headers=ADMIN)
        assert_field(response, field)


# A member's history ---------------------------------------------------------------------------


async def test_a_members_history_merges_rewards_vouchers_and_points_newest_first(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    merchant_id = await new_merchant(runtime)
    member_id = await new_member(runtime, merchant_id)
    other = await new_member(runtime, merchant_id)
    job_id = new_id("job")
    old_reward, new_reward, _others_reward = await add_rewards(
        runtime,
        [
            {"merchant_id": merchant_id, "member_id": member_id, "kind": "voucher"},
            {
                "merchant_id": merchant_id,
                "member_id": member_id,
                "job_id": job_id,
                "state": "revoked",
                "revoked_at": at(50),
                "created_at": at(40),
            },
            {"merchant_id": merchant_id, "member_id": other, "created_at": at(30)},
        ],
    )
    voucher = await add_voucher(runtime, member_id, at(10), reward_id=old_reward)
    (points,) = await add_points(runtime, merchant_id, member_id, [(250, at(20))])
    await add_points(runtime, merchant_id, other, [(999, at(25))])

    page = await get(app_client, f"/admin/members/{member_id}/history")

    assert page["next_cursor"] is None
    entries = page["data"]
    assert [(e["type"], e["id"]) for e in entries] == [
        ("reward", new_reward),
        ("points", points),
        ("voucher", voucher.id),
        ("reward", old_reward),
    ]
    assert [e["time"] for e in entries] == [
        "2031-05-01T12:40:00Z",
        "2031-05-01T12:20:00Z",
        "2031-05-01T12:10:00Z",
        "2031-05-01T12:00:00Z",
    ]
    assert entries[0] == {
        "type": "reward",
        "id": new_reward,
        "time": "2031-05-01T12:40:00Z",
        "kind": "discount",
        "state": "revoked",
        "campaign_id": None,
        "variant_id": None,
        "job_id": job_id,
        "template_id": None,
        "revoked_at": "2031-05-01T12:50:00Z",
    }
    assert {k: v for k, v in entries[1].items() if k not in ("type", "id", "time")} == {
        "kind": "adhoc",
        "amount": 250,
        "balance_after": 250,
        "reward_id": "WELCOME",
        "client_id": None,
        "job_id": None,
    }
    shown = entries[2]
    assert (shown["code"], shown["status"], shown["reward_id"]) == (
        voucher.code,
        "active",
        old_reward,
    )
    assert (shown["face_value"], shown["remaining_amount"], shown["currency"]) == (
        1000,
        1000,
        "SGD",
    )
    # Never the PIN, sealed or not, nor the short link's code.
    assert not {"pin", "sealed_pin", "short_code"} & set(shown)
    assert voucher.sealed_pin not in str(page)
    assert voucher.pin not in [str(value) for entry in entries for value in entry.values()]


async def test_history_pages_hold_every_entry_once_even_at_equal_times(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    merchant_id = await new_merchant(runtime)
    member_id = await new_member(runtime, merchant_id)
    # Two rewards, a voucher and two points transactions at one time, and others around them.
    same = at(7)
    rewards = await add_rewards(
        runtime,
        [
            {"merchant_id": merchant_id, "member_id": member_id, "created_at": same},
            {"merchant_id": merchant_id, "member_id": member_id, "created_at": same},
            {"merchant_id": merchant_id, "member_id": member_id, "created_at": at(9)},
        ],
    )
    voucher = await add_voucher(runtime, member_id, same)
    points = await add_points(runtime, merchant_id, member_id, [(5, same), (6, same), (7, at(1))])
    everything = await get(app_client, f"/admin/members/{member_id}/history", limit=500)
    expected = [e["id"] for e in everything["data"]]
    assert sorted(expected) == sorted([*rewards, voucher.id, *points])
    assert expected[0] == rewards[2] and expected[-1] == points[2]
    at_same = expected[1:-1]
    assert at_same == sorted(at_same, reverse=True), "equal times are ordered by id, descending"

    for size in (1, 2, 3):
        pages = await walk(app_client, f"/admin/members/{member_id}/history", limit=size)
        assert [entry for page in pages for entry in page] == expected
        assert all(len(page) == size for page in pages[:-1]) and 0 < len(pages[-1]) <= size


async def test_a_member_without_history_has_an_empty_list(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    member_id = await new_member(runtime, await new_merchant(runtime))
    assert await get(app_client, f"/admin/members/{member_id}/history") == {
        "data": [],
        "next_cursor": None,
    }


async def test_an_unknown_members_history_is_a_404(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get(f"/admin/members/{new_id('mbr')}/history", headers=ADMIN)
    assert_problem(response, 404, "not found")


async def test_bad_history_parameters_are_400s_naming_the_field(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    member_id = await new_member(runtime, await new_merchant(runtime))
    path = f"/admin/members/{member_id}/history"
    another_lists_cursor = "cndkXzAxbTk4ZzZudmtyNHhwZGswNmEyejV4cWQz"
    for params, field in (
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": another_lists_cursor}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
    ):
        response = await app_client.get(path, params=params, headers=ADMIN)
        assert_field(response, field)


# The admin token ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/rewards", "/admin/members/{member}/history"])
async def test_the_listings_need_the_admin_token(
    app_client: httpx.AsyncClient, runtime: Runtime, path: str
) -> None:
    member_id = await new_member(runtime, await new_merchant(runtime))
    url = path.format(member=member_id)
    assert_problem(await app_client.get(url), 401)
    assert_problem(await app_client.get(url, headers={"Authorization": "Bearer wrong"}), 401)
    assert (await app_client.get(url, headers=ADMIN)).status_code == 200
