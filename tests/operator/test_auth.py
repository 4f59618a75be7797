"""Operator API authentication: the request hash with either key, the relative URL's rules,
tampering, unknown operators, the bypass header and the envelope of refusals."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import orjson

from bestow.deps import Runtime
from tests.conftest import app_on, make_settings
from tests.operator.helpers import Operator, call, make_operator, sign

CAMPAIGN = {
    "name": "Summer Campaign 2026",
    "startTimeUtc": "2026-06-01T00:00:00Z",
    "createdBy": "[email protected]",
}


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["responseCode"] == "Unauthorized"
    assert body["data"] == {}
    assert body["message"]


async def test_primary_and_secondary_keys(app_client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await make_operator(runtime)
    for key in (operator.primary, operator.secondary):
        response = await call(app_client, operator, "GET", "/v1/campaigns", key=key)
        assert response.status_code == 200, response.text
        assert response.json() == {"message": "OK", "data": [], "responseCode": "OK"}


async def test_post_body_is_hashed(app_client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await make_operator(runtime)
    response = await call(app_client, operator, "POST", "/v1/campaigns", CAMPAIGN)
    assert response.status_code == 200, response.text
    response = await call(
        app_client, operator, "POST", "/v1/campaigns", CAMPAIGN, key=operator.secondary
    )
    assert response.status_code == 200, response.text


async def test_trailing_slash_is_trimmed(app_client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await make_operator(runtime)
    # Sent with the slash, signed without it (the signer trims, as documented).
    response = await app_client.get(
        "/v1/campaigns/",
        headers={
            "X-AUTH-OPERATOR-ID": str(operator.operator_id),
            "X-AUTH-REQUEST-HASH": sign(operator.primary, "/v1/campaigns"),
        },
    )
    assert response.status_code == 200, response.text
    # Signed with the slash kept: refused.
    raw = hashlib_hex(operator.primary + "/v1/campaigns/")
    response = await app_client.get(
        "/v1/campaigns/",
        headers={"X-AUTH-OPERATOR-ID": str(operator.operator_id), "X-AUTH-REQUEST-HASH": raw},
    )
    _refused(response)


def hashlib_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_query_string_is_hashed(app_client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await make_operator(runtime)
    response = await call(app_client, operator, "GET", "/v1/campaigns?page=1&size=5")
    assert response.status_code == 200, response.text
    # The query string left out of the hash: refused.
    response = await app_client.get(
        "/v1/campaigns?page=1&size=5",
        headers={
            "X-AUTH-OPERATOR-ID": str(operator.operator_id),
            "X-AUTH-REQUEST-HASH": sign(operator.primary, "/v1/campaigns"),
        },
    )
    _refused(response)


async def test_a_slash_or_mark_appended_to_a_signed_query_is_refused(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    operator = await make_operator(runtime)
    signed = sign(operator.primary, "/v1/campaigns?page=1&size=5")
    sent = {"X-AUTH-OPERATOR-ID": str(operator.operator_id), "X-AUTH-REQUEST-HASH": signed}
    response = await app_client.get("/v1/campaigns?page=1&size=5", headers=sent)
    assert response.status_code == 200, response.text
    for modified in ("/", "///", "?", "&"):
        response = await app_client.get(f"/v1/campaigns?page=1&size=5{modified}", headers=sent)
        _refused(response)
    # The path's trailing slash is still trimmed before the query.
    response = await app_client.get("/v1/campaigns/?page=1&size=5", headers=sent)
    assert response.status_code == 200, response.text


async def test_tampered_body_is_refused(app_client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await make_operator(runtime)
    signed = orjson.dumps(CAMPAIGN)
    sent = orjson.dumps({**CAMPAIGN, "name": "Winter Campaign"})
    response = await app_client.post(
        "/v1/campaigns",
        content=sent,
        headers={
            "X-AUTH-OPERATOR-ID": str(operator.operator_id),
            "X-AUTH-REQUEST-HASH": sign(operator.primary, "/v1/campaigns", signed),
            "Content-Type": "application/json",
        },
    )
    _refused(response)
    listed = await call(app_client, operator, "GET", "/v1/campaigns")
    assert listed.json()["data"] == []


async def test_wrong_operator_is_refused(app_client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await make_operator(runtime)
    other = await make_operator(runtime)
    # Another operator's id with this operator's key.
    mixed = Operator(operator.client_id, other.operator_id, operator.primary, operator.secondary)
    _refused(await call(app_client, mixed, "GET", "/v1/campaigns"))
    # An operator id nobody has: the same refusal.
    unknown = Operator(operator.client_id, 2_100_000_000, operator.primary, operator.primary)
    unknown_response = await call(app_client, unknown, "GET", "/v1/campaigns")
    _refused(unknown_response)
    wrong_key = await call(app_client, mixed, "GET", "/v1/campaigns")
    assert unknown_response.json()["message"] == wrong_key.json()["message"]


async def test_missing_or_malformed_headers(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    operator = await make_operator(runtime)
    hashed = sign(operator.primary, "/v1/campaigns")
    _refused(await app_client.get("/v1/campaigns"))
    _refused(await app_client.get("/v1/campaigns", headers={"X-AUTH-REQUEST-HASH": hashed}))
    for bad in ("abc", "-1", "0", "1.5", "99999999999"):
        response = await app_client.get(
            "/v1/campaigns", headers={"X-AUTH-OPERATOR-ID": bad, "X-AUTH-REQUEST-HASH": hashed}
        )
        _refused(response)
        assert "X-AUTH-OPERATOR-ID" in response.json()["message"]
    response = await app_client.get(
        "/v1/campaigns", headers={"X-AUTH-OPERATOR-ID": str(operator.operator_id)}
    )
    _refused(response)
    assert "X-AUTH-REQUEST-HASH" in response.json()["message"]


async def test_wrong_key_is_refused(app_client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await make_operator(runtime, secondary=False)
    _refused(await call(app_client, operator, "GET", "/v1/campaigns", key="not-the-key"))


async def test_scope_is_required(app_client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await make_operator(runtime, scopes=())
    response = await call(app_client, operator, "GET", "/v1/campaigns")
    assert response.status_code == 403, response.text
    assert response.json()["responseCode"] == "Forbidden"


async def test_bypass_accepted_in_sandbox(app_client: httpx.AsyncClient, runtime: Runtime) -> None:
    operator = await make_operator(runtime)
    bypass = {"X-AUTH-OPERATOR-ID": str(operator.operator_id), "X-AUTH-REQUEST-HASH-BYPASS": "true"}
    response = await app_client.get("/v1/campaigns", headers=bypass)
    assert response.status_code == 200, response.text
    # The operator must still exist.
    unknown = {**bypass, "X-AUTH-OPERATOR-ID": "2100000001"}
    _refused(await app_client.get("/v1/campaigns", headers=unknown))
    # Any other value is no bypass.
    _refused(
        await app_client.get(
            "/v1/campaigns", headers={**bypass, "X-AUTH-REQUEST-HASH-BYPASS": "yes"}
        )
    )


async def test_bypass_refused_in_production(
    database_url: str, var_dir: Path, runtime: Runtime
) -> None:
    operator = await make_operator(runtime, environment="production")
    settings = make_settings(database_url, var_dir, environment="production")
    assert settings.is_production
    async with app_on(settings) as http:
        bypass = {
            "X-AUTH-OPERATOR-ID": str(operator.operator_id),
            "X-AUTH-REQUEST-HASH-BYPASS": "true",
        }
        _refused(await http.get("/v1/campaigns", headers=bypass))
        wrong = {**bypass, "X-AUTH-REQUEST-HASH": sign("wrong", "/v1/campaigns")}
        _refused(await http.get("/v1/campaigns", headers=wrong))
        # A correct hash still works, the bypass header being ignored.
        signed = {**bypass, "X-AUTH-REQUEST-HASH": sign(operator.primary, "/v1/campaigns")}
        assert (await http.get("/v1/campaigns", headers=signed)).status_code == 200
