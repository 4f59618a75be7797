"""``bestow serve`` against clients that hold connections without finishing a request: a request
head sent a byte at a time, a connection left silent, a head too long, too many connections.

Each runs against a live ``bestow serve`` with a short header timeout; the client keeps
trickling for far longer than the timeout, so a server that never closes fails the test."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures import servers
from tests.fixtures.servers import bestow

pytestmark = pytest.mark.slow

HEADER_TIMEOUT_SECONDS = 1
PATIENCE_SECONDS = 30.0
"""How long the client keeps a slow request going before it gives up on the server closing it:
thirty times the configured timeout."""
MAX_CONNECTIONS = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    tmp = tmp_path_factory.mktemp("slow-clients")
    env = {
        "BESTOW_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'bestow.db'}",
        "BESTOW_VAR_DIR": str(tmp / "var"),
        "BESTOW_SECRET_KEY": "slow-clients-secret-key",
        "BESTOW_LOG_LEVEL": "WARNING",
        "BESTOW_HTTP_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_SECONDS),
        "BESTOW_HTTP_MAX_HEADER_BYTES": "2048",
        "BESTOW_HTTP_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    }
    bestow(env, "db", "upgrade")
    with servers.running(env, log_dir=tmp) as running:
        yield running


def connect(server: servers.Server) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=PATIENCE_SECONDS)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


def closed_while_trickling(sock: socket.socket, head: bytes) -> bytes | None:
    """Send ``head`` a byte every 0.1 s, over and over, until the server closes the connection
    (returns what it answered) or ``PATIENCE_SECONDS`` pass (``None``)."""
    sock.settimeout(0.1)
    deadline = time.monotonic() + PATIENCE_SECONDS
    position = 0
    while time.monotonic() < deadline:
        try:
            sock.sendall(head[position % len(head) : position % len(head) + 1])
        except OSError:  # reset by the server
            return b""
        position += 1
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            return b""
        sock.settimeout(PATIENCE_SECONDS)
        return data + read_until_closed(sock) if data else b""
    return None


def test_a_request_head_sent_a_byte_at_a_time_is_cut_off_with_408(
    server: servers.Server,
) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bestow.test\r\n")
        answer = closed_while_trickling(sock, b"X-Slow: aaaaaaaaaa\r\n")
    assert answer is not None, f"still open after {PATIENCE_SECONDS} s of trickling"
    assert answer.startswith(b"HTTP/1.1 408 "), answer


def test_a_connection_that_sends_nothing_is_closed(server: servers.Server) -> None:
    with connect(server) as sock:
        assert read_until_closed(sock) == b""


def test_a_complete_request_is_served_and_the_connection_kept_alive(
    server: servers.Server,
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        for _ in range(2):
            assert http.get("/healthz").json() == {"status": "ok"}


def test_a_request_head_past_the_limit_is_refused_with_431(server: servers.Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bestow.test\r\nX-Big: " + b"a" * 4096)
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer


def test_connections_beyond_the_cap_are_refused_and_the_server_still_answers(
    server: servers.Server,
) -> None:
    held = [connect(server) for _ in range(MAX_CONNECTIONS)]
    try:
        with connect(server) as extra:
            assert read_until_closed(extra).startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in held:
            sock.close()
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        for _ in range(50):  # the server notices the closed connections at once, or nearly
            try:
                if http.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert http.get("/healthz").status_code == 200
