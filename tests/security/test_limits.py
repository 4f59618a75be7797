"""Limits, generated from the route table: a body over ``BESTOW_MAX_BODY_BYTES`` is a 413 in the
surface's error shape on every route that takes a body, and absurd pagination values are a
400/422 in the surface's shape (never a 500) on every GET route that takes them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.security.world import (
    ADMIN,
    MAX_BODY_BYTES,
    OBJECTS,
    Route,
    World,
    error_shape,
    is_public,
    route_table,
)

PAGINATION = {
    "page": ["0", "-1", str(10**12), "abc", "1.5", ""],
    "per_page": ["0", "-1", str(10**6), "abc", "1.5"],
    "pageSize": ["0", "-1", str(10**6), "abc", "1.5"],
    "limit": ["0", "-1", str(10**9), str(10**30), "abc", "1.5"],
}
"""Absurd values of each paging parameter (a parameter named here, taken by a route, is
checked there)."""

ADMIN_IDS = {
    "merchant_id": "admin.merchant_id",
    "client_id": "admin.client_id",
    "member_id": "admin.member_id",
    "endpoint_id": "admin.endpoint_id",
}


def _routes() -> list[Route]:
    return [r for r in route_table() if not is_public(r) and r.surface is not None]


ROUTES = _routes()
WITH_BODY = [r for r in ROUTES if r.method in ("POST", "PUT", "PATCH")]
PAGED = [
    r
    for r in ROUTES
    if r.method == "GET"
    and set(r.query_params) & set(PAGINATION)
    # The Operator API's trailing-slash aliases answer as the route without one.
    and not (r.surface == "operator" and r.path.endswith("/"))
]


def test_routes_are_found() -> None:
    assert len(WITH_BODY) >= 40
    assert len(PAGED) >= 15


def _url(world: World, route: Route) -> str:
    """The route's path with client A's own objects (A is the caller)."""
    assert route.surface is not None
    url = route.path
    for name in route.path_params:
        key = (
            ADMIN_IDS.get(name) if route.surface == "admin" else OBJECTS.get((route.surface, name))
        )
        value = world.objects[key] if key else f"unknown-{name}"
        url = url.replace("{" + name + "}", value)
    return url


@pytest.mark.parametrize("route", WITH_BODY, ids=str)
async def test_an_oversized_body_is_413(world: World, route: Route) -> None:
    assert route.surface is not None
    content = b'{"x": "' + b"a" * MAX_BODY_BYTES + b'"}'
    response = await world.as_b(
        route.surface, route.method, _url(world, route), content=content, who="a"
    )
    assert response.status_code == 413, f"{route}: {response.status_code} {response.text}"
    error_shape(route.surface, response)


@pytest.mark.parametrize("route", [r for r in WITH_BODY if r.surface != "operator"], ids=str)
async def test_an_oversized_streamed_body_is_refused(world: World, route: Route) -> None:
    """Without a Content-Length the limit holds while reading: a route that reads the body
    answers 413, one that refuses the request before reading it a 4xx; never a 2xx or 5xx.
    (Operator requests are signed over the body, so they are always read: see above.)"""
    assert route.surface is not None

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"x": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b"a" * 1024
        yield b'"}'

    headers = {
        "partner": world.partner_a.headers(),
        "vouchers": world.voucher_a[2],
        "loyalty": world.loyalty_a.headers,
        "admin": ADMIN,
        "oauth": {},
    }[route.surface]
    headers = {**headers, "Content-Type": "application/json"}
    if route.surface == "oauth":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = await world.http.request(
        route.method, _url(world, route), content=chunks(), headers=headers
    )
    text = f"{route}: {response.status_code} {response.text}"
    assert 400 <= response.status_code < 500, text
    error_shape(route.surface, response)


def _extra(world: World, route: Route) -> str:
    """Query parameters a route requires beside the paging ones."""
    if route.surface == "partner" and "merchant_id" in route.query_params:
        return f"&merchant_id={world.partner_a.merchant_id}"
    return ""


@pytest.mark.parametrize("route", PAGED, ids=str)
async def test_absurd_paging_values_are_refused(world: World, route: Route) -> None:
    assert route.surface is not None
    base = _url(world, route)
    for name in set(route.query_params) & set(PAGINATION):
        for value in PAGINATION[name]:
            url = f"{base}?{name}={value}{_extra(world, route)}"
            response = await world.as_b(route.surface, "GET", url, who="a")
            text = f"{route} {name}={value!r}: {response.status_code} {response.text[:300]}"
            assert response.status_code in (400, 422), text
            error_shape(route.surface, response)
