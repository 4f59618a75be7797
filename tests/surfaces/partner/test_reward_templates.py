"""Partner API reward templates: published ones only, paginated, tenant-isolated."""

from __future__ import annotations

import httpx
import pytest

from bestow.deps import Runtime
from tests.surfaces.partner.helpers import Partner, make_template, new_partner

pytestmark = pytest.mark.asyncio

TEMPLATES = "/partner/reward_templates"
TEMPLATE_FIELDS = {
    "id",
    "name",
    "type",
    "subtype",
    "description",
    "fine_print",
    "discount",
    "redemption_venue",
    "images",
}


@pytest.fixture
async def partner(runtime: Runtime) -> Partner:
    return await new_partner(runtime)


async def test_list_has_every_published_template_and_nothing_else(
    app_client: httpx.AsyncClient, runtime: Runtime, partner: Partner
) -> None:
    published = [
        (await make_template(runtime, partner.merchant_id, name=f"Reward {n:02d}")).id
        for n in range(12)
    ]
    await make_template(runtime, partner.merchant_id, name="Draft", state="draft")
    await make_template(runtime, partner.merchant_id, name="Withdrawn", state="unpublished")
    other = await new_partner(runtime)
    await make_template(runtime, other.merchant_id, name="Theirs")

    first = await app_client.get(
        TEMPLATES, params={"merchant_id": partner.merchant_id}, headers=partner.headers()
    )
    assert first.status_code == 200, first.text
    assert first.json()["pagination"] == {"current_page": 1, "per_page": 10, "total_pages": 2}
    assert len(first.json()["reward_templates"]) == 10
    second = await app_client.get(
        TEMPLATES,
        params={"merchant_id": partner.merchant_id, "page": 2},
        headers=partner.headers(),
    )
    assert second.json()["pagination"] == {"current_page": 2, "per_page": 10, "total_pages": 2}
    listed = [t["id"] for t in first.json()["reward_templates"] + second.json()["reward_templates"]]
    assert sorted(listed) == sorted(published)

    everything = await app_client.get(
        TEMPLATES,
        params={"merchant_id": partner.merchant_id, "per_page": 100},
        headers=partner.headers(),
    )
    assert everything.json()["pagination"] == {
        "current_page": 1,
        "per_page": 100,
        "total_pages": 1,
    }
    assert sorted(t["id"] for t in everything.json()["reward_templates"]) == sorted(published)


async def test_a_template_has_the_vendor_fields(
    app_client: httpx.AsyncClient, runtime: Runtime, partner: Partner
) -> None:
    template = await make_template(
        runtime, partner.merchant_id, name="Five off", discount={"type": "amount", "value": 500}
    )
    expected = {
        "id": template.id,
        "name": "Five off",
        "type": "discount",
        "subtype": "amount",
        "description": "Five off description",
        "fine_print": "Five off fine print",
        "discount": {"type": "amount", "value": 500},
        "redemption_venue": "in_store",
        "images": {"default": "https://img.example/slice.png"},
    }
    listed = await app_client.get(
        TEMPLATES, params={"merchant_id": partner.merchant_id}, headers=partner.headers()
    )
    assert listed.json()["reward_templates"] == [expected]

    one = await app_client.get(
        f"{TEMPLATES}/{template.id}",
        params={"merchant_id": partner.merchant_id},
        headers=partner.headers(),
    )
    assert one.status_code == 200, one.text
    assert one.json() == {"reward_template": expected}
    assert set(expected) == TEMPLATE_FIELDS


async def test_get_of_a_template_that_is_not_a_published_one_of_the_merchant_is_not_found(
    app_client: httpx.AsyncClient, runtime: Runtime, partner: Partner
) -> None:
    draft = await make_template(runtime, partner.merchant_id, state="draft")
    withdrawn = await make_template(runtime, partner.merchant_id, state="unpublished")
    mine = await make_template(runtime, partner.merchant_id)
    other = await new_partner(runtime)
    theirs = await make_template(runtime, other.merchant_id)

    cases = [
        (draft.id, partner.merchant_id, "reward template"),
        (withdrawn.id, partner.merchant_id, "reward template"),
        (theirs.id, partner.merchant_id, "reward template"),
        ("rtp_unknown", partner.merchant_id, "reward template"),
        # The merchant is someone else's: not found, whatever the template.
        (theirs.id, other.merchant_id, "merchant"),
        (mine.id, other.merchant_id, "merchant"),
    ]
    for template_id, merchant_id, what in cases:
        response = await app_client.get(
            f"{TEMPLATES}/{template_id}",
            params={"merchant_id": merchant_id},
            headers=partner.headers(),
        )
        assert response.status_code == 404, (template_id, merchant_id, response.text)
        assert response.json()["code"] == "RESOURCE_NOT_FOUND"
        assert response.json()["message"].startswith(what)


async def test_list_of_a_merchant_not_granted_is_not_found(
    app_client: httpx.AsyncClient, runtime: Runtime, partner: Partner
) -> None:
    other = await new_partner(runtime)
    await make_template(runtime, other.merchant_id)
    response = await app_client.get(
        TEMPLATES, params={"merchant_id": other.merchant_id}, headers=partner.headers()
    )
    assert response.status_code == 404
    assert response.json() == {
        "code": "RESOURCE_NOT_FOUND",
        "message": f"merchant {other.merchant_id} not found",
    }


async def test_merchant_id_and_sane_pagination_are_required(
    app_client: httpx.AsyncClient, partner: Partner
) -> None:
    cases: list[tuple[str, dict[str, str | int]]] = [
        (TEMPLATES, {}),
        (f"{TEMPLATES}/rtp_x", {}),
        (TEMPLATES, {"merchant_id": partner.merchant_id, "per_page": 0}),
        (TEMPLATES, {"merchant_id": partner.merchant_id, "per_page": 101}),
        (TEMPLATES, {"merchant_id": partner.merchant_id, "page": 0}),
    ]
    for path, params in cases:
        response = await app_client.get(path, params=params, headers=partner.headers())
        assert response.status_code == 400, (path, params, response.text)
        assert response.json()["code"] == "BAD_REQUEST"
        named = next(iter(k for k in params if k != "merchant_id"), "merchant_id")
        assert response.json()["message"].startswith(f"{named}: "), response.text
