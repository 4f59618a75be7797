"""The HTTP/1.1 protocol ``bestow serve`` runs: uvicorn's httptools protocol, guarded against
clients that hold connections without finishing a request.

uvicorn closes a connection idle between two requests (its keep-alive timeout) but sets no limit
on a connection that never completes its request head: one opened and left silent, or one that
sends its headers a byte at a time (every byte restarts the keep-alive timer), is held for ever,
and a thousand of them exhaust the process. Here a request's head (request line and headers) must
be complete within ``BESTOW_HTTP_HEADER_TIMEOUT_SECONDS`` of the connection opening or of the
request's first byte, however steadily it trickles in; it may be at most
``BESTOW_HTTP_MAX_HEADER_BYTES`` long (431 beyond); and a process holds at most
``BESTOW_HTTP_MAX_CONNECTIONS`` connections (a connection beyond is answered 503 and closed).
Settings are read from the environment in each server process (``--processes N`` forks them).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from bestow.config import get_settings

PROTOCOL = "bestow.kit.server:GuardedHttpProtocol"
"""What ``bestow serve`` gives uvicorn as its ``http`` implementation."""


def _closing_response(status: int, message: str) -> bytes:
    body = message.encode("ascii")
    return b"".join(
        [
            STATUS_LINE[status],
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class GuardedHttpProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = get_settings()
        self.header_timeout = settings.http_header_timeout_seconds
        self.max_header_bytes = settings.http_max_header_bytes
        self.max_connections = settings.http_max_connections
        self.head_deadline: asyncio.TimerHandle | None = None
        self.in_head = True  # a request's head is awaited (or arriving) and not complete yet
        self.head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._refuse(503, "Too many connections")
            return
        self._start_head_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_clock()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self.in_head:
            self.in_head = True
            self.head_bytes = 0
        self._start_head_clock()

    def data_received(self, data: bytes) -> None:
        if self.in_head:
            self.head_bytes += len(data)
        super().data_received(data)
        # Counted in what arrived while the head was incomplete, and judged only if it still is.
        too_long = self.in_head and self.head_bytes > self.max_header_bytes
        if too_long and not self.transport.is_closing():
            self._refuse(431, "Request header fields too large")

    def on_headers_complete(self) -> None:
        self.in_head = False
        self._stop_head_clock()
        super().on_headers_complete()

    def _start_head_clock(self) -> None:
        if self.head_deadline is None:
            self.head_deadline = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _stop_head_clock(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def _head_timed_out(self) -> None:
        self.head_deadline = None
        if self.transport.is_closing():
            return
        if self.head_bytes or self.headers:
            self._refuse(408, "Request header timeout")
        else:
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        self._stop_head_clock()
        self.transport.write(_closing_response(status, message))
        self.transport.close()
