"""A deployment with two clients on every client-facing surface (A and B) and A's objects, and
the route table of the application, for the security checks of this package."""

from __future__ import annotations

import functools
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import update

from bestow.app import build_runtime, create_app
from bestow.config import Settings
from bestow.deps import Runtime
from bestow.models import Client, Member
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.loyalty.helpers import Programme, make_member, make_programme, open_session
from tests.oauth.helpers import VOUCHER_SCOPES, get_token, oauth_client
from tests.operator.helpers import Operator, call, make_operator
from tests.operator.helpers import campaign as operator_campaign
from tests.operator.helpers import create as operator_reward
from tests.surfaces.partner.helpers import (
    Partner,
    create_campaign,
    make_template,
    new_partner,
    variant_id,
)
from tests.vouchers.helpers import create as create_product
from tests.vouchers.helpers import fixed

MAX_BODY_BYTES = 8192
"""The body limit of the security deployment: small, so that an oversized body is cheap."""

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
VOUCHER_CLIENT_SCOPES = (*VOUCHER_SCOPES, "redeem_vouchers")

SURFACES = {
    "/partner/": "partner",
    "/v3/": "vouchers",
    "/client/": "loyalty",
    "/v1/": "operator",
    "/admin/": "admin",
    "/oauth2/": "oauth",
}
"""Each surface by the prefix of its paths. A route under none of them fails the checks."""

