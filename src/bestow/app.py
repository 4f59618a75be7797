"""The application factory. Nothing is built at import time: engines, limiter and worker are made
in the lifespan, from the settings given (or read from the environment)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from bestow import __version__, domains
from bestow.config import Settings, get_settings
from bestow.deps import RuntimeDep
from bestow.kit.auth_cache import AuthCache
from bestow.kit.logging import RequestMiddleware, configure_logging
from bestow.kit.responses import JSONResponse
from bestow.lab import faults, requestlog
from bestow.runtime import build_runtime as build_runtime  # re-exported: tests and benches
from bestow.surfaces import api_docs, examples, voucher_pages
from bestow.surfaces import openapi as surface_errors
from bestow.surfaces.admin import errors as admin_errors
from bestow.surfaces.admin.routes import router as admin_router
from bestow.surfaces.common import ErrorInfo, Surface, SurfaceRegistry
from bestow.surfaces.loyalty import errors as loyalty_errors
from bestow.surfaces.loyalty.history import router as loyalty_history_router
from bestow.surfaces.loyalty.links import router as loyalty_links_router
from bestow.surfaces.loyalty.routes import router as loyalty_router
from bestow.surfaces.oauth import errors as oauth_errors
from bestow.surfaces.oauth.routes import router as oauth_router
from bestow.surfaces.operator import auth as operator_auth
from bestow.surfaces.operator import errors as operator_errors
from bestow.surfaces.operator.campaigns import router as operator_campaigns_router
from bestow.surfaces.operator.enrollments import router as operator_enrollments_router
from bestow.surfaces.operator.rewards import router as operator_rewards_router
from bestow.surfaces.partner import auth as partner_auth
from bestow.surfaces.partner import errors as partner_errors
from bestow.surfaces.partner.campaigns import router as partner_campaigns_router
from bestow.surfaces.partner.routes import router as partner_router
from bestow.surfaces.vouchers import errors as voucher_errors
from bestow.surfaces.vouchers.merchant import router as voucher_merchant_router
from bestow.surfaces.vouchers.products import router as voucher_products_router
from bestow.surfaces.vouchers.vouchers import router as vouchers_router

READY_TIMEOUT_SECONDS = 2.0
SHUTDOWN_FLUSH_SECONDS = 5.0
"""How long a stopping server tries to write its last request log rows."""

DESCRIPTION = """Bestow issues rewards (discounts, vouchers, points, free bets) through the APIs of
four vendors, on one core. Each surface keeps its vendor's conventions; the Admin API sets it up."""


def surfaces() -> SurfaceRegistry:
    registry = SurfaceRegistry(Surface("admin", "/admin", admin_errors.render))
    registry.add(Surface("partner", "/partner", partner_errors.render))
    registry.add(Surface("oauth", "/oauth2", oauth_errors.render, json_bodies=False))
    registry.add(Surface("vouchers", "/v3", voucher_errors.render))
    registry.add(Surface("loyalty", "/client", loyalty_errors.render))
    registry.add(Surface("operator", "/v1", operator_errors.render))
    for prefix in ("/v", "/s"):
        registry.add(
            Surface("voucher pages", prefix, voucher_pages.render_error, json_bodies=False)
        )
    return registry


SERVE_WORKER = "BESTOW_SERVE_WORKER"
"""Set by ``bestow serve --processes N`` for its processes: "0" when they run no worker."""


def serve_app() -> FastAPI:
    """The application of one process of ``bestow serve --processes N`` (a uvicorn factory)."""
    return create_app(with_worker=os.environ.get(SERVE_WORKER, "1") == "1")


