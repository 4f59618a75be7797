"""Bestow with candidate optimisations applied from the outside, to measure them before anyone
changes ``src/``. Nothing here is used by the application; ``bench/api.py --variant FLAGS`` serves
``make_app`` with uvicorn (same settings as ``bestow serve``) and ``bench/hotspots.py`` calls the
ASGI app in-process.

Flags (comma-separated in ``BENCH_VARIANT``):

- ``async-runtime``: ``get_runtime`` as an ``async def`` dependency. FastAPI runs a plain ``def``
  dependency in the thread pool (``run_in_threadpool``): one thread hop per request.
- ``no-middleware``: without ``RequestMiddleware`` (request id, access log, Prometheus).
- ``lean-middleware``: ``LeanRequestMiddleware`` below: same duties, cheaper (see its docstring).
- ``core``: the merchants query on a Core connection, statement built once (no ORM session, no
  session dependency).
- ``autocommit``: like ``core`` on an AUTOCOMMIT connection: no BEGIN/ROLLBACK around the SELECT.
- ``raw``: one driver call (aiosqlite ``execute_fetchall`` / asyncpg ``fetch``) with the SQL
  compiled once: no transaction, no SQLAlchemy execution or result layer.
- ``lean-auth``: the partner authentication as a dependency that reads its three headers from
  ``request.headers`` instead of ``Header()`` parameters (same checks, same errors).
- ``floor``: no authentication and no database: a constant body of the same size from a
  dependency-free FastAPI route (what FastAPI + the middleware cost on their own).
- ``cached``: the merchants list cached per client for ``auth_cache_seconds``, like the auth cache
  (combined with ``core``, ``autocommit`` or ``raw`` for the misses; ``core`` by default).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from bestow import deps
from bestow.app import create_app
from bestow.clients import service as clients
from bestow.clients.service import AuthenticatedClient
from bestow.config import Settings
from bestow.kit import logging as bestow_logging
from bestow.kit.errors import Invalid, Unauthenticated
from bestow.kit.responses import JSONResponse
from bestow.models import ClientMerchant, Merchant
from bestow.surfaces.partner import auth as partner_auth
from bestow.surfaces.partner.auth import PartnerClient

FLAGS = (
    "async-runtime",
    "no-middleware",
    "lean-middleware",
    "core",
    "autocommit",
    "raw",
    "cached",
    "lean-auth",
    "floor",
)
PATH = "/partner/merchants"


def parse_flags(text: str | None) -> set[str]:
    flags = {f.strip() for f in (text or "").split(",") if f.strip()}
    unknown = flags - set(FLAGS)
    if unknown:
        raise ValueError(f"unknown variant flags {sorted(unknown)}; known: {', '.join(FLAGS)}")
    return flags


async def get_runtime_async(request: Request) -> deps.Runtime:
    runtime: deps.Runtime = request.app.state.runtime
    return runtime


MERCHANTS = (
    select(Merchant.id, Merchant.name, Merchant.handle)
    .join(ClientMerchant, ClientMerchant.merchant_id == Merchant.id)
    .where(ClientMerchant.client_id == bindparam("client_id"))
    .order_by(Merchant.id)
)


def _engine(request: Request, autocommit: bool) -> AsyncEngine:
    runtime: deps.Runtime = request.app.state.runtime
    engine = runtime.db.engine
    if not autocommit:
        return engine
    cached: AsyncEngine | None = getattr(request.app.state, "bench_autocommit_engine", None)
    if cached is None:
        cached = engine.execution_options(isolation_level="AUTOCOMMIT")
        request.app.state.bench_autocommit_engine = cached
    return cached


_SQL: dict[str, str] = {}


async def _rows(request: Request, client_id: str, mode: str) -> list[dict[str, str]]:
    engine = _engine(request, mode == "autocommit")
    async with engine.connect() as conn:
        if mode != "raw":
            result = await conn.execute(MERCHANTS, {"client_id": client_id})
            return [{"id": r[0], "name": r[1], "handle": r[2]} for r in result]
        # One driver call: no BEGIN, no SQLAlchemy compilation or result processing.
        dialect = engine.dialect.name
        sql = _SQL.get(dialect)
        if sql is None:
            sql = _SQL[dialect] = str(MERCHANTS.compile(dialect=engine.dialect))
        driver: Any = (await conn.get_raw_connection()).driver_connection
        if dialect == "sqlite":
            rows = await driver.execute_fetchall(sql, (client_id,))
        else:
            rows = await driver.fetch(sql, client_id)
        return [{"id": r[0], "name": r[1], "handle": r[2]} for r in rows]


async def lean_partner_client(request: Request) -> AuthenticatedClient:
    """``partner_client`` with the same checks and errors, reading the three headers itself
    instead of declaring them as ``Header()`` parameters (which FastAPI extracts and validates
    with pydantic on every request), and without the ``RuntimeDep`` sub-dependency."""
    headers = request.headers
    authorization = headers.get("authorization")
    x_clientid = headers.get("x-clientid")
    accept_version = headers.get("accept-version")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or not x_clientid:
        raise Unauthenticated("Missing or invalid credentials")
    token = token.strip()
    key = (x_clientid, hashlib.sha256(token.encode()).hexdigest())
    cache = partner_auth._cache(request)
    client = cache.get(key)
    runtime: deps.Runtime = request.app.state.runtime
    if client is None:
        async with runtime.db.session() as session:
            client = await clients.authenticate_secret(
                session, client_id=x_clientid, secret=token, kind=clients.PARTNER_TOKEN
            )
        if client is None:
            raise Unauthenticated("Missing or invalid credentials")
        cache.put(key, client)
    request.state.client_id = client.id
    if accept_version is None:
        raise Invalid("Accept-Version header is required; send Accept-Version: v4.0")
    if accept_version.strip() != partner_auth.API_VERSION:
        raise Invalid(
            f"Accept-Version {accept_version!r} is not supported; use {partner_auth.API_VERSION}"
        )
    await runtime.rate_limiter.hit(client.id, client.rate_limit_tier)
    return client


LeanPartnerClient = Annotated[AuthenticatedClient, Depends(lean_partner_client)]


def _merchants_route(app: FastAPI, *, mode: str, cached: bool, ttl: float, lean_auth: bool) -> None:
    """A replacement ``GET /partner/merchants``, put before the original one."""
    cache: dict[str, tuple[float, bytes]] = {}

    async def get_merchants(client: AuthenticatedClient, request: Request) -> Any:
        if cached:
            hit = cache.get(client.id)
            now = time.monotonic()
            if hit is not None and hit[0] > now:
                return Response(hit[1], media_type="application/json")
            body = orjson.dumps({"merchants": await _rows(request, client.id, mode)})
            if len(cache) > 10_000:
                cache.clear()
            cache[client.id] = (now + ttl, body)
            return Response(body, media_type="application/json")
        return JSONResponse({"merchants": await _rows(request, client.id, mode)})

    get_merchants.__annotations__["client"] = LeanPartnerClient if lean_auth else PartnerClient
    app.router.add_api_route(PATH, get_merchants, methods=["GET"], response_class=JSONResponse)
    route = app.router.routes.pop()
    assert isinstance(route, APIRoute)
    app.router.routes.insert(0, route)


def _floor_route(app: FastAPI) -> None:
    body: list[bytes] = []

    async def get_merchants(request: Request) -> Any:
        if not body:  # the document the real route returns, read once
            runtime: deps.Runtime = request.app.state.runtime
            async with runtime.db.engine.connect() as conn:
                rows = await conn.execute(select(Merchant.id, Merchant.name, Merchant.handle))
                items = [{"id": r[0], "name": r[1], "handle": r[2]} for r in rows]
            body.append(orjson.dumps({"merchants": sorted(items, key=lambda m: m["id"])}))
        return Response(body[0], media_type="application/json")

    app.router.add_api_route(PATH, get_merchants, methods=["GET"], response_class=JSONResponse)
    route = app.router.routes.pop()
    app.router.routes.insert(0, route)


class LeanRequestMiddleware(bestow_logging.RequestMiddleware):
    """``RequestMiddleware`` with the same duties and output, minus avoidable per-request work:

    - the request id from ``os.urandom(16).hex()`` instead of ``uuid.uuid4().hex`` (same entropy,
      one call instead of building a UUID object);
    - the header dict only when a request id or a body is given (GET without either skips it);
    - the access-log call only when INFO is enabled (structlog's filtering logger already makes it
      a no-op, but the keyword arguments are still built);
    - Prometheus children (``labels(...)``) looked up once per (method, route, status).
    """

    _children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        raw: Iterable[tuple[bytes, bytes]] = scope["headers"]
        headers = dict(raw)
        given = headers.get(b"x-request-id")
        request_id = (
            given.decode("latin-1")
            if given is not None and bestow_logging._REQUEST_ID.match(given.decode("latin-1"))
            else os.urandom(16).hex()
        )
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        id_header = (b"x-request-id", request_id.encode())
        status_holder = [500]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message["headers"] = [*message.get("headers", []), id_header]
            await send(message)

        try:
            refusal = self._refuse(scope, headers)
            if refusal is not None:
                await refusal(scope, receive, send_with_id)
            elif scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
                await self.app(scope, receive, send_with_id)
            else:
                await self.app(scope, self._limited(receive), send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            status = status_holder[0]
            key = (scope["method"], template, str(status))
            children = self._children.get(key)
            if children is None:
                children = (
                    bestow_logging.REQUESTS.labels(*key),
                    bestow_logging.LATENCY.labels(key[0], key[1]),
                )
                self._children[key] = children
            children[0].inc()
            children[1].observe(elapsed)
            if _info_enabled():
                bestow_logging.access_log.info(
                    "request",
                    request_id=request_id,
                    client_id=state.get("client_id"),
                    method=scope["method"],
                    route=template,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )


def _info_enabled() -> bool:
    enabled: bool = bestow_logging.access_log.is_enabled_for(logging.INFO)
    return enabled


def _dependants(routes: Iterable[Any]) -> Iterator[Dependant]:
    """Every route dependant FastAPI will solve, including the per-include copies FastAPI 0.165
    builds lazily for included routers (built here, now, so that they can be patched)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route.dependant
        elif hasattr(route, "effective_candidates"):  # FastAPI's _IncludedRouter
            yield from _dependants(route.original_router.routes)
            for candidate in route.effective_candidates():
                dependant = getattr(candidate, "dependant", None)
                if isinstance(dependant, Dependant):
                    yield dependant
                elif hasattr(candidate, "effective_candidates"):
                    yield from _dependants([candidate])


