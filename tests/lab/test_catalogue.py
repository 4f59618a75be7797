"""The per-client catalogue: an assignment narrows what a client sees and issues on the Voucher,
Partner and Loyalty APIs; a kind with nothing assigned is the whole catalogue; one client's
assignments never narrow another's."""

from __future__ import annotations

import httpx

from bestow.deps import Runtime
from bestow.loyalty import adhoc
from tests.lab.catalogue_helpers import (
    assign,
    audit_entries,
    catalogue_url,
    listed,
    loyalty_reward_id,
    unassign,
)
from tests.loyalty.helpers import (
    REWARD,
    SECOND_REWARD,
    make_member,
    make_programme,
    open_session,
    reward_body,
)
from tests.loyalty.helpers import award as loyalty_award
from tests.surfaces.admin.helpers import ADMIN, assert_problem
from tests.surfaces.partner.helpers import (
    campaign_body,
    grant,
    make_template,
    new_partner,
)
from tests.vouchers.helpers import login, make_product, post


async def codes(app_client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    response = await app_client.get("/v3/products", headers=headers)
    assert response.status_code == 200, response.text
    return {p["code"] for p in response.json()}


async def test_an_assigned_product_is_all_a_voucher_client_sees_and_issues(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    mine, other = await make_product(runtime), await make_product(runtime)
    client_id, headers = await login(app_client, runtime)
    _, bystander = await login(app_client, runtime)
    assert {mine.code, other.code} <= await codes(app_client, headers)

    await assign(app_client, client_id, "product", mine.code)
    await assign(app_client, client_id, "product", mine.code, status=200)  # idempotent

    seen = await codes(app_client, headers)
    assert mine.code in seen and other.code not in seen
    assert (await app_client.get(f"/v3/products/{mine.code}", headers=headers)).status_code == 200
    hidden = await app_client.get(f"/v3/products/{other.code}", headers=headers)
    unknown = await app_client.get("/v3/products/NO-SUCH-PRODUCT", headers=headers)
    assert hidden.status_code == unknown.status_code == 404, hidden.text
    assert hidden.json()["code"] == unknown.json()["code"]
    assert hidden.json()["message"].replace(other.code, "X") == unknown.json()["message"].replace(
        "NO-SUCH-PRODUCT", "X"
    )

    refused = await post(app_client, headers, other.code)
    assert refused.status_code == 404, refused.text
    issued = await post(app_client, headers, mine.code)
    assert issued.status_code == 200, issued.text

    # Another client's assignment does not narrow this one's catalogue.
    assert {mine.code, other.code} <= await codes(app_client, bystander)
    assert (await post(app_client, bystander, other.code)).status_code == 200

    # The last assignment of a kind taken out: the whole catalogue again.
    await unassign(app_client, client_id, "product", mine.code)
    assert {mine.code, other.code} <= await codes(app_client, headers)
    assert (await post(app_client, headers, other.code)).status_code == 200


async def test_an_assigned_template_is_all_a_partner_lists_and_builds_campaigns_on(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    partner = await new_partner(runtime)
    mine = await make_template(runtime, partner.merchant_id, name="Mine")
    other = await make_template(runtime, partner.merchant_id, name="Other")
    neighbour = await new_partner(runtime)
    await grant(runtime, neighbour, partner.merchant_id)

    await assign(app_client, partner.client_id, "template", mine.id)

    async def template_ids(who: object) -> set[str]:
        response = await app_client.get(
            "/partner/reward_templates",
            params={"merchant_id": partner.merchant_id, "per_page": 100},
            headers=who.headers(),  # type: ignore[attr-defined]
        )
        assert response.status_code == 200, response.text
        return {t["id"] for t in response.json()["reward_templates"]}

    assert await template_ids(partner) == {mine.id}
    assert {mine.id, other.id} <= await template_ids(neighbour)

    hidden = await app_client.get(
        f"/partner/reward_templates/{other.id}",
        params={"merchant_id": partner.merchant_id},
        headers=partner.headers(),
    )
    assert hidden.status_code == 404, hidden.text

    async def create(template_id: str) -> httpx.Response:
        return await app_client.post(
            "/partner/campaigns",
            headers=partner.headers(),
            json=campaign_body(partner.merchant_id, template_id),
        )

    refused, unknown = await create(other.id), await create("rwt_no_such_template")
    assert refused.status_code == unknown.status_code, refused.text
    assert refused.status_code >= 400
    assert refused.text.replace(other.id, "X") == unknown.text.replace("rwt_no_such_template", "X")
    assert (await create(mine.id)).status_code == 201
    neighbours = await app_client.post(
        "/partner/campaigns",
        headers=neighbour.headers(),
        json=campaign_body(partner.merchant_id, other.id),
    )
    assert neighbours.status_code == 201, neighbours.text


async def test_an_assigned_loyalty_reward_is_the_only_one_a_loyalty_client_awards(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    programme = await make_programme(app_client, runtime)
    member = await make_member(runtime, programme.merchant_id)
    correlation_id = await open_session(app_client, programme.headers, member)
    bonus = await loyalty_reward_id(runtime, programme.merchant_id, REWARD)

    await assign(app_client, programme.client_id, "loyalty_reward", bonus)

    awarded = await loyalty_award(app_client, programme.headers, correlation_id)
    assert awarded.status_code == 200, awarded.text
    hidden = await loyalty_award(
        app_client, programme.headers, correlation_id, reward_body(rewardId=SECOND_REWARD)
    )
    unknown = await loyalty_award(
        app_client, programme.headers, correlation_id, reward_body(rewardId="NO-SUCH-REWARD")
    )
    assert hidden.status_code == unknown.status_code == 400, hidden.text
    assert hidden.json() == unknown.json()
    assert adhoc.REWARD_INVALID in hidden.text

    # Another client of the same programme still awards every reward.
    other = await make_programme(app_client, runtime)
    other_member = await make_member(runtime, other.merchant_id)
    other_session = await open_session(app_client, other.headers, other_member)
    second = await loyalty_award(
        app_client, other.headers, other_session, reward_body(rewardId=SECOND_REWARD)
    )
    assert second.status_code == 200, second.text


async def test_assigning_checks_the_item_and_is_listed_and_audited(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    partner = await new_partner(runtime)
    stranger = await new_partner(runtime)
    foreign = await make_template(runtime, stranger.merchant_id)
    product = await make_product(runtime)

    async def put(kind: str, item_id: str, client_id: str = partner.client_id) -> httpx.Response:
        return await app_client.put(catalogue_url(client_id, kind, item_id), headers=ADMIN)

    assert_problem(await put("product", "NO-SUCH-CODE"), 404, "product NO-SUCH-CODE not found")
    assert_problem(await put("template", "rwt_nothing"), 404, "not found")
    assert_problem(await put("loyalty_reward", "lrw_nothing"), 404, "not found")
    refused = await put("template", foreign.id)
    assert_problem(refused, 400, "grant the merchant first")
    assert refused.json()["field"] == "item_id"
    bad_kind = await put("voucher", product.code)
    assert_problem(bad_kind, 400)
    assert bad_kind.json()["field"] == "kind"
    assert_problem(await put("product", product.code, "cli_no_such_client"), 404)

    created = await assign(app_client, partner.client_id, "product", product.code)
    assert (created["client_id"], created["kind"], created["item_id"]) == (
        partner.client_id,
        "product",
        product.code,
    )
    template = await make_template(runtime, partner.merchant_id)
    await assign(app_client, partner.client_id, "template", template.id)
    assert await listed(app_client, partner.client_id) == [
        ("product", product.code),
        ("template", template.id),
    ]
    assert await listed(app_client, partner.client_id, "template") == [("template", template.id)]
    bad_filter = await app_client.get(
        catalogue_url(partner.client_id), params={"kind": "voucher"}, headers=ADMIN
    )
    assert bad_filter.status_code == 400, bad_filter.text

    await unassign(app_client, partner.client_id, "product", product.code)
    again = await app_client.delete(
        catalogue_url(partner.client_id, "product", product.code), headers=ADMIN
    )
    assert_problem(again, 404, "is not in the catalogue")
    assigned = await audit_entries(runtime, partner.client_id, "catalogue.assigned")
    removed = await audit_entries(runtime, partner.client_id, "catalogue.unassigned")
    assert [e.changes for e in assigned] == [
        {"kind": "product", "item_id": product.code},
        {"kind": "template", "item_id": template.id},
    ]
    assert [e.changes for e in removed] == [{"kind": "product", "item_id": product.code}]