PUBLIC_PREFIXES = {
    "/v/": "voucher page: the code in the link is the recipient's bearer secret",
    "/s/": "short voucher page: the short code and its PIN are the recipient's secret",
}
PUBLIC_PATHS = {
    "/healthz": "liveness probe",
    "/readyz": "readiness probe",
    "/metrics": "Prometheus metrics, scraped without credentials (network-restricted)",
    "/docs": "the interactive API documentation (Swagger UI), as FastAPI's own was",
    "/docs/oauth2-redirect": "Swagger UI's OAuth 2.0 redirect page",
    "/redoc": "the API documentation (ReDoc)",
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    route: APIRoute | Any

    @property
    def surface(self) -> str | None:
        return next((s for p, s in SURFACES.items() if self.path.startswith(p)), None)

    @property
    def path_params(self) -> list[str]:
        return [p.name for p in self.route.dependant.path_params]

    @property
    def query_params(self) -> list[str]:
        found: list[str] = []

        def walk(dependant: Any) -> None:
            found.extend(str(q.alias) for q in dependant.query_params)
            for sub in dependant.dependencies:
                walk(sub)

        walk(self.route.dependant)
        return found

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def api_routes(app: FastAPI) -> list[Route]:
    """Every (method, path) of the application's API routes, HEAD and OPTIONS aside."""
    found = []
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        for method in sorted(context.methods or ()):
            if method not in ("HEAD", "OPTIONS"):
                found.append(Route(method, str(context.path), context))
    return found


@functools.cache
def route_table() -> list[Route]:
    """The routes of an application built from the test settings (it is not started)."""
    settings = make_settings("sqlite:///:memory:", Path(tempfile.gettempdir()))
    return api_routes(create_app(settings))


def is_public(route: Route) -> bool:
    return route.path in PUBLIC_PATHS or any(route.path.startswith(p) for p in PUBLIC_PREFIXES)


def error_shape(surface: str, response: httpx.Response) -> None:
    """The response is an error in the surface's own shape."""
    status = response.status_code
    if surface == "oauth":
        assert "error" in response.json(), response.text
        return
    if surface == "admin":
        assert response.headers["content-type"] == "application/problem+json", response.text
        assert response.json()["status"] == status, response.text
        return
    body = response.json()
    assert isinstance(body, dict), response.text
    if surface == "partner":
        assert set(body) == {"code", "message"}, response.text
    elif surface == "vouchers":
        assert set(body) == {"status", "code", "message"} and body["status"] == status, body
    elif surface == "loyalty":
        assert set(body) == {"statusCode", "errorCode", "errorMessage"}, body
        assert body["statusCode"] == status, body
    elif surface == "operator":
        assert set(body) == {"message", "data", "responseCode"}, body
        assert body["responseCode"] != "OK" and body["data"] == {}, body
    else:  # pragma: no cover - a new surface
        raise AssertionError(f"no error shape known for the surface {surface!r}")


@dataclass
class World:
    settings: Settings
    runtime: Runtime
    http: httpx.AsyncClient
    partner_a: Partner
    partner_b: Partner
    voucher_a: tuple[str, str, dict[str, str]]  # client id, secret, headers
    voucher_b: tuple[str, str, dict[str, str]]
    operator_a: Operator
    operator_b: Operator
    loyalty_a: Programme
    loyalty_b: Programme
    objects: dict[str, str] = field(default_factory=dict)
    """Client A's objects by name (``partner.campaign_id``, ``operator.reward_id``, ...)."""
    secrets: dict[str, str] = field(default_factory=dict)
    """Every plaintext secret issued in the world, by kind."""
    a_environment: str | None = None
    b_environment: str | None = None
    """The environments of A's and B's clients (``None``: the deployment's pin, else demo)."""

    async def as_b(
        self,
        surface: str,
        method: str,
        url: str,
        *,
        body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        who: str = "b",
    ) -> httpx.Response:
        """A request with client B's (or, ``who="a"``, A's) credentials on ``surface``."""
        b = who == "b"
        if surface == "operator":
            operator = self.operator_b if b else self.operator_a
            if content is not None:
                from tests.operator.helpers import headers as signed

                sent = signed(operator, url, content)
                return await self.http.request(method, url, content=content, headers=sent)
            return await call(self.http, operator, method, url, body)
        sent = {
            "partner": (self.partner_b if b else self.partner_a).headers(),
            "vouchers": (self.voucher_b if b else self.voucher_a)[2],
            "loyalty": (self.loyalty_b if b else self.loyalty_a).headers,
            "admin": ADMIN,
            "oauth": {},
        }[surface]
        sent = {**sent, **(headers or {})}
        if content is not None:
            sent["Content-Type"] = "application/json"
            return await self.http.request(method, url, content=content, headers=sent)
        if method in ("GET", "DELETE"):
            return await self.http.request(method, url, headers=sent)
        return await self.http.request(method, url, json=body or {}, headers=sent)


async def voucher_login(
    http: httpx.AsyncClient, runtime: Runtime, environment: str | None = None
) -> tuple[str, str, dict]:
    client_id, secret, _ = await oauth_client(
        runtime, VOUCHER_CLIENT_SCOPES, tier="unlimited", name="security", environment=environment
    )
    response = await get_token(http, client_id, secret)
    assert response.status_code == 200, response.text
    return client_id, secret, {"Authorization": f"Bearer {response.json()['access_token']}"}


async def programme(
    http: httpx.AsyncClient, runtime: Runtime, environment: str | None
) -> Programme:
    """A loyalty programme whose client is of ``environment`` (set before its first call)."""
    made = await make_programme(http, runtime)
    if environment is not None:
        async with runtime.db.write_session() as session:
            await session.execute(
                update(Client).where(Client.id == made.client_id).values(environment=environment)
            )
            await session.commit()
    return made


@asynccontextmanager
async def open_world(
    database_url: str,
    var_dir: Path,
    *,
    with_worker: bool = False,
    a_environment: str | None = None,
    b_environment: str | None = None,
    **overrides: Any,
) -> AsyncIterator[World]:
    """The world; ``a_environment``, ``b_environment``: the environments of A's and B's clients
    (unset: the deployment's pin, else demo), for the environment isolation checks."""
    a_env, b_env = a_environment, b_environment
    settings = make_settings(
        database_url, var_dir, **{"max_body_bytes": MAX_BODY_BYTES, **overrides}
    )
    runtime = build_runtime(settings)
    app = create_app(settings, with_worker=with_worker)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bestow.test"
            ) as http:
                http.app = app  # type: ignore[attr-defined]
                world = World(
                    settings=settings,
                    runtime=runtime,
                    http=http,
                    partner_a=await new_partner(runtime, environment=a_env),
                    partner_b=await new_partner(runtime, environment=b_env),
                    voucher_a=await voucher_login(http, runtime, a_env),
                    voucher_b=await voucher_login(http, runtime, b_env),
                    operator_a=await make_operator(runtime, environment=a_env),
                    operator_b=await make_operator(runtime, environment=b_env),
                    loyalty_a=await programme(http, runtime, a_env),
                    loyalty_b=await programme(http, runtime, b_env),
                    a_environment=a_env,
                    b_environment=b_env,
                )
                await populate(world)
                yield world
    finally:
        await runtime.db.dispose()


