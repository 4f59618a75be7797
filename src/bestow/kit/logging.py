"""Structured JSON logs and the request middleware: request id, access log, metrics, body limit.

The access log records who called what and how it went; never a body, a query string, a header
value other than the request id, an email, a phone, a token or a secret.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable
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


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )


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


class RequestMiddleware:
    """Pure ASGI (no per-request task or buffering): cheap enough for the hot path."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        error_response: ErrorResponder,
        body_policy: BodyPolicy,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.error_response = error_response
        self.body_policy = body_policy

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
                message["headers"] = [*message.get("headers", []), id_header]
            await send(message)

        try:
            refusal = self._refuse(scope, headers)
            if refusal is not None:
                await refusal(scope, receive, send_with_id)
            else:
                json_body = _is_json(headers.get(b"content-type", b""))
                await self.app(scope, self._limited(receive, json_body), send_with_id)
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

    def _limited(self, receive: Receive, json_body: bool) -> Receive:
        """``receive`` within the size limit and, for a JSON body, the depth limit: checked
        here, once for every surface, before any parser or encoder meets a body nested deeper
        than it can handle (the JSON encoder stops at 255 levels)."""
        limit = self.max_body_bytes
        seen = 0
        chunks: list[bytes] = []

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
