"""OAuth 2.0 client credentials: ``POST /oauth2/token`` and the bearer tokens it issues."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from bestow.clients import service as clients
from bestow.clients.service import AuthenticatedClient
from bestow.deps import Runtime
from bestow.kit.errors import Forbidden, Unauthenticated
from bestow.oauth import bearer, tokens
from tests.conftest import ACTOR, ADMIN_TOKEN
from tests.oauth.helpers import (
    TOKEN,
    VOUCHER_SCOPES,
    basic,
    change_client,
    claims,
    get_token,
    issue,
    oauth_client,
)


def oauth_error(response: httpx.Response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert response.headers["cache-control"] == "no-store"
    return str(body["error_description"])


# --- The token endpoint ----------------------------------------------------------------------


async def test_basic_credentials_get_a_bearer_jwt_with_every_scope_of_the_client(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id, secret, _ = await oauth_client(runtime)
    before = datetime.now(UTC).replace(microsecond=0)

    response = await get_token(app_client, client_id, secret)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert body["scope"].split() == sorted(VOUCHER_SCOPES)
    decoded = claims(runtime, body["access_token"])
    assert decoded["sub"] == decoded["client_id"] == client_id
    assert decoded["scope"] == body["scope"]
    assert decoded["token_use"] == "access"
    assert decoded["exp"] - decoded["iat"] == 3600
    assert decoded["iat"] >= int(before.timestamp())
    assert len(decoded["jti"]) == 32


async def test_credentials_in_the_form_and_a_narrower_scope(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id, secret, _ = await oauth_client(runtime)
    response = await app_client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": "read_vouchers read_catalogue",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "read_catalogue read_vouchers"
    assert claims(runtime, response.json()["access_token"])["scope"] == (
        "read_catalogue read_vouchers"
    )


async def test_a_json_body_is_accepted_too(app_client: httpx.AsyncClient, runtime: Runtime) -> None:
    client_id, secret, _ = await oauth_client(runtime)
    response = await app_client.post(
        TOKEN,
        json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.text


async def test_the_lifetime_follows_the_setting(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id, secret, _ = await oauth_client(runtime)
    app = app_client.app  # type: ignore[attr-defined]
    settings = app.state.runtime.settings
    app.state.runtime.settings = settings.model_copy(update={"oauth_token_seconds": 120})
    try:
        response = await get_token(app_client, client_id, secret)
    finally:
        app.state.runtime.settings = settings
    assert response.json()["expires_in"] == 120


@pytest.mark.parametrize(
    ("secret", "why"),
    [("bst_cs_" + "x" * 40, "a wrong secret"), ("", "an empty secret")],
)
async def test_a_wrong_secret_is_invalid_client_with_a_basic_challenge(
    app_client: httpx.AsyncClient, runtime: Runtime, secret: str, why: str
) -> None:
    client_id, _, _ = await oauth_client(runtime)
    response = await get_token(app_client, client_id, secret)
    oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"] == 'Basic realm="bestow"', why


async def test_unknown_suspended_revoked_and_wrong_kind_credentials_are_refused(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id, secret, credential_id = await oauth_client(runtime)
    assert (await get_token(app_client, "cli_unknown", secret)).status_code == 401

    async with runtime.db.write_session() as session:
        partner = await clients.issue_credential(
            session, runtime.sealer, client_id=client_id, kind=clients.PARTNER_TOKEN, actor=ACTOR
        )
        await session.commit()
    # A partner token is not an OAuth secret.
    oauth_error(await get_token(app_client, client_id, partner.secret), 401, "invalid_client")

    async with runtime.db.write_session() as session:
        await clients.revoke_credential(
            session, client_id=client_id, credential_id=credential_id, actor=ACTOR
        )
        await session.commit()
    oauth_error(await get_token(app_client, client_id, secret), 401, "invalid_client")

    other_id, other_secret, _ = await oauth_client(runtime)
    await change_client(runtime, other_id, status="suspended")
    oauth_error(await get_token(app_client, other_id, other_secret), 401, "invalid_client")


async def test_a_scope_the_client_does_not_hold_is_invalid_scope(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id, secret, _ = await oauth_client(runtime, scopes=("read_catalogue",))
    message = oauth_error(
        await get_token(app_client, client_id, secret, scope="read_catalogue issue_vouchers"),
        400,
        "invalid_scope",
    )
    assert "issue_vouchers" in message


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({}, "invalid_request"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
    ],
)
async def test_the_grant_type_is_required_and_only_client_credentials(
    app_client: httpx.AsyncClient, runtime: Runtime, form: dict[str, str], error: str
) -> None:
    client_id, secret, _ = await oauth_client(runtime)
    response = await app_client.post(TOKEN, data=form, headers=basic(client_id, secret))
    oauth_error(response, 400, error)


async def test_malformed_requests_are_invalid_request(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id, secret, _ = await oauth_client(runtime)
    grant = "grant_type=client_credentials"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    cases = [
        ({"Content-Type": "text/plain", **basic(client_id, secret)}, grant.encode()),
        ({**form, **basic(client_id, secret)}, f"{grant}&{grant}".encode()),
        ({**form, **basic(client_id, secret)}, f"{grant}&scope={'x' * 1001}".encode()),
        ({**form, **basic(client_id, secret)}, f"{grant}&client_id={client_id}".encode()),
        ({"Content-Type": "application/json"}, b"{not json"),
        ({"Content-Type": "application/json"}, b'{"grant_type": 1}'),
    ]
    for headers, content in cases:
        response = await app_client.post(TOKEN, content=content, headers=headers)
        oauth_error(response, 400, "invalid_request")


async def test_missing_or_malformed_client_authentication_is_invalid_client(
    app_client: httpx.AsyncClient,
) -> None:
    grant = {"grant_type": "client_credentials"}
    for headers in (
        {},
        {"Authorization": "Bearer something"},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
    ):
        response = await app_client.post(TOKEN, data=grant, headers=headers)
        oauth_error(response, 401, "invalid_client")


@pytest.mark.parametrize(
    "value", [b"Basic \xc3\xa9\xff", b"Basic YWJj\x80OmRlZg==", b"Basic " + "é:ü".encode()]
)
async def test_non_ascii_basic_credentials_are_invalid_client_not_a_crash(
    app_client: httpx.AsyncClient, value: bytes
) -> None:
    """Header bytes beyond ASCII reach the decoder as Latin-1 text, which base64 refuses."""
    response = await app_client.post(
        TOKEN, data={"grant_type": "client_credentials"}, headers=[(b"Authorization", value)]
    )
    oauth_error(response, 401, "invalid_client")


async def test_other_methods_and_paths_answer_in_the_oauth_shape(
    app_client: httpx.AsyncClient,
) -> None:
    oauth_error(await app_client.get(TOKEN), 405, "invalid_request")
    oauth_error(await app_client.post("/oauth2/authorize"), 404, "invalid_request")


# --- Bearer tokens ---------------------------------------------------------------------------


async def authenticate(runtime: Runtime, authorization: str | None) -> AuthenticatedClient:
    async with runtime.db.session() as session:
        return await bearer.authenticate(
            session,
            key=runtime.token_key,
            issuer=runtime.settings.oauth_issuer,
            authorization=authorization,
        )


async def test_a_token_from_the_endpoint_authenticates_its_client(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id, secret, _ = await oauth_client(runtime)
    token = (await get_token(app_client, client_id, secret, scope="read_catalogue")).json()
    found = await authenticate(runtime, f"Bearer {token['access_token']}")
    assert (found.id, found.scopes) == (client_id, frozenset({"read_catalogue"}))
    bearer.require_scope(found, "read_catalogue")
    with pytest.raises(Forbidden):
        bearer.require_scope(found, "issue_vouchers")


async def test_expired_forged_and_foreign_tokens_are_refused(runtime: Runtime) -> None:
    client_id, _, cred = await oauth_client(runtime)
    good = issue(runtime, client_id, ["read_catalogue"], cred=cred)
    header, payload, signature = good.split(".")
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    refused = {
        "expired": issue(runtime, client_id, ["read_catalogue"], cred=cred, now=long_ago),
        "tampered payload": f"{header}.{payload[:-2]}xx.{signature}",
        "another key": tokens.issue(
            b"k" * 32,
            client_id=client_id,
            credential_id=cred,
            scopes=["read_catalogue"],
            issuer=runtime.settings.oauth_issuer,
            lifetime=timedelta(hours=1),
        )[0],
        "another issuer": tokens.issue(
            runtime.token_key,
            client_id=client_id,
            credential_id=cred,
            scopes=["read_catalogue"],
            issuer="someone-else",
            lifetime=timedelta(hours=1),
        )[0],
        "alg none": jwt.encode(
            {**jwt.decode(good, options={"verify_signature": False})}, None, algorithm="none"
        ),
        "not a jwt": "abc.def",
        "no credential": jwt.encode(
            {
                k: v
                for k, v in jwt.decode(good, options={"verify_signature": False}).items()
                if k != "cred"
            },
            runtime.token_key,
            algorithm="HS256",
        ),
    }
    for why, token in refused.items():
        with pytest.raises(Unauthenticated) as caught:
            await authenticate(runtime, f"Bearer {token}")
        assert caught.value.message.startswith("The access token"), why
    with pytest.raises(Unauthenticated, match="expired"):
        await authenticate(runtime, f"Bearer {refused['expired']}")
    for header_value in (None, "", "Basic abc", "Bearer ", good):
        with pytest.raises(Unauthenticated, match="Authorization: Bearer"):
            await authenticate(runtime, header_value)


async def test_a_suspended_client_or_a_removed_scope_stops_a_live_token(runtime: Runtime) -> None:
    client_id, _, cred = await oauth_client(runtime)
    token = issue(runtime, client_id, ["read_catalogue", "issue_vouchers"], cred=cred)
    assert (await authenticate(runtime, f"Bearer {token}")).scopes == {
        "read_catalogue",
        "issue_vouchers",
    }
    await change_client(runtime, client_id, scopes=["read_catalogue"])
    assert (await authenticate(runtime, f"Bearer {token}")).scopes == {"read_catalogue"}
    await change_client(runtime, client_id, status="suspended")
    with pytest.raises(Unauthenticated, match="no longer valid"):
        await authenticate(runtime, f"Bearer {token}")


async def test_revoking_a_secret_stops_the_tokens_it_minted(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id, secret, cred = await oauth_client(runtime)
    async with runtime.db.write_session() as session:
        other = await clients.issue_credential(
            session, runtime.sealer, client_id=client_id, kind=clients.OAUTH_SECRET, actor=ACTOR
        )
        await session.commit()
    minted = (await get_token(app_client, client_id, secret)).json()["access_token"]
    kept = (await get_token(app_client, client_id, other.secret)).json()["access_token"]
    assert claims(runtime, minted)["cred"] == cred
    assert claims(runtime, kept)["cred"] == other.credential.id

    def catalogue(token: str) -> Any:
        return app_client.get("/v3/products", headers={"Authorization": f"Bearer {token}"})

    assert (await catalogue(minted)).status_code == 200
    revoked = await app_client.post(
        f"/admin/clients/{client_id}/credentials/{cred}/revoke",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        json={},
    )
    assert revoked.status_code == 200, revoked.text
    # The process may honour what it read for BESTOW_AUTH_CACHE_SECONDS; that window ends.
    app_client.app.state.bearer_client_cache.clear()  # type: ignore[attr-defined]
    refused = await catalogue(minted)
    assert refused.status_code == 401, refused.text
    assert refused.json()["message"] == "The access token is no longer valid"
    assert (await catalogue(kept)).status_code == 200
    oauth_error(await get_token(app_client, client_id, secret), 401, "invalid_client")
