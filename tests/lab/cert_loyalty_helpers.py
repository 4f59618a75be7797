"""Helpers of the Loyalty checklist's tests: a programme whose client keeps its OAuth secret (to
fetch tokens as an integration does), its members and sessions, and the requests' ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from bestow.deps import Runtime
from bestow.models import Member
from tests.loyalty.helpers import (
    SCOPE,
    correlation,
    make_member,
    programme_for,
    reward_body,
)
from tests.oauth.helpers import get_token, oauth_client

FAULT = "X-Bestow-Fault"
AWARD = "/client/users/{}/adhoc-reward/"
HISTORY = "/client/users/{}/transactions/history/v2"
SESSIONS = "/client/users/{}/sessions"


def rid(response: httpx.Response) -> str:
    """The request id the server answered (the request log's ``request_id``)."""
    return response.headers["x-request-id"]


@dataclass
class Integration:
    """A loyalty client as its integration sees it: its credentials, the token it holds, and
    its programme (``tests.loyalty.helpers``' business units and rewards)."""

    http: httpx.AsyncClient
    runtime: Runtime
    client_id: str
    secret: str
    merchant_id: str
    token: str = ""
    token_response: httpx.Response | None = None
    member: Member | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    async def fetch_token(self, **form: str) -> httpx.Response:
        response = await get_token(self.http, self.client_id, self.secret, **form)
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]
        self.token_response = response
        return response

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}

    async def start(
        self, identifier: str | None = None, correlation_id: str | None = None, **extra: str
    ) -> httpx.Response:
        assert self.member is not None
        return await self.http.post(
            SESSIONS.format(identifier or self.member.account_id),
            json={"correlationId": correlation_id or correlation(), "channel": "APP"},
            headers=self.headers(**extra),
        )

    async def session(self, member: Member | None = None) -> str:
        """A new session of ``member`` (the integration's member by default)."""
        identifier = (member or self.member or _missing()).account_id
        response = await self.start(identifier)
        assert response.status_code == 200, response.text
        found: str = response.json()["correlationId"]
        return found

    async def award(
        self, correlation_id: str, body: dict[str, Any] | None = None, **extra: str
    ) -> httpx.Response:
        return await self.http.post(
            AWARD.format(correlation_id),
            json=reward_body() if body is None else body,
            headers=self.headers(**extra),
        )

    async def history(self, correlation_id: str, **params: Any) -> httpx.Response:
        return await self.http.get(
            HISTORY.format(correlation_id), params=params, headers=self.headers()
        )


def _missing() -> Member:
    raise AssertionError("no member")


async def integration(
    http: httpx.AsyncClient, runtime: Runtime, *, tier: str = "unlimited", token: bool = True
) -> Integration:
    """A demo client with an OAuth secret (scopes ``loyalty.adhoc_reward`` and
    ``read_catalogue``), granted a new programme with the ad hoc feature, an active member, and
    (unless ``token`` is false) a token fetched once."""
    client_id, secret, _ = await oauth_client(
        runtime, (SCOPE, "read_catalogue"), tier=tier, name="cert-loyalty"
    )
    merchant_id = await programme_for(runtime, client_id)
    found = Integration(http, runtime, client_id, secret, merchant_id)
    found.member = await make_member(runtime, merchant_id)
    if token:
        await found.fetch_token()
    return found
