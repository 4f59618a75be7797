"""Helpers of the OAuth tests, shared with the Voucher, Loyalty, security and boundary tests: an
OAuth client with its secret, tokens asked for and minted, and their claims."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

import httpx
import jwt

from bestow.clients import service as clients
from bestow.deps import Runtime
from bestow.oauth import tokens
from tests.conftest import ACTOR, unique

TOKEN = "/oauth2/token"


VOUCHER_SCOPES = ("read_catalogue", "issue_vouchers", "read_vouchers")


async def oauth_client(
    runtime: Runtime,
    scopes: tuple[str, ...] = VOUCHER_SCOPES,
    *,
    tier: str = "default",
    name: str = "oauth",
    environment: str | None = None,
) -> tuple[str, str, str]:
    """A client with an OAuth secret on ``tier``, named ``name-<random>``, of ``environment``
    (unset: the deployment's pin, else demo): (client id, secret, credential id)."""
    async with runtime.db.write_session() as session:
        client = await clients.create_client(
            session,
            name=unique(name),
            scopes=list(scopes),
            rate_limit_tier=tier,
            known_tiers=runtime.rate_limiter.tier_names(),
            environment=environment,
            pinned=runtime.settings.environment,
            actor=ACTOR,
        )
        issued = await clients.issue_credential(
            session,
            runtime.sealer,
            client_id=client.id,
            kind=clients.OAUTH_SECRET,
            # A production fixture goes live without a certified UAT client (lab.golive).
            override_reason="test fixture",
            pinned=runtime.settings.environment,
            actor=ACTOR,
        )
        await session.commit()
    return client.id, issued.secret, issued.credential.id


async def change_client(runtime: Runtime, client_id: str, **changes: Any) -> None:
    """``clients.update_client`` with ``changes``, committed."""
    async with runtime.db.write_session() as session:
        await clients.update_client(
            session,
            client_id=client_id,
            actor=ACTOR,
            known_tiers=runtime.rate_limiter.tier_names(),
            **changes,
        )
        await session.commit()


def basic(client_id: str, secret: str) -> dict[str, str]:
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


async def get_token(
    client: httpx.AsyncClient, client_id: str, secret: str, **form: str
) -> httpx.Response:
    return await client.post(
        TOKEN,
        data={"grant_type": "client_credentials", **form},
        headers=basic(client_id, secret),
    )


def claims(runtime: Runtime, token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(
        token, runtime.token_key, algorithms=["HS256"], issuer=runtime.settings.oauth_issuer
    )
    return decoded


def issue(runtime: Runtime, client_id: str, scopes: list[str], *, cred: str, **kw: Any) -> str:
    """A token of ``client_id`` minted with its credential ``cred``, as the endpoint would."""
    signed, _ = tokens.issue(
        runtime.token_key,
        client_id=client_id,
        credential_id=cred,
        scopes=scopes,
        issuer=runtime.settings.oauth_issuer,
        lifetime=kw.pop("lifetime", timedelta(hours=1)),
        **kw,
    )
    return signed
