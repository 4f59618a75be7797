"""Structured JSON logs and the request middleware: request id, access log, metrics, body limit.

The access log records who called what and how it went; never a body, a query string, a header
value other than the request id, an email, a phone, a token or a secret.

Every line on standard error is one JSON object: Bestow's own (structlog) and those of the standard
library's loggers (uvicorn's "Exception in ASGI application", asyncio's, any library's) alike. An
error's traceback is the line's ``exception`` field, never lines of plain text, with emails, phones
and secrets in it masked (an exception's message may quote a value).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, MutableMapping
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

import orjson
import structlog
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bestow.kit.errors import Invalid
from bestow.kit.fields import MAX_JSON_DEPTH, is_clean, json_too_deep

REQUESTS = Counter("bestow_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "bestow_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

access_log = structlog.get_logger("bestow.access")


@lru_cache(maxsize=4096)
def _counter(method: str, route: str, status: int) -> Any:
    """The labelled child, looked up once per (method, route, status), not once per request."""
    return REQUESTS.labels(method, route, str(status))


@lru_cache(maxsize=2048)
def _histogram(method: str, route: str) -> Any:
    return LATENCY.labels(method, route)


class _Stderr:
    """Whatever ``sys.stderr`` is at the time of writing (it is swapped under test capture)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()


_MASKS = (
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), "<email>"),
    (re.compile(r"(?<![\w.:+-])\+[1-9]\d{7,14}(?!\d)"), "<phone>"),
    (re.compile(r"(?:bst_[a-z]+_|whsec_)[A-Za-z0-9+/=_-]{8,}"), "<secret>"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), "<jwt>"),
)
_LOGGED = "_bestow_logged"
"""Set on an exception once its traceback is logged: the server's own report of the same
exception (uvicorn's "Exception in ASGI application", after Starlette re-raises it) is dropped."""
_OURS = "_bestow_handler"


def mask(text: str) -> str:
    """``text`` with emails, phones, Bestow secrets and JWTs replaced by placeholders."""
    for pattern, placeholder in _MASKS:
        text = pattern.sub(placeholder, text)
    return text


