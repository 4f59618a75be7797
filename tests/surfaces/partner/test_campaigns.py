"""Partner API campaigns: creation rules with exact errors, the campaign resource, listing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.kit.timefmt import iso
from bestow.models import Campaign
from tests.surfaces.partner.helpers import (
    Partner,
    campaign_body,
    create_campaign,
    grant,
    make_template,
    new_partner,
    set_campaign_window,
)

pytestmark = pytest.mark.asyncio

CAMPAIGN_FIELDS = {
    "id",
    "name",
    "objective",
    "start_at",
    "end_at",
    "redeemable_from",
    "redeemable_to",
    "time_zone",
    "fine_print",
    "variants",
}


@pytest.fixture
async def world(runtime: Runtime) -> tuple[Partner, str]:
    """A partner on the unlimited tier and one published template of its merchant."""
    partner = await new_partner(runtime)
    template = await make_template(runtime, partner.merchant_id)
    return partner, template.id


async def post_campaign(
    client: httpx.AsyncClient, partner: Partner, body: dict[str, Any]
) -> httpx.Response:
    return await client.post("/partner/campaigns", headers=partner.headers(), json=body)


async def test_create_campaign_returns_201_with_the_campaign(
    app_client: httpx.AsyncClient, world: tuple[Partner, str]
) -> None:
    partner, template_id = world
    body = campaign_body(
        partner.merchant_id,
        template_id,
        start_at="2030-03-01T09:30:00+01:00",
        end_at="2030-04-01T00:00:00Z",
        redeemable_from="2030-03-01T08:30:00Z",
        redeemable_to="2030-05-01T00:00:00.750000Z",
    )
    response = await post_campaign(app_client, partner, body)

    assert response.status_code == 201, response.text
    campaign = response.json()["campaign"]
    assert set(campaign) == CAMPAIGN_FIELDS
    assert campaign["id"]
    assert {k: campaign[k] for k in CAMPAIGN_FIELDS - {"id", "variants"}} == {
        "name": "Spring win-back",
        "objective": "Win back lapsed guests",
        "fine_print": "One per guest",
        "start_at": "2030-03-01T08:30:00Z",
        "end_at": "2030-04-01T00:00:00Z",
        "redeemable_from": "2030-03-01T08:30:00Z",
        "redeemable_to": "2030-05-01T00:00:00Z",
        "time_zone": "America/New_York",
    }
    treatment, control = campaign["variants"]
    assert set(treatment) == {"id", "name", "reward_template_id"}
    assert (treatment["name"], treatment["reward_template_id"]) == ("Treatment", template_id)
    assert (control["name"], control["reward_template_id"]) == ("Control", None)
    assert treatment["id"] != control["id"]

    fetched = await app_client.get(
        f"/partner/campaigns/{campaign['id']}", headers=partner.headers()
    )
    assert fetched.status_code == 200
    assert fetched.json() == {"campaign": campaign}


async def test_a_single_treatment_variant_is_enough(
    app_client: httpx.AsyncClient, world: tuple[Partner, str]
) -> None:
    partner, template_id = world
    body = campaign_body(
        partner.merchant_id,
        None,
        variants=[{"name": "Only", "reward_template_id": template_id}],
    )
    response = await post_campaign(app_client, partner, body)
    assert response.status_code == 201, response.text
    assert [v["name"] for v in response.json()["campaign"]["variants"]] == ["Only"]


NOW = datetime.now(UTC).replace(microsecond=0)


def _at(days: float) -> str:
    return (NOW + timedelta(days=days)).isoformat()


# Each case: the fields to replace, then the exact message the API must answer with.
RULES: list[Any] = [
    pytest.param(
        {"start_at": _at(2), "end_at": _at(1)},
        "end_at must be after start_at",
        id="end-before-start",
    ),
    pytest.param(
        {"start_at": _at(1), "end_at": _at(1)},
        "end_at must be after start_at",
        id="end-equals-start",
    ),
    pytest.param(
        {"redeemable_from": _at(3), "redeemable_to": _at(2)},
        "redeemable_to must be after redeemable_from",
        id="redemption-ends-before-it-starts",
    ),
    pytest.param(
        {"start_at": _at(-3), "end_at": _at(-1)},
        "end_at must be in the future",
        id="already-ended",
    ),
    pytest.param(
        # 08:00 to 22:00 in New York on one date: 13:00Z and 03:00Z the next UTC day.
        {
            "start_at": "2031-06-10T08:00:00-04:00",
            "end_at": "2031-06-10T23:00:00-04:00",
            "redeemable_from": "2031-06-10T09:00:00-04:00",
            "redeemable_to": "2031-06-10T22:00:00-04:00",
        },
        "start_at, end_at, redeemable_from and redeemable_to are all on the same date; "
        "give members time to redeem",
        id="all-four-on-the-merchants-same-date",
    ),
    pytest.param(
        {
            "variants": [
                {"name": "Treatment", "reward_template_id": "TEMPLATE"},
                {"name": "Control"},
                {"name": "control"},
            ]
        },
        "a campaign has at most one Control variant",
        id="two-controls",
    ),
    pytest.param(
        {
            "variants": [
                {"name": "Offer", "reward_template_id": "TEMPLATE"},
                {"name": " offer ", "reward_template_id": "TEMPLATE"},
            ]
        },
        "variant names must be unique within a campaign",
        id="duplicate-variant-names",
    ),
    pytest.param(
        {"variants": [{"name": "Treatment", "reward_template_id": "rtp_does_not_exist"}]},
        "variants[0].reward_template_id: reward template rtp_does_not_exist is not a "
        "published template of this merchant",
        id="unknown-template",
    ),
    pytest.param(
        {"variants": [{"name": "Control"}, {"name": "Treatment"}]},
        "variants[1].reward_template_id is required for a treatment variant",
        id="treatment-without-template",
    ),
    pytest.param(
        {
            "variants": [
                {"name": "Treatment", "reward_template_id": "TEMPLATE"},
                {"name": "Control", "reward_template_id": "TEMPLATE"},
            ]
        },
        "the Control variant carries no reward_template_id",
        id="control-with-template",
    ),
    pytest.param(
        {"variants": [{"name": "Control"}]},
        "a campaign needs at least one treatment variant",
        id="control-only",
    ),
    pytest.param(
        {"variants": []},
        "campaign.variants: List should have at least 1 item after validation, not 0",
        id="no-variants",
    ),
    pytest.param(
        {
            "variants": [{"name": f"T{n}", "reward_template_id": "TEMPLATE"} for n in range(4)]
            + [{"name": "Control"}]
        },
        "campaign.variants: List should have at most 4 items after validation, not 5",
        id="five-variants",
    ),
    pytest.param({"name": "   "}, "name must not be blank", id="blank-name"),
    pytest.param(
        {"start_at": "2030-01-01T00:00:00"},
        "campaign.start_at: must have an offset (Z or +hh:mm)",
        id="naive-date",
    ),
    pytest.param(
        {"start_at": "0001-01-01T00:00:00Z"},
        "campaign.start_at: is out of range (1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z)",
        id="year-one",
    ),
    pytest.param(
        {"end_at": "9999-12-31T23:59:59-23:59"},
        "campaign.end_at: is out of range (1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z)",
        id="past-year-9999-in-utc",
    ),
    pytest.param(
        {"redeemable_from": "0999-06-01T12:00:00Z"},
        "campaign.redeemable_from: is out of range (1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z)",
        id="three-digit-year",
    ),
    pytest.param(
        {"start_at": 12345},
        "campaign.start_at: must be an ISO 8601 date-time with an offset, "
        "e.g. 2030-01-31T12:00:00Z",
        id="unix-epoch-number",
    ),
    pytest.param(
        {"start_at": "12345"},
        "campaign.start_at: must be an ISO 8601 date-time with an offset, "
        "e.g. 2030-01-31T12:00:00Z",
        id="unix-epoch-string",
    ),
    pytest.param(
        {"name": "Spring\u0000sale"},
        "campaign.name: must not contain NUL or other control characters",
        id="nul-in-name",
    ),
    pytest.param({"surprise": 1}, "campaign.surprise: is not a known field", id="unknown-field"),
    pytest.param(
        {"variants": [{"name": "T", "reward_template_id": "TEMPLATE", "weight": 50}]},
        "campaign.variants.0.weight: is not a known field",
        id="unknown-variant-field",
    ),
]


async def test_each_creation_rule_is_a_bad_request_saying_what_is_wrong(
    app_client: httpx.AsyncClient, world: tuple[Partner, str]
) -> None:
    """One request per rule (in one test, to keep the run short); every mismatch is reported."""
    partner, template_id = world
    wrong = []
    for case in RULES:
        fields, message = case.values
        body = campaign_body(partner.merchant_id, template_id)
        for name, value in fields.items():
            if name == "variants":
                value = [
                    {k: (template_id if v == "TEMPLATE" else v) for k, v in variant.items()}
                    for variant in value
                ]
            body["campaign"][name] = value
        response = await post_campaign(app_client, partner, body)
        expected = (400, {"code": "BAD_REQUEST", "message": message})
        if (response.status_code, response.json()) != expected:
            wrong.append(f"{case.id}: {response.status_code} {response.text}")
    assert wrong == []
    await _assert_no_campaign(app_client, partner)


async def test_a_missing_required_field_is_named(
    app_client: httpx.AsyncClient, world: tuple[Partner, str]
) -> None:
    partner, template_id = world
    wrong = []
    required = ["merchant_id", "name", "start_at", "end_at", "redeemable_from", "redeemable_to"]
    for missing in [*required, "variants"]:
        body = campaign_body(partner.merchant_id, template_id)
        del body["campaign"][missing]
        response = await post_campaign(app_client, partner, body)
        expected = {"code": "BAD_REQUEST", "message": f"campaign.{missing}: is required"}
        if response.status_code != 400 or response.json() != expected:
            wrong.append(f"{missing}: {response.status_code} {response.text}")
    assert wrong == []
    await _assert_no_campaign(app_client, partner)


async def test_a_variant_without_a_name_is_named(
    app_client: httpx.AsyncClient, world: tuple[Partner, str]
) -> None:
    partner, template_id = world
    body = campaign_body(partner.merchant_id, None, variants=[{"reward_template_id": template_id}])
    response = await post_campaign(app_client, partner, body)
    assert response.status_code == 400
    assert response.json() == {
        "code": "BAD_REQUEST",
        "message": "campaign.variants.0.name: is required",
    }


async def test_objective_and_fine_print_are_optional(
    app_client: httpx.AsyncClient, world: tuple[Partner, str]
) -> None:
    partner, template_id = world
    body = campaign_body(partner.merchant_id, template_id)
    del body["campaign"]["objective"], body["campaign"]["fine_print"]
    response = await post_campaign(app_client, partner, body)
    assert response.status_code == 201, response.text
    assert (
        response.json()["campaign"]["objective"],
        response.json()["campaign"]["fine_print"],
    ) == (
        "",
        "",
    )


async def test_the_body_must_be_wrapped_in_campaign(
    app_client: httpx.AsyncClient, world: tuple[Partner, str]
) -> None:
    partner, template_id = world
    body = campaign_body(partner.merchant_id, template_id)["campaign"]
    response = await post_campaign(app_client, partner, body)
    assert response.status_code == 400
    assert response.json() == {"code": "BAD_REQUEST", "message": "campaign: is required"}


@pytest.mark.parametrize("which", ["other-merchants", "draft", "unpublished"])
async def test_a_template_that_is_not_a_published_one_of_this_merchant_is_refused(
    app_client: httpx.AsyncClient, runtime: Runtime, world: tuple[Partner, str], which: str
) -> None:
    partner, _ = world
    if which == "other-merchants":
        other = await new_partner(runtime)
        template = await make_template(runtime, other.merchant_id)
    else:
        template = await make_template(runtime, partner.merchant_id, state=which)
    body = campaign_body(partner.merchant_id, template.id)
    response = await post_campaign(app_client, partner, body)
    assert response.status_code == 400
    assert response.json() == {
        "code": "BAD_REQUEST",
        "message": f"variants[0].reward_template_id: reward template {template.id} is not a "
        "published template of this merchant",
    }
    await _assert_no_campaign(app_client, partner)


async def test_a_merchant_not_granted_is_not_found(
    app_client: httpx.AsyncClient, runtime: Runtime, world: tuple[Partner, str]
) -> None:
    partner, _ = world
    other = await new_partner(runtime)
    other_template = await make_template(runtime, other.merchant_id)
    response = await post_campaign(
        app_client, partner, campaign_body(other.merchant_id, other_template.id)
    )
    assert response.status_code == 404
    assert response.json() == {
        "code": "RESOURCE_NOT_FOUND",
        "message": f"merchant {other.merchant_id} not found",
    }
    listed = await app_client.get(
        "/partner/campaigns", params={"merchant_id": other.merchant_id}, headers=other.headers()
    )
    assert listed.json()["campaigns"] == []


async def _assert_no_campaign(client: httpx.AsyncClient, partner: Partner) -> None:
    listed = await client.get(
        "/partner/campaigns", params={"merchant_id": partner.merchant_id}, headers=partner.headers()
    )
    assert listed.status_code == 200
    assert listed.json()["campaigns"] == []


async def test_get_campaign_of_another_client_or_unknown_is_not_found(
    app_client: httpx.AsyncClient, runtime: Runtime, world: tuple[Partner, str]
) -> None:
    partner, template_id = world
    campaign = await create_campaign(app_client, partner, template_id)
    other = await new_partner(runtime)

    for who, campaign_id in ((other, campaign["id"]), (partner, "cmp_nope")):
        response = await app_client.get(f"/partner/campaigns/{campaign_id}", headers=who.headers())
        assert response.status_code == 404
        assert response.json() == {
            "code": "RESOURCE_NOT_FOUND",
            "message": f"campaign {campaign_id} not found",
        }


async def test_list_shows_only_active_partner_campaigns_of_this_client(
    app_client: httpx.AsyncClient, runtime: Runtime, world: tuple[Partner, str]
) -> None:
    partner, template_id = world
    active = [
        (await create_campaign(app_client, partner, template_id, name=f"Active {n}"))
        for n in range(3)
    ]
    scheduled = await create_campaign(
        app_client, partner, template_id, name="Scheduled", start_at=_at(2), end_at=_at(9)
    )
    ended = await create_campaign(app_client, partner, template_id, name="Ended")
    now = utcnow()
    await set_campaign_window(
        runtime, ended["id"], start_at=now - timedelta(days=9), end_at=now - timedelta(seconds=1)
    )
    cancelled = await create_campaign(app_client, partner, template_id, name="Cancelled")
    operator = await create_campaign(app_client, partner, template_id, name="Operator's")
    async with runtime.db.write_session() as session:
        await session.execute(
            update(Campaign).where(Campaign.id == cancelled["id"]).values(cancelled_at=now)
        )
        await session.execute(
            update(Campaign).where(Campaign.id == operator["id"]).values(source="operator")
        )
        await session.commit()
    # Another client granted the same merchant: its campaigns are its own.
    other = await new_partner(runtime)
    await grant(runtime, other, partner.merchant_id)
    other_campaign = await create_campaign(
        app_client, Partner(other.client_id, other.token, partner.merchant_id), template_id
    )

    response = await app_client.get(
        "/partner/campaigns", params={"merchant_id": partner.merchant_id}, headers=partner.headers()
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert sorted(c["id"] for c in body["campaigns"]) == sorted(c["id"] for c in active)
    assert body["pagination"] == {"current_page": 1, "per_page": 10, "total_pages": 1}
    by_id = {c["id"]: c for c in body["campaigns"]}
    for campaign in active:
        assert by_id[campaign["id"]] == campaign
    hidden = {scheduled["id"], ended["id"], cancelled["id"], operator["id"], other_campaign["id"]}
    assert not hidden & set(by_id)

    pages = [
        await app_client.get(
            "/partner/campaigns",
            params={"merchant_id": partner.merchant_id, "page": page, "per_page": 2},
            headers=partner.headers(),
        )
        for page in (1, 2, 3)
    ]
    assert [p.json()["pagination"] for p in pages] == [
        {"current_page": n, "per_page": 2, "total_pages": 2} for n in (1, 2, 3)
    ]
    assert [len(p.json()["campaigns"]) for p in pages] == [2, 1, 0]
    paged = [c["id"] for p in pages for c in p.json()["campaigns"]]
    assert sorted(paged) == sorted(c["id"] for c in active)


@pytest.mark.parametrize(
    "params",
    [{}, {"per_page": "0"}, {"per_page": "101"}, {"page": "0"}],
    ids=["no-merchant", "per-page-0", "per-page-101", "page-0"],
)
async def test_list_needs_a_merchant_and_sane_pagination(
    app_client: httpx.AsyncClient, world: tuple[Partner, str], params: dict[str, str]
) -> None:
    partner, _ = world
    query = params if not params else {"merchant_id": partner.merchant_id, **params}
    response = await app_client.get("/partner/campaigns", params=query, headers=partner.headers())
    assert response.status_code == 400
    assert response.json()["code"] == "BAD_REQUEST"
    assert response.json()["message"].split(":")[0] == (
        "merchant_id" if not params else next(iter(params))
    )


async def test_list_of_a_merchant_not_granted_is_not_found(
    app_client: httpx.AsyncClient, runtime: Runtime, world: tuple[Partner, str]
) -> None:
    partner, _ = world
    other = await new_partner(runtime)
    response = await app_client.get(
        "/partner/campaigns", params={"merchant_id": other.merchant_id}, headers=partner.headers()
    )
    assert response.status_code == 404
    assert response.json()["code"] == "RESOURCE_NOT_FOUND"


async def test_campaign_dates_are_utc_whole_seconds(
    app_client: httpx.AsyncClient, world: tuple[Partner, str]
) -> None:
    partner, template_id = world
    start = datetime(2030, 1, 1, 12, 0, 0, 999_999, tzinfo=UTC)
    campaign = await create_campaign(
        app_client, partner, template_id, start_at=start.isoformat(), end_at="2031-01-01T00:00:00Z"
    )
    assert campaign["start_at"] == iso(start) == "2030-01-01T12:00:00Z"


async def test_a_campaign_may_end_at_the_last_second_of_year_9999(
    app_client: httpx.AsyncClient, world: tuple[Partner, str]
) -> None:
    """The end of the supported range is a common way to say "until cancelled"; read in a zone
    east of UTC it is already year 10000 there, which must not overflow."""
    partner, template_id = world
    campaign = await create_campaign(
        app_client,
        partner,
        template_id,
        start_at="2030-01-01T00:00:00+14:00",
        end_at="9999-12-31T23:59:59Z",
        redeemable_from="2030-01-01T00:00:00Z",
        redeemable_to="9999-12-31T09:59:59-14:00",
    )
    assert (campaign["end_at"], campaign["redeemable_to"]) == (
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59Z",
    )
