"""Bad input gets the surface's own clear 4xx, never a 500, and writes nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, PartnerWorld, make_settings

pytestmark = pytest.mark.asyncio

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def _merchant_count(client: httpx.AsyncClient) -> int:
    total, cursor = 0, None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/admin/merchants", params=params, headers=ADMIN)).json()
        total += len(page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            return total


@pytest.mark.parametrize(
    ("body", "content_type", "status", "detail"),
    [
        (b"{", "application/json", 400, "not valid JSON"),
        (b'{"name": "A", "handle": "ab", "colour": "red"}', "application/json", 400, "colour"),
        (
            b'{"name": "A", "handle": "ab", "time_zone": "Mars/Base"}',
            "application/json",
            400,
            "time zone",
        ),
        (b'{"name": "A"}', "application/json", 400, "handle"),
        (b"name=A", "application/x-www-form-urlencoded", 415, "application/json"),
        (b'["not", "an", "object"]', "application/json", 400, ""),
    ],
)
async def test_admin_bad_bodies_are_problem_details_and_write_nothing(
    app_client: httpx.AsyncClient, body: bytes, content_type: str, status: int, detail: str
) -> None:
    before = await _merchant_count(app_client)
    response = await app_client.post(
        "/admin/merchants", content=body, headers={**ADMIN, "Content-Type": content_type}
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert detail in problem["detail"]
    assert await _merchant_count(app_client) == before


async def test_body_over_the_limit_is_413(database_url: str, tmp_path: object) -> None:
    from bestow.app import create_app

    app = create_app(make_settings(database_url, tmp_path, max_body_bytes=1024))  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            big = b'{"name": "' + b"a" * 2000 + b'", "handle": "big"}'
            response = await client.post(
                "/admin/merchants",
                content=big,
                headers={**ADMIN, "Content-Type": "application/json"},
            )
            assert response.status_code == 413
            assert response.json()["status"] == 413

            async def chunks():  # no Content-Length: the limit holds while streaming too
                for _ in range(4):
                    yield b"a" * 400

            streamed = await client.post(
                "/admin/merchants",
                content=chunks(),
                headers={**ADMIN, "Content-Type": "application/json"},
            )
            assert streamed.status_code == 413


async def test_partner_errors_keep_the_partner_shape(
    app_client: httpx.AsyncClient, partner: PartnerWorld
) -> None:
    response = await app_client.post(
        "/partner/merchants",
        content=b"{}",
        headers=partner.headers(**{"Content-Type": "text/plain"}),
    )
    assert response.status_code in (405, 415)
    assert set(response.json()) == {"code", "message"}


async def test_admin_requires_a_token(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/admin/clients")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    wrong = await app_client.get("/admin/clients", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    "path", ["/admin/clients/cli_missing", "/admin/merchants/%00%ff", "/admin/members/' OR 1=1 --"]
)
async def test_unknown_or_garbage_ids_are_a_clear_4xx(
    app_client: httpx.AsyncClient, path: str
) -> None:
    response = await app_client.get(path, headers=ADMIN)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("path", "method", "allowed"),
    [
        ("/admin/merchants", "DELETE", "GET, POST"),
        ("/partner/campaigns", "PUT", "GET, POST"),
        ("/v1/campaigns", "DELETE", "GET, POST"),
    ],
)
async def test_a_405_lists_every_method_the_path_serves(
    app_client: httpx.AsyncClient, path: str, method: str, allowed: str
) -> None:
    """RFC 9110: ``Allow`` names every method, not only those of the first route that matched."""
    response = await app_client.request(method, path, headers=ADMIN)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed


def _nested(depth: int) -> bytes:
    return b'{"name": "A", "handle": "deep", "x": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("depth", [40, 256, 1023])
async def test_a_body_nested_too_deep_is_refused_on_every_surface(
    app_client: httpx.AsyncClient, depth: int
) -> None:
    """One bound for every surface, before any parser or encoder meets the body."""
    before = await _merchant_count(app_client)
    response = await app_client.post(
        "/admin/merchants",
        content=_nested(depth),
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "nested more than 32 levels deep" in response.json()["detail"]
    assert await _merchant_count(app_client) == before
    operator = await app_client.post(
        "/v1/campaigns", content=_nested(depth), headers={"Content-Type": "application/json"}
    )
    assert operator.status_code in (400, 401)
    assert set(operator.json()) == {"message", "data", "responseCode"}


async def test_a_number_too_large_to_hold_is_out_of_range_not_a_malformed_body(
    app_client: httpx.AsyncClient,
) -> None:
    huge = b"9" * 5000
    response = await app_client.post(
        "/admin/merchants",
        content=b'{"name": "A", "handle": "huge", "x": ' + huge + b"}",
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == "A number in the request body is out of range"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/partner/campaigns/cmp%00x", None),
        ("/partner/campaigns", {"merchant_id": "mer\x00x"}),
        ("/partner/reward_templates", {"merchant_id": "mer\x01"}),
    ],
)
async def test_a_control_character_in_an_id_answers_the_same_on_every_database(
    app_client: httpx.AsyncClient, partner: PartnerWorld, path: str, params: object
) -> None:
    """SQLite looked such an id up (404) and PostgreSQL refused its NUL (400)."""
    response = await app_client.get(path, params=params, headers=partner.headers())
    assert response.status_code == (404 if params is None else 400), response.text
    assert set(response.json()) == {"code", "message"}