def _exception_field(_: Any, __: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """``exc_info`` becomes the ``exception`` field: the traceback as one string, masked."""
    exc_info = event.get("exc_info")
    if isinstance(exc_info, BaseException):
        with contextlib.suppress(AttributeError, TypeError):
            setattr(exc_info, _LOGGED, True)
    formatted = dict(structlog.processors.format_exc_info(_, __, event))
    if isinstance(formatted.get("exception"), str):
        formatted["exception"] = mask(formatted["exception"])
    return formatted


def _mask_foreign_event(_: Any, __: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """Another library's message may quote a value: mask it as a traceback is."""
    if isinstance(event.get("event"), str):
        event["event"] = mask(event["event"])
    return event


class _AlreadyLogged(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not getattr(exc, _LOGGED, False)


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Bestow's structured logs, and the standard library's loggers through the same renderer."""
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    # The console renderer prints tracebacks itself; JSON takes them as a field.
    exceptions: list[Any] = [_exception_field] if json else []
    numeric_level = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[*processors, *exceptions, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(_Stderr())
    setattr(handler, _OURS, True)
    handler.addFilter(_AlreadyLogged())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                _mask_foreign_event,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *exceptions,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    # Other libraries' information lines (an HTTP client's request URLs) stay out, as before.
    root.setLevel(max(numeric_level, logging.WARNING))
    # uvicorn's own handlers print plain text: its records go to the root's handler instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True


class PayloadTooLarge(HTTPException):
    """Raised while the body streams in; an ``HTTPException`` so that body parsing lets it
    through instead of turning it into a generic parse error."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body exceeds the limit of {limit} bytes")
        self.limit = limit

    def __str__(self) -> str:
        return str(self.detail)


ErrorResponder = Callable[[str, Exception], Response]
BodyPolicy = Callable[[str, str], str | None]
Recorder = Callable[[Scope, int, float], None]
"""Called once a request is answered, with its scope (``scope["state"]`` holds what the
request's handling noted: ``client_id``, ``environment``...), its status and its latency in
seconds; it must not block (the request log buffers, ``bestow.lab.requestlog``)."""
Fingerprints = Callable[[str], bool]
"""Whether the body of a request to this path is fingerprinted as it streams: its sha256 and
size are then in ``scope["state"]`` under ``BODY_HASH`` and ``BODY_BYTES`` for the recorder."""
BODY_HASH = "body_sha256"
BODY_BYTES = "body_bytes"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RequestMiddleware:
    """Pure ASGI (no per-request task or buffering): cheap enough for the hot path."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        error_response: ErrorResponder,
        body_policy: BodyPolicy,
        recorder: Recorder | None = None,
        fingerprints: Fingerprints | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.error_response = error_response
        self.body_policy = body_policy
        self.recorder = recorder
        self.fingerprints = fingerprints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else os.urandom(16).hex()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        id_header = (b"x-request-id", request_id.encode())
        status_holder = [500]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                added = [id_header]
                environment = state.get("environment")
                if environment is not None:
                    # The calling client's environment (``identify`` in the surfaces).
                    added.append((b"x-bestow-environment", environment.encode()))
                message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        try:
            refusal = self._refuse(scope, headers)
            if refusal is not None:
                await refusal(scope, receive, send_with_id)
            else:
                json_body = _is_json(headers.get(b"content-type", b""))
                fingerprinted = (
                    self.fingerprints is not None
                    and scope["method"] in _BODY_METHODS
                    and self.fingerprints(scope["path"])
                )
                limited = self._limited(receive, json_body, state if fingerprinted else None)
                await self.app(scope, limited, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            status = status_holder[0]
            _counter(scope["method"], template, status).inc()
            _histogram(scope["method"], template).observe(elapsed)
            access_log.info(
                "request",
                request_id=request_id,
                client_id=state.get("client_id"),
                method=scope["method"],
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            if self.recorder is not None:
                self.recorder(scope, status, elapsed)

    def _refuse(self, scope: Scope, headers: dict[bytes, bytes]) -> Response | None:
        path: str = scope["path"]
        # A control character in a path or query value names nothing; refused here so that
        # SQLite (which would look it up) and PostgreSQL (which refuses NUL) answer the same.
        if not is_clean(path):
            return self.error_response(path, HTTPException(404))
        query = scope.get("query_string", b"")
        if query and not is_clean(unquote_plus(query.decode("latin-1"))):
            return self.error_response(
                path, Invalid("The query string must not contain control characters")
            )
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_body_bytes
            except ValueError:
                too_big = False
            if too_big:
                return self.error_response(path, PayloadTooLarge(self.max_body_bytes))
        if scope["method"] in ("POST", "PUT", "PATCH") and (length not in (None, b"0")):
            content_type = headers.get(b"content-type", b"").decode("latin-1")
            problem = self.body_policy(path, content_type)
            if problem is not None:
                return self.error_response(path, UnsupportedMediaType(problem))
        return None

    def _limited(
        self, receive: Receive, json_body: bool, fingerprint: dict[str, Any] | None = None
    ) -> Receive:
        """``receive`` within the size limit and, for a JSON body, the depth limit: checked
        here, once for every surface, before any parser or encoder meets a body nested deeper
        than it can handle (the JSON encoder stops at 255 levels). With a ``fingerprint``
        state, the body's sha256 and size are kept there as it streams (``Fingerprints``)."""
        limit = self.max_body_bytes
        seen = 0
        chunks: list[bytes] = []
        hasher = None
        if fingerprint is not None:
            hasher = hashlib.sha256()
            fingerprint[BODY_HASH] = hasher
            fingerprint[BODY_BYTES] = 0

        async def receive_limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk = message.get("body", b"")
            if chunk:
                seen += len(chunk)
                if seen > limit:
                    raise PayloadTooLarge(limit)
                if hasher is not None:
                    hasher.update(chunk)
                    fingerprint[BODY_BYTES] = seen  # type: ignore[index]
            if json_body:
                more = message.get("more_body", False)
                if more or chunks:
                    chunks.append(chunk)
                if not more:
                    body = b"".join(chunks) if chunks else chunk
                    chunks.clear()
                    if json_too_deep(body):
                        raise NestedTooDeep(MAX_JSON_DEPTH)
            return message

        return receive_limited


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


class NestedTooDeep(HTTPException):
    """Raised while the body streams in (an ``HTTPException``, as ``PayloadTooLarge``)."""

    def __init__(self, limit: int) -> None:
        super().__init__(400, f"The request body is nested more than {limit} levels deep")

    def __str__(self) -> str:
        return str(self.detail)


class UnsupportedMediaType(Exception):
    pass