def _swap_call(dependant: Dependant, old: Callable[..., Any], new: Callable[..., Any]) -> None:
    """Replace a dependency callable in place (the route handler holds the same objects)."""
    if dependant.call is old:
        dependant.call = new
    for sub in dependant.dependencies:
        _swap_call(sub, old, new)


def apply(app: FastAPI, flags: set[str], settings: Settings) -> FastAPI:
    if "no-middleware" in flags or "lean-middleware" in flags:
        kept: list[Middleware] = []
        for m in app.user_middleware:
            if m.cls is bestow_logging.RequestMiddleware:  # type: ignore[comparison-overlap]
                if "no-middleware" in flags:
                    continue
                m = Middleware(LeanRequestMiddleware, *m.args, **m.kwargs)  # type: ignore[arg-type]
            kept.append(m)
        app.user_middleware = kept
        app.middleware_stack = None
    if "floor" in flags:
        _floor_route(app)
    elif flags & {"core", "autocommit", "raw", "cached", "lean-auth"}:
        mode = next((m for m in ("raw", "autocommit") if m in flags), "core")
        _merchants_route(
            app,
            mode=mode,
            cached="cached" in flags,
            ttl=settings.auth_cache_seconds,
            lean_auth="lean-auth" in flags,
        )
    if "async-runtime" in flags:
        # Not app.dependency_overrides: with any override set, FastAPI re-analyses the overriding
        # callable's signature on every request (get_dependant), which costs more than the hop.
        for dependant in _dependants(app.router.routes):
            _swap_call(dependant, deps.get_runtime, get_runtime_async)
    return app


def make_app(settings: Settings | None = None, flags: set[str] | None = None) -> FastAPI:
    """The uvicorn factory: ``uvicorn --factory variants:make_app`` with ``BENCH_VARIANT``."""
    from bestow.config import get_settings

    settings = settings or get_settings()
    if flags is None:
        flags = parse_flags(os.environ.get("BENCH_VARIANT"))
    return apply(create_app(settings), flags, settings)
