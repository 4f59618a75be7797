"""Failed authentication is throttled on every surface, per source address and per claimed
identity, with the rate limiter's machinery; weak secrets are refused in production.

Each test builds its own application (its limiter counts from zero) with small limits, and sends
requests from chosen source addresses through the ASGI transport."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from bestow.app import create_app
from bestow.config import Settings
from bestow.deps import Runtime
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.fixtures import servers
from tests.oauth.helpers import VOUCHER_SCOPES, oauth_client
from tests.operator.helpers import make_operator, sign
from tests.security.world import error_shape
from tests.surfaces.partner.helpers import new_partner

PER_ADDRESS = 3
PER_IDENTITY = 5

Send = Callable[[httpx.AsyncClient, bool], Awaitable[httpx.Response]]
"""A request of a surface, with the right credentials or wrong ones."""


@pytest.fixture
def limited(database_url: str, var_dir: Path) -> Settings:
    return make_settings(
        database_url,
        var_dir,
        auth_failures_per_address=PER_ADDRESS,
        auth_failures_per_identity=PER_IDENTITY,
    )


@asynccontextmanager
async def from_addresses(settings: Settings) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """Clients of one application, each from the source address it is asked for."""
    app = create_app(settings)
    opened: dict[str, httpx.AsyncClient] = {}
    async with app.router.lifespan_context(app):
        try:

            def client(address: str) -> httpx.AsyncClient:
                if address not in opened:
                    transport = httpx.ASGITransport(app=app, client=(address, 40000))
                    opened[address] = httpx.AsyncClient(
                        transport=transport, base_url="http://bestow.test"
                    )
                return opened[address]

            yield client
        finally:
            for http in opened.values():
                await http.aclose()


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


@dataclass
class Surface:
    name: str
    send: Send


async def surfaces(runtime: Runtime, http: httpx.AsyncClient) -> list[Surface]:
    partner = await new_partner(runtime)
    oauth_id, oauth_secret, _ = await oauth_client(runtime, VOUCHER_SCOPES, tier="unlimited")
    token = await http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers=basic(oauth_id, oauth_secret),
    )
    assert token.status_code == 200, token.text
    access = token.json()["access_token"]
    operator = await make_operator(runtime)

    def admin(h: httpx.AsyncClient, right: bool) -> Awaitable[httpx.Response]:
        sent = ADMIN_TOKEN if right else "not-the-admin-token"
        return h.get("/admin/merchants", headers={"Authorization": f"Bearer {sent}"})

    def partner_api(h: httpx.AsyncClient, right: bool) -> Awaitable[httpx.Response]:
        sent = partner.headers() if right else partner.headers(Authorization="Bearer bst_pt_no")
        return h.get("/partner/merchants", headers=sent)

    def oauth(h: httpx.AsyncClient, right: bool) -> Awaitable[httpx.Response]:
        secret = oauth_secret if right else "bst_cs_wrong"
        return h.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers=basic(oauth_id, secret),
        )

    def vouchers(h: httpx.AsyncClient, right: bool) -> Awaitable[httpx.Response]:
        sent = access if right else access[:-4] + "AAAA"
        return h.get("/v3/products", headers={"Authorization": f"Bearer {sent}"})

    def operator_api(h: httpx.AsyncClient, right: bool) -> Awaitable[httpx.Response]:
        key = operator.primary if right else "not-the-key"
        return h.get(
            "/v1/campaigns",
            headers={
                "X-AUTH-OPERATOR-ID": str(operator.operator_id),
                "X-AUTH-REQUEST-HASH": sign(key, "/v1/campaigns"),
            },
        )

    return [
        Surface("admin", admin),
        Surface("partner", partner_api),
        Surface("oauth", oauth),
        Surface("vouchers", vouchers),
        Surface("operator", operator_api),
    ]


def throttled(surface: str, response: httpx.Response) -> None:
    assert response.status_code == 429, (surface, response.text)
    assert int(response.headers["retry-after"]) >= 1, surface
    error_shape(surface, response)


async def test_wrong_credentials_from_one_address_are_throttled_on_every_surface(
    limited: Settings, runtime: Runtime
) -> None:
    async with from_addresses(limited) as client:
        for number, surface in enumerate(await surfaces(runtime, client("10.0.0.1"))):
            attacker = client(f"10.0.1.{number}")
            for _ in range(PER_ADDRESS):
                refused = await surface.send(attacker, False)
                assert refused.status_code in (400, 401), (surface.name, refused.text)
            throttled(surface.name, await surface.send(attacker, False))
            # Refused before the credentials are checked: right ones from there are refused too.
            throttled(surface.name, await surface.send(attacker, True))
            served = await surface.send(client("10.0.0.2"), True)
            assert served.status_code == 200, (surface.name, served.text)


async def test_an_identity_guessed_from_many_addresses_is_throttled(
    limited: Settings, runtime: Runtime
) -> None:
    async with from_addresses(limited) as client:
        named = {s.name: s for s in await surfaces(runtime, client("10.0.0.1"))}
        for name in ("partner", "oauth", "operator"):
            surface = named[name]
            for attempt in range(PER_IDENTITY):
                refused = await surface.send(client(f"10.2.{len(name)}.{attempt}"), False)
                assert refused.status_code in (400, 401), (name, refused.text)
            throttled(name, await surface.send(client(f"10.3.{len(name)}.1"), True))
        # The admin token claims no identity; bearer tokens neither: only their address counts.
        assert (await named["admin"].send(client("10.3.9.9"), True)).status_code == 200


async def test_successful_requests_are_never_charged(limited: Settings, runtime: Runtime) -> None:
    async with from_addresses(limited) as client:
        for number, surface in enumerate(await surfaces(runtime, client("10.0.0.1"))):
            http = client(f"10.0.4.{number}")
            for _ in range(PER_ADDRESS * 2):
                served = await surface.send(http, True)
                assert served.status_code == 200, (surface.name, served.text)
            for _ in range(PER_ADDRESS):
                assert (await surface.send(http, False)).status_code in (400, 401), surface.name
            throttled(surface.name, await surface.send(http, False))


@pytest.mark.parametrize(
    "weak",
    [
        {"BESTOW_ADMIN_TOKEN": "a"},
        {"BESTOW_SECRET_KEY": "s3cr3t"},
        {"BESTOW_ADMIN_TOKEN": "x" * 64},
        {"BESTOW_SECRET_KEY": "test-admin-token-" + "x" * 32},
    ],
    ids=["short-admin-token", "short-secret-key", "repeated-admin-token", "patterned-secret-key"],
)
@pytest.mark.slow
def test_production_refuses_to_start_with_a_weak_secret(
    weak: dict[str, str], tmp_path: Path
) -> None:
    strong = {
        "BESTOW_ADMIN_TOKEN": "GtBMkZLOobCcQmeVCcWtFLRRYQxBN0wpRbSqPwddtpA",
        "BESTOW_SECRET_KEY": "vCktmnBmcUjYSzqA3f6kkhDR0qiyO6GZEOexrVAVNT4",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("BESTOW_")} | {
        "BESTOW_ENVIRONMENT": "production",
        "BESTOW_DATABASE_URL": f"sqlite:///{tmp_path}/bestow.db",
        "BESTOW_VAR_DIR": str(tmp_path / "var"),
        **strong,
        **weak,
    }
    done = subprocess.run(
        [*servers.BESTOW, "serve", "--port", str(servers.free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    [name] = weak
    assert f"{name} must carry at least 32 bytes of entropy in production" in done.stderr
    assert "Traceback" not in done.stderr
    for value in weak.values():
        assert len(value) < 4 or value not in done.stdout + done.stderr
    with pytest.raises(ValidationError, match="32 bytes of entropy"):
        create_app(
            Settings(
                environment="production",  # type: ignore[arg-type]
                admin_token=env["BESTOW_ADMIN_TOKEN"],
                secret_key=env["BESTOW_SECRET_KEY"],
            )
        )
    # Outside production, or with strong secrets, the same settings are accepted.
    assert not Settings(admin_token=env["BESTOW_ADMIN_TOKEN"]).is_production
    assert Settings(environment="production", **{k[7:].lower(): v for k, v in strong.items()})  # type: ignore[arg-type]
