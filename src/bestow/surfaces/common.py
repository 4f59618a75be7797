"""What every surface shares: which surface owns a path, how its errors look, request helpers.

Each surface registers one ``ErrorRenderer``: it turns any exception that reaches the edge (domain
errors, validation errors, unknown routes, oversized bodies, crashes) into its vendor's error shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from bestow.clients.service import AuthenticatedClient
from bestow.config import Environment
from bestow.deps import Runtime, runtime_of
from bestow.kit import fields
from bestow.kit.db import WriteSession, is_unavailable
from bestow.kit.errors import (
    Conflict,
    DomainError,
    Forbidden,
    IdempotencyInFlight,
    IdempotencyMismatch,
    Invalid,
    InvalidState,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
)
from bestow.kit.idempotency import StoredResponse, fingerprint
from bestow.kit.logging import NestedTooDeep, PayloadTooLarge, UnsupportedMediaType
from bestow.lab import environments, faults
from bestow.lab.requestlog import NOTED

log = structlog.get_logger("bestow.errors")

# Endpoints whose body is a CSV file rather than JSON.
CSV_UPLOADS = ("/members/import",)


@dataclass(frozen=True)
class ErrorInfo:
    """A surface-neutral view of an error: status, a stable kind, and a message for people."""

    status: int
    kind: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    field: str | None = None


def describe_validation(
    exc: RequestValidationError, body_fields: tuple[str, ...] = ()
) -> tuple[str, str | None]:
    """One clear sentence for the first problem pydantic found, and the field it concerns.

    ``body_fields`` are the required fields of the route's body: a body that is missing
    altogether is reported as its first required field missing, so that "is required" always
    names a field."""
    errors = exc.errors()
    if not errors:
        return "Invalid request", None
    first = errors[0]
    if first.get("type") == "json_invalid":
        return "Request body is not valid JSON", None
    if tuple(first.get("loc", ())) == ("body",):
        if first.get("type") == "missing" and body_fields:
            return f"{body_fields[0]}: is required", body_fields[0]
        if first.get("type") in ("missing", "model_attributes_type", "dict_type", "model_type"):
            return NOT_JSON, None
    loc = [
        str(part)
        for part in first.get("loc", ())
        if part not in ("body", "query", "path", "header")
    ]
    where = ".".join(loc)
    message = str(first.get("msg", "is invalid"))
    if first.get("type") == "extra_forbidden":
        message = "is not a known field"
    elif first.get("type") == "missing":
        message = "is required"
    return (f"{where}: {message}" if where else message), (where or None)


def classify(exc: Exception) -> ErrorInfo:
    """Map any exception to the neutral view; surfaces refine status and codes from here."""
    match exc:
        case RateLimited():
            return ErrorInfo(429, "rate_limited", exc.message, headers=exc.headers)
        case ServiceUnavailable():
            return ErrorInfo(503, "unavailable", exc.message, headers=exc.headers)
        case IdempotencyMismatch():
            return ErrorInfo(422, "idempotency_mismatch", exc.message)
        case IdempotencyInFlight():
            return ErrorInfo(
                409, "idempotency_in_flight", exc.message, headers={"Retry-After": "1"}
            )
        case Unauthenticated():
            return ErrorInfo(401, "unauthenticated", exc.message)
        case Forbidden():
            return ErrorInfo(403, "forbidden", exc.message)
        case NotFound():
            return ErrorInfo(404, "not_found", exc.message)
        case Conflict():
            return ErrorInfo(409, "conflict", exc.message)
        case Invalid():
            return ErrorInfo(400, "invalid", exc.message, field=exc.field)
        case InvalidState():
            return ErrorInfo(422, "invalid_state", exc.message)
        case DomainError():
            return ErrorInfo(400, "invalid", exc.message)
        case RequestValidationError():
            message, where = describe_validation(exc, getattr(exc, "body_fields", ()))
            return ErrorInfo(400, "invalid", message, field=where)
        case Exception() if _is_data_exception(exc):
            # e.g. a NUL byte, which PostgreSQL text cannot hold: the value is bad, not the server.
            # Raw driver errors count too: a bulk COPY talks to asyncpg directly.
            return ErrorInfo(400, "invalid", "The request contains a value that cannot be stored")
        case Exception() if is_unavailable(exc):
            return ErrorInfo(
                503,
                "unavailable",
                "The service is temporarily unavailable; retry shortly",
                headers={"Retry-After": "1"},
            )
        case PayloadTooLarge():
            return ErrorInfo(413, "too_large", str(exc))
        case NestedTooDeep():
            return ErrorInfo(400, "invalid", str(exc))
        case UnsupportedMediaType():
            return ErrorInfo(415, "unsupported_media_type", str(exc))
        case StarletteHTTPException() if fields.is_number_out_of_range(exc.__cause__):
            # The JSON parser of pydantic-bodied routes refuses integers past 4,300 digits.
            return ErrorInfo(400, "invalid", NUMBER_OUT_OF_RANGE)
        case StarletteHTTPException():
            kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
            detail = exc.detail if isinstance(exc.detail, str) else "Request refused"
            if exc.status_code == 404:
                detail = "No such resource"
            return ErrorInfo(exc.status_code, kind, detail, headers=dict(exc.headers or {}))
        case _:
            return ErrorInfo(500, "internal", "Internal error; the request id identifies it")


def _is_data_exception(exc: Exception) -> bool:
    """SQLSTATE class 22 (data exception) on PostgreSQL; SQLite stores any text."""
    driver = exc.orig if isinstance(exc, DBAPIError) else exc
    sqlstate = getattr(driver, "sqlstate", None) or getattr(driver, "pgcode", None)
    return isinstance(sqlstate, str) and sqlstate.startswith("22")


async def identify(
    request: Request, client: AuthenticatedClient, *, with_faults: bool = True
) -> None:
    """Name the calling client on the request: the access log, the request log and the
    ``X-Bestow-Environment`` answer header read it (``bestow.kit.logging``). Then, outside
    production and unless ``with_faults`` is off (the token endpoint), inject the request's
    fault, if its ``X-Bestow-Fault`` header or one of the client's rules asks for one
    (``bestow.lab.faults``): called right after authentication, before the rate limit is
    charged and before anything is done."""
    state = request.scope["state"]
    state["client_id"] = client.id
    state["environment"] = client.environment
    if not with_faults:
        return
    if not environments.allows_faults(client.environment):
        return
    headers = request.headers
    drawn = await faults.for_request(
        runtime_of(request).db,
        faults.rules_cache(request.app.state),
        client_id=client.id,
        environment=client.environment,
        method=request.method,
        route=getattr(request.scope.get("route"), "path", request.url.path),
        header=headers.get(faults.HEADER),
        delay_ms=headers.get(faults.DELAY_HEADER),
        answer=headers.get(faults.ANSWER_HEADER),
    )
    if drawn is None:
        return
    if drawn.kind == faults.SLOW:
        # Read now: a client that gives up while the answer is late leaves a body that can no
        # longer be read, and the request is still to run to its end (a repeat replays it).
        await request.body()
    await faults.inject(drawn, state)


def logged(request: Request) -> bool:
    """Whether the request log may keep this identified request's row: a route works out what
    only the log reads (the certification's counts of a body) only then."""
    log = getattr(request.app.state, "request_log", None)
    environment = request.scope["state"].get("environment") or Environment.DEMO.value
    return log is not None and log.may_keep(environment)


def note(
    request: Request,
    *,
    idempotency_key: str | None = None,
    counts: dict[str, int] | None = None,
    replayed: bool | None = None,
    error_code: str | None = None,
    rate_limited: bool | None = None,
    object_id: str | None = None,
    retry_after: float | None = None,
) -> None:
    """Tell the request log what only the route knows: an idempotency key read from the body
    (Operator ``betId``, Loyalty ``externalReferenceId``), counts of the body (never its
    values), that the answer is a replay, the error code of an answer that is not an error
    rendered by the surface (a partial success), the Bestow object the request is about or
    created (an issuance job's id: never a personal value nor a voucher code), or the
    ``Retry-After`` answered."""
    noted: dict[str, Any] = request.scope["state"].setdefault(NOTED, {})
    if idempotency_key is not None:
        noted["idempotency_key"] = idempotency_key
    if counts is not None:
        noted["counts"] = counts
    if replayed is not None:
        noted["replayed"] = replayed
    if error_code is not None:
        noted["error_code"] = error_code
    if rate_limited is not None:
        noted["rate_limited"] = rate_limited
    if object_id is not None:
        noted["object_id"] = object_id
    if retry_after is not None:
        noted["retry_after"] = retry_after


def retry_after_of(response: Response) -> float | None:
    """The seconds of an answer's ``Retry-After`` (a number of seconds; a date is not used)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


_CODE_FIELDS = ("code", "errorCode", "responseCode", "error")


def error_code_of(response: Response) -> str | None:
    """The vendor's error code in an error a surface rendered (Partner and Voucher ``code``,
    Loyalty ``errorCode``, Operator ``responseCode``, OAuth ``error``)."""
    try:
        body = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict):
        return None
    for name in _CODE_FIELDS:
        value = body.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)[:64]
    return None


def environment_of(request: Request) -> str:
    """The calling client's environment (``identify``); a request without a client is the
    deployment's business and follows its pin, else the strictest."""
    environment: str | None = request.scope["state"].get("environment")
    if environment is None:
        pinned = runtime_of(request).settings.environment
        return str(pinned or Environment.PRODUCTION)
    return environment