async def populate(world: World) -> None:
    """Client A's objects on every surface."""
    http, runtime, objects = world.http, world.runtime, world.objects
    a = world.partner_a
    template = await make_template(runtime, a.merchant_id)
    campaign = await create_campaign(http, a, template.id)
    job = await http.post(
        "/partner/campaigns/issue",
        headers=a.headers(**{"X-Idempotency-Key": str(uuid.uuid4())}),
        json={
            "campaign_id": campaign["id"],
            "merchant_id": a.merchant_id,
            "variant_id": variant_id(campaign, "Treatment"),
            "identifiers": [{"type": "email", "value": "tenant.a@example.com"}],
        },
    )
    assert job.status_code == 202, job.text
    objects.update(
        {
            "partner.template_id": template.id,
            "partner.campaign_id": campaign["id"],
            "partner.job_id": job.json()["issuance_job"]["id"],
        }
    )

    product = await create_product(runtime, **fixed())
    issued = await http.post(
        f"/v3/products/{product.code}",
        json={"quantity": 1},
        headers={**world.voucher_a[2], "Idempotency-Key": str(uuid.uuid4())},
    )
    assert issued.status_code == 200, issued.text
    [voucher] = issued.json()["vouchers"]
    objects.update(
        {
            "vouchers.product_code": product.code,
            "vouchers.voucher_id": voucher["voucher_id"],
            "vouchers.voucher_code": voucher["voucher_code"],
        }
    )

    op = world.operator_a
    campaign_id = await operator_campaign(http, op)
    reward = await operator_reward(http, op, campaign_id)
    enrolled = await call(
        http, op, "POST", f"/v1/rewards/{reward['id']}/enrollments", {"operatorPlayerId": "p-a"}
    )
    assert enrolled.status_code == 200, enrolled.text
    bulk = await call(
        http,
        op,
        "POST",
        f"/v1/rewards/{reward['id']}/enrollments/bulk",
        {"operatorPlayerIds": ["p-b", "p-c"]},
    )
    assert bulk.status_code == 202, bulk.text
    objects.update(
        {
            "operator.campaign_id": campaign_id,
            "operator.reward_id": reward["id"],
            "operator.enrollment_id": enrolled.json()["data"]["id"],
            "operator.bulk_id": bulk.json()["data"]["id"],
        }
    )

    member: Member = await make_member(runtime, world.loyalty_a.merchant_id)
    objects.update(
        {
            "loyalty.identifier": member.account_id,
            "loyalty.correlation_id": await open_session(http, world.loyalty_a.headers, member),
            "loyalty.partner_id": world.loyalty_a.client_id,
            "admin.member_id": member.id,
            "admin.merchant_id": a.merchant_id,
            "admin.client_id": a.client_id,
        }
    )
    # A production client's endpoint must be https on a public address: created disabled, so
    # that no dispatcher (of another test, on this database) ever calls it.
    local = world.a_environment != "production"
    endpoint = await http.post(
        f"/admin/clients/{a.client_id}/webhook_endpoints",
        json={"url": "http://127.0.0.1:9/hooks"}
        if local
        else {"url": "https://8.8.8.8/hooks", "enabled": False},
        headers=ADMIN,
    )
    assert endpoint.status_code == 201, endpoint.text
    objects["admin.endpoint_id"] = endpoint.json()["id"]
    world.secrets["webhook_secret"] = endpoint.json()["secret"]


OBJECTS: dict[tuple[str, str], str] = {
    ("partner", "template_id"): "partner.template_id",
    ("partner", "campaign_id"): "partner.campaign_id",
    ("partner", "job_id"): "partner.job_id",
    ("vouchers", "voucher_id"): "vouchers.voucher_id",
    ("operator", "campaign_id"): "operator.campaign_id",
    ("operator", "reward_id"): "operator.reward_id",
    ("operator", "enrollment_id"): "operator.enrollment_id",
    ("operator", "bulk_id"): "operator.bulk_id",
    ("loyalty", "identifier"): "loyalty.identifier",
    ("loyalty", "correlation_id"): "loyalty.correlation_id",
    ("loyalty", "partner_id"): "loyalty.partner_id",
}
"""(surface, path parameter) -> the key of client A's object in ``World.objects``."""
