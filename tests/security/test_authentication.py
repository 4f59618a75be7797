"""Authentication, generated from the route table: every route of every surface refuses a
request without credentials, with wrong ones and with another surface's valid ones: 401 in the
surface's error shape, never a 2xx or a 5xx.

A route under a path prefix that ``world.SURFACES`` does not know, and that is not a public page
(``world.PUBLIC_PREFIXES``, ``world.PUBLIC_PATHS``), fails ``test_every_route_has_a_surface``."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.oauth.helpers import basic
from tests.security.world import Route, World, error_shape, is_public, route_table

CASES = ("none", "wrong", "foreign")
CONTENT_TYPES = {"/admin/merchants/{merchant_id}/members/import": "text/csv"}
"""Routes whose body is not JSON (they check the media type first, revealing nothing)."""


def _routes() -> list[Route]:
    return route_table()


ALL = _routes()
PROTECTED = [r for r in ALL if not is_public(r)]


def test_every_route_has_a_surface() -> None:
    unknown = [str(r) for r in PROTECTED if r.surface is None]
    assert not unknown, (
        "Routes under no known surface: add their prefix to tests/security/world.py SURFACES "
        "(with its credentials in test_authentication.py and its error shape in error_shape), "
        f"or, if they are public by design, to PUBLIC_PREFIXES/PUBLIC_PATHS: {unknown}"
    )


def test_every_surface_is_checked() -> None:
    surfaces = {r.surface for r in PROTECTED}
    assert surfaces == {"partner", "vouchers", "loyalty", "operator", "admin", "oauth"}
    assert len(PROTECTED) >= 100


def _credentials(world: World, surface: str, case: str, url: str) -> dict[str, str]:
    version = {"Accept-Version": "v4.0"} if surface == "partner" else {}
    if case == "none":
        return version
    if case == "wrong":
        if surface == "partner":
            return {
                "Authorization": "Bearer bst_pt_" + "x" * 40,
                "X-ClientId": world.partner_b.client_id,
                **version,
            }
        if surface == "operator":
            wrong = hashlib.sha256(b"not-the-key" + url.rstrip("/").encode()).hexdigest()
            return {
                "X-AUTH-OPERATOR-ID": str(world.operator_b.operator_id),
                "X-AUTH-REQUEST-HASH": wrong,
            }
        if surface == "oauth":
            return basic(world.voucher_b[0], "bst_cs_" + "x" * 40)
        if surface == "admin":
            return {"Authorization": "Bearer bst_adm_" + "x" * 40}
        # A well-formed but forged token: signed with another key.
        import jwt

        forged = jwt.encode({"sub": world.voucher_b[0], "scope": "x"}, "k" * 32, "HS256")
        return {"Authorization": f"Bearer {forged}"}
    # "foreign": a valid credential of another surface.
    if surface in ("vouchers", "loyalty", "admin"):
        return {
            "Authorization": f"Bearer {world.partner_b.token}",
            "X-ClientId": world.partner_b.client_id,
        }
    if surface == "partner":
        return {**world.voucher_b[2], "X-ClientId": world.voucher_b[0], **version}
    if surface == "oauth":
        return basic(world.partner_b.client_id, world.partner_b.token)
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}  # operator


@pytest.mark.parametrize("route", PROTECTED, ids=str)
async def test_requests_without_valid_credentials_are_refused(world: World, route: Route) -> None:
    assert route.surface is not None
    url = route.path
    for name in route.path_params:
        url = url.replace("{" + name + "}", f"unknown-{name}")
    if route.surface == "oauth":
        content = b"grant_type=client_credentials"
        content_type = "application/x-www-form-urlencoded"
    else:
        content = b"" if route.method in ("GET", "DELETE") else b"{}"
        content_type = CONTENT_TYPES.get(route.path, "application/json")
    for case in CASES:
        headers = {**_credentials(world, route.surface, case, url), "Content-Type": content_type}
        response = await world.http.request(route.method, url, content=content, headers=headers)
        text = f"{route} with {case} credentials: {response.status_code} {response.text}"
        assert response.status_code == 401, text
        error_shape(route.surface, response)