def create_app(settings: Settings | None = None, *, with_worker: bool = False) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    # Every task and event type: an enqueue reads its task's queue and attempts, and the Admin
    # API lists the event types, in processes that run no worker too.
    domains.load()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(settings)
        app.state.runtime = runtime
        app.state.partner_auth_cache = AuthCache(settings.auth_cache_seconds)
        app.state.partner_merchants_cache = AuthCache(settings.auth_cache_seconds)
        app.state.operator_auth_cache = AuthCache(settings.auth_cache_seconds)
        app.state.example_ids = await _demo_ids(runtime, settings)
        request_log = requestlog.RequestLog.from_settings(runtime.db, settings)
        app.state.request_log = request_log
        log_task = asyncio.create_task(request_log.run()) if request_log.enabled else None
        worker_task: asyncio.Task[None] | None = None
        worker = None
        if with_worker:
            from bestow.worker.runner import Worker, import_task_modules

            import_task_modules(settings.worker_imports)
            worker = Worker(runtime.db, settings)
            app.state.worker = worker
            worker_task = asyncio.create_task(worker.run())
        try:
            yield
        finally:
            if worker is not None and worker_task is not None:
                worker.stop()
                await worker_task
            if log_task is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(request_log.stop(), SHUTDOWN_FLUSH_SECONDS)
                log_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await log_task
            await runtime.rate_limiter.close()
            await runtime.db.dispose()

    app = FastAPI(
        title="Bestow",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    api_docs.install(app)
    registry = surfaces()
    registry.install(app)

    def record(scope: Any, status: int, elapsed: float) -> None:
        # The lifespan's log: a new one each time the application starts.
        request_log: requestlog.RequestLog | None = getattr(app.state, "request_log", None)
        if request_log is not None:
            request_log.record(scope, status, elapsed)

    app.add_middleware(
        RequestMiddleware,
        max_body_bytes=settings.max_body_bytes,
        error_response=registry.error_response,
        body_policy=registry.body_policy,
        recorder=record if settings.request_log else None,
        fingerprints=(lambda path: requestlog.surface_of(path) is not None)
        if settings.request_log
        else None,
    )
    # Outermost: a request that drew ``lost_answer`` has its answer lost after all of the above.
    app.add_middleware(faults.LostAnswer, gateway_timeout=_gateway_timeout(registry))
    app.include_router(partner_router)
    app.include_router(partner_campaigns_router)
    app.include_router(admin_router)
    app.include_router(oauth_router)
    app.include_router(voucher_products_router)
    app.include_router(vouchers_router)
    app.include_router(voucher_merchant_router)
    app.include_router(voucher_pages.router)
    app.include_router(loyalty_router)
    app.include_router(loyalty_history_router)
    app.include_router(loyalty_links_router)
    app.include_router(operator_campaigns_router)
    app.include_router(operator_rewards_router)
    app.include_router(operator_enrollments_router)
    _add_operational_routes(app)
    _document_surface_headers(app)
    return app


def _gateway_timeout(registry: SurfaceRegistry) -> faults.GatewayTimeout:
    """The 504 that replaces a lost answer, in the shape of the request's surface."""
    info = ErrorInfo(504, "gateway_timeout", faults.LOST_MESSAGE)
    return lambda path: registry.for_path(path).render(info, TimeoutError(faults.LOST_MESSAGE))


def _document_surface_headers(app: FastAPI) -> None:
    """Surfaces read their authentication headers themselves (cheaper than FastAPI's header
    parameters); the OpenAPI document still lists them on every operation."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            documented = operator_auth.document(partner_auth.document(build()))
            documented = surface_errors.hoist_local_definitions(documented)
            documented = surface_errors.secure(surface_errors.document(documented))
            ids = getattr(app.state, "example_ids", None)
            app.openapi_schema = examples.apply(documented, ids=ids)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _demo_ids(runtime: Any, settings: Settings) -> examples.DemoIds:
    """The demo's ids for the OpenAPI document's examples ("Try it out" on the demo data); the
    stand-ins in production, without a demo, or when the database cannot be read now."""
    if settings.is_production:
        return examples.DemoIds()
    from bestow.demo import seed

    try:
        demo = await asyncio.wait_for(seed.load(runtime), READY_TIMEOUT_SECONDS)
    except Exception:
        return examples.DemoIds()
    return examples.DemoIds.of(demo)


def _add_operational_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["Operations"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get(
        "/readyz", tags=["Operations"], responses={503: {"description": "Database unreachable"}}
    )
    async def readyz(runtime: RuntimeDep) -> Any:
        """The database answers."""
        try:
            await asyncio.wait_for(runtime.db.ping(), READY_TIMEOUT_SECONDS)
        except Exception as exc:
            return JSONResponse(
                {"status": "unavailable", "database": type(exc).__name__}, status_code=503
            )
        return {"status": "ok", "database": "ok"}

    @app.get("/metrics", tags=["Operations"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