@dataclass(frozen=True)
class Unkeyed:
    """What a reward-issuing write sent without its idempotency key does when repeated, for a
    surface whose vendor makes the key optional: such a write is refused where the deployment
    requires keys (``BESTOW_REQUIRE_IDEMPOTENCY_KEYS``, on in production), and otherwise done
    with a ``Warning: 299`` header (RFC 9110's persistent warning) saying what a repeat does."""

    key: str
    """The key, as the refusal names it (a header, or a header or a field)."""
    consequence: str


def unkeyed(request: Request, runtime: Runtime, rule: Unkeyed) -> dict[str, str]:
    """The headers of a write sent without its key, or ``Invalid`` naming the key."""
    if runtime.settings.requires_idempotency_keys(environment_of(request)):
        raise Invalid(f"{rule.key} is required: {rule.consequence}", field=rule.key)
    return {"Warning": f'299 - "No {rule.key}: {rule.consequence}"'}


async def idempotent(
    request: Request,
    runtime: Runtime,
    *,
    client_id: str,
    key: str | None,
    route: str,
    work: Callable[[WriteSession], Awaitable[StoredResponse]],
    without_key: Unkeyed | None = None,
) -> tuple[Response, bool]:
    """Run a write endpoint's ``work`` once per idempotency key (or plainly, without a key:
    then ``without_key`` refuses it or warns, see ``Unkeyed``).

    Returns the response, marked ``Idempotent-Replayed: true`` when it is a stored one, and
    whether it was replayed.
    """
    extra: dict[str, str] = {}
    if key is None:
        if without_key is not None:
            extra = unkeyed(request, runtime, without_key)
        async with runtime.db.write_session() as session:
            stored = await work(session)
            await session.commit()
        replayed = False
    else:
        stored, replayed = await runtime.idempotency.run(
            client_id=client_id,
            key=key,
            route=route,
            fingerprint=fingerprint(request.method, request.url.path, await request.body()),
            work=work,
        )
    headers = dict(stored.headers) | extra
    if replayed:
        headers["Idempotent-Replayed"] = "true"
        note(request, replayed=True)
    return Response(stored.body, status_code=stored.status_code, headers=headers), replayed


