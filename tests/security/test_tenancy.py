"""Tenancy, generated from the route table: every client-facing route that takes an object id in
its path answers 404, in its surface's error shape, to client B asking for client A's object.

A new route whose path parameter has no entry in ``OBJECTS`` (nor in ``SHARED``) fails
``test_every_object_route_is_covered``: add how to make client A's object of that kind."""

from __future__ import annotations

import pytest

from tests.security.hidden import ROUTES, SHARED, assert_hidden, checked_routes
from tests.security.world import OBJECTS, Route, World, error_shape


def test_every_object_route_is_covered() -> None:
    missing = [
        f"{route} ({route.surface}, {name})"
        for route in ROUTES
        for name in route.path_params
        if (route.surface, name) not in OBJECTS and (route.surface, name) not in SHARED
    ]
    assert not missing, (
        "Routes take an object id this tenancy check does not know; add to "
        "tests/security/world.py OBJECTS how to make client A's object (or, if another "
        "client's object is legitimately reachable, to SHARED in tests/security/hidden.py "
        f"with the reason): {missing}"
    )


def test_the_table_covers_routes() -> None:
    assert len(checked_routes()) >= 30


@pytest.mark.parametrize("route", checked_routes(), ids=str)
async def test_client_b_gets_404_for_client_a_objects(world: World, route: Route) -> None:
    """The answer is the surface's "not found", the same as for an id that does not exist."""
    assert route.surface is not None
    theirs = {n: world.objects[OBJECTS[(route.surface, n)]] for n in route.path_params}
    await assert_hidden(world, route, theirs, str(route))


async def test_voucher_listing_by_id_hides_client_a_vouchers(world: World) -> None:
    voucher_id = world.objects["vouchers.voucher_id"]
    response = await world.as_b("vouchers", "GET", f"/v3/vouchers?id={voucher_id}")
    assert response.status_code == 404, response.text
    error_shape("vouchers", response)
    assert world.objects["vouchers.voucher_code"] not in response.text
