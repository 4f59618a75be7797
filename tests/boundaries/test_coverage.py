"""Every write operation of the OpenAPI document has its boundary test: a new operation fails
here until its surface's module says how to make a valid request of it."""

from __future__ import annotations

from tests.boundaries import (
    test_admin,
    test_loyalty,
    test_oauth,
    test_operator,
    test_partner,
    test_vouchers,
)
from tests.boundaries.engine import fields_of, fingerprint, write_operations
from tests.conftest import unique
from tests.security.world import ADMIN, World

MODULES = (test_partner, test_vouchers, test_loyalty, test_operator, test_admin)
COVERED = [op for module in MODULES for op in module.OPERATIONS] + [test_oauth.TOKEN]


def test_every_write_operation_of_the_document_is_checked() -> None:
    covered = {(op.method, op.path) for op in COVERED}
    assert sorted(set(write_operations()) - covered) == []
    assert len(covered) == len(COVERED)


def test_every_body_field_of_the_document_is_broken() -> None:
    """Fields come from the document, nested objects and list items included."""
    names = {(str(op), ".".join(map(str, f.name))) for op in COVERED for f in fields_of(op)}
    assert ("POST /partner/campaigns", "campaign.start_at") in names
    assert ("POST /partner/campaigns/issue", "identifiers.0.value") in names
    assert ("POST /v1/campaigns/{campaign_id}/rewards", "freeBetDetails.betValue") in names
    assert ("POST /v1/rewards/{reward_id}/enrollments", "betValue") in names
    assert ("POST /admin/merchants/{merchant_id}/members", "external_ids") in names
    assert ("POST /client/users/{correlation_id}/adhoc-reward/", "correlation_id") in names
    assert len(names) > 200


async def test_the_fingerprint_sees_an_insert_and_an_update(world: World) -> None:
    """The check that a refused request wrote nothing can fail: a row added or changed moves
    the fingerprint."""
    before = await fingerprint(world)
    created = await world.http.post(
        "/admin/merchants", json={"name": "Seen", "handle": unique("seen")}, headers=ADMIN
    )
    assert created.status_code == 201, created.text
    inserted = await fingerprint(world)
    assert inserted["merchants"][0] == before["merchants"][0] + 1
    renamed = await world.http.patch(
        f"/admin/merchants/{created.json()['id']}", json={"name": "Renamed"}, headers=ADMIN
    )
    assert renamed.status_code == 200, renamed.text
    updated = await fingerprint(world)
    assert updated["merchants"] != inserted["merchants"]