NOT_JSON = "The request body must be a JSON object"
NUMBER_OUT_OF_RANGE = "A number in the request body is out of range"


def load_json(body: bytes, not_json: Exception) -> Any:
    """``body`` parsed, or ``Invalid`` (``NUMBER_OUT_OF_RANGE``) for a number no store can hold
    (orjson reads 1e400 or a 5,000-digit integer as infinity and refuses it), or ``not_json``."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if fields.is_number_out_of_range(exc):
            raise Invalid(NUMBER_OUT_OF_RANGE) from None
        raise not_json from None


async def json_object(
    request: Request, refusal: type[Invalid] = Invalid, not_json: str = NOT_JSON
) -> dict[str, Any]:
    """The body of a route that reads it itself (to word its refusals as its vendor does): a
    JSON object, or ``refusal`` (``not_json``, or ``NUMBER_OUT_OF_RANGE``)."""
    unreadable = refusal(not_json)
    try:
        data = load_json(await request.body(), unreadable)
    except Invalid as exc:
        if exc is unreadable:
            raise
        raise refusal(exc.message, field=exc.field) from None
    if not isinstance(data, dict):
        raise unreadable
    return data


def refuse_unknown(data: dict[str, Any], documented: type[BaseModel], prefix: str = "") -> None:
    """``Invalid`` naming the first field of ``data`` that ``documented`` does not have."""
    known = {info.alias or name for name, info in documented.model_fields.items()}
    unknown = sorted(set(data) - known)
    if unknown:
        raise Invalid(f"{prefix}{unknown[0]} is not a known field", field=prefix + unknown[0])


METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (RFC 9110: a 405 lists them all; Starlette
    names only those of the first route whose path matched). Asked of the router method by
    method, since included routers match as one route."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return ", ".join(allowed)


def _required_body_fields(request: Request) -> tuple[str, ...]:
    """The required fields of the matched route's body model, in declaration order."""
    field_info = getattr(request.scope.get("route"), "body_field", None)
    model = getattr(getattr(field_info, "field_info", None), "annotation", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ()
    return tuple(
        info.alias or name for name, info in model.model_fields.items() if info.is_required()
    )


def documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` giving such a route the ``requestBody`` of ``model``."""
    schema = {"content": {"application/json": {"schema": model.model_json_schema()}}}
    return {"requestBody": {"required": True, **schema}}


ErrorRenderer = Callable[[ErrorInfo, Exception], Response]


@dataclass(frozen=True)
class Surface:
    name: str
    prefix: str
    render: ErrorRenderer
    json_bodies: bool = True
    body_exempt: tuple[str, ...] = ()


class SurfaceRegistry:
    def __init__(self, default: Surface) -> None:
        self.default = default
        self.surfaces: list[Surface] = []

    def add(self, surface: Surface) -> None:
        self.surfaces.append(surface)
        self.surfaces.sort(key=lambda s: len(s.prefix), reverse=True)

    def for_path(self, path: str) -> Surface:
        for surface in self.surfaces:
            if path == surface.prefix or path.startswith(surface.prefix + "/"):
                return surface
        return self.default

    def error_response(self, path: str, exc: Exception) -> Response:
        info = classify(exc)
        if info.kind == "unavailable":
            # An outage answers every request so: one line each, no traceback.
            log.warning("unavailable", error=type(exc).__name__, path=path)
        elif info.status >= 500:
            log.error("unhandled", error=type(exc).__name__, path=path, exc_info=exc)
        return self.for_path(path).render(info, exc)

    def body_policy(self, path: str, content_type: str) -> str | None:
        surface = self.for_path(path)
        if not surface.json_bodies or path in surface.body_exempt:
            return None
        media = content_type.split(";", 1)[0].strip().lower()
        if path.endswith(CSV_UPLOADS):
            return None if media == "text/csv" else "Content-Type must be text/csv"
        if media == "application/json" or media.endswith("+json"):
            return None
        return "Content-Type must be application/json"

    def install(self, app: FastAPI) -> None:
        async def handle(request: Request, exc: Exception) -> Response:
            if isinstance(exc, RequestValidationError):
                exc.body_fields = _required_body_fields(request)  # type: ignore[attr-defined]
            elif isinstance(exc, StarletteHTTPException) and exc.status_code == 405:
                exc.headers = {**(exc.headers or {}), "Allow": _allowed_methods(request)}
            response = self.error_response(request.url.path, exc)
            if "client_id" in request.scope["state"]:
                note(
                    request,
                    error_code=error_code_of(response),
                    rate_limited=isinstance(exc, RateLimited),
                    retry_after=retry_after_of(response),
                )
            return response

        # Starlette hands a handler of ``Exception`` to its outermost middleware, which answers
        # and then re-raises (the server logs a crash and may drop the connection): anything
        # expected, such as the database being unreachable (SQLAlchemy's errors, a refused or
        # reset connection, a timeout), gets a handler of its own class.
        for kind in (
            DomainError,
            RequestValidationError,
            StarletteHTTPException,
            SQLAlchemyError,
            OSError,
            Exception,
        ):
            app.add_exception_handler(kind, handle)
