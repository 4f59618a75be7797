"""The SDK's engine, written once for the sync and the async client.

An operation is a generator: it yields the HTTP calls (``Call``) and pauses (``Sleep``) it needs
and receives each call's ``httpx.Response``; its return value is the result. A *driver* runs it:
``SyncDriver`` with ``httpx.Client`` and ``time.sleep``, ``AsyncDriver`` with ``httpx.AsyncClient``
and ``asyncio.sleep``. So the logic of every operation (building requests, idempotency keys, token
renewal, polling with backoff, splitting large batches) exists once, and only sending and sleeping
differ.

Each call is sent through the client-side rate limiter and retried by the driver: on connection
errors and timeouts (when the call is safe to repeat: a read, or a write that carries its
idempotency key, the same on every attempt), on 409 in-flight, 429 and 5xx, honouring
``Retry-After``, otherwise with capped exponential backoff and full jitter.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from bestow_client._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    status_error,
)
from bestow_client._version import VERSION

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 4
INITIAL_DELAY = 0.5
MAX_DELAY = 8.0
MAX_RETRY_AFTER = 60.0
RETRY_STATUSES = frozenset({409, 429, 500, 502, 503, 504})
MAX_IN_FLIGHT_RETRIES = 75
ENVIRONMENT_HEADER = "x-bestow-environment"


@dataclass(frozen=True)
class Call:
    """One HTTP request of an operation. ``safe``: repeating it cannot act twice (a read, or a
    write carrying its idempotency key), so it is retried after a timeout or a reset connection
    too; an unsafe call is retried only when the server surely did not act (connection refused,
    429, 503, 409 in flight)."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    data: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    safe: bool = True
    auth: tuple[str, str] | None = None


@dataclass(frozen=True)
class Sleep:
    seconds: float


Step = Call | Sleep
Op = Generator[Step, Any, T]


@dataclass(frozen=True)
class Budget:
    """A rate budget: ``per_second`` and ``per_window`` requests per ``window`` seconds. The
    default is the Partner API's documented one, 5/s and 2,000 per 15 minutes."""

    per_second: int = 5
    per_window: int = 2000
    window: float = 900.0
    margin: float = 0.05
    """Seconds added to each interval, so that network jitter cannot bunch requests up."""


class Slot:
    """A request's place in the limiter's windows: booked at the time it may be sent, and
    moved to the time its answer arrived by ``settle()``. The server counts a request somewhere
    between the two; counting the next ones from the answer keeps a slow request (a cold
    connection pool on the server) from bunching them into one of the server's seconds."""

    __slots__ = ("_limiter", "at", "delay")

    def __init__(self, limiter: RateLimiter, at: float, delay: float) -> None:
        self._limiter, self.at, self.delay = limiter, at, delay

    def settle(self) -> None:
        with self._limiter._lock:
            self.at = max(self.at, self._limiter.clock())


class RateLimiter:
    """Client-side sliding windows: at most ``per_second`` requests in any second and
    ``per_window`` in any ``window``. ``book()`` takes the next slot and says how long to wait
    for it; thread-safe, so one limiter can pace every thread of a sync client. The server counts
    per client id: share one limiter between the clients that use the same credentials."""

    def __init__(self, budget: Budget | None = None, clock: Callable[[], float] = time.monotonic):
        self.budget = budget or Budget()
        self.clock = clock
        self._sent: deque[Slot] = deque()
        self._lock = threading.Lock()

    def book(self) -> Slot:
        b = self.budget
        with self._lock:
            now = self.clock()
            while self._sent and self._sent[0].at <= now - b.window - b.margin:
                self._sent.popleft()
            at = now
            if len(self._sent) >= b.per_second:
                at = max(at, self._sent[-b.per_second].at + 1.0 + b.margin)
            if len(self._sent) >= b.per_window:
                at = max(at, self._sent[-b.per_window].at + b.window + b.margin)
            slot = Slot(self, at, at - now)
            self._sent.append(slot)
            return slot

    def reserve(self) -> float:
        """Book a slot and return how long to wait for it (a slot never settled)."""
        return self.book().delay


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay: float = INITIAL_DELAY
    max_delay: float = MAX_DELAY
    max_in_flight_retries: int = MAX_IN_FLIGHT_RETRIES
    """A 409 "still in flight" is the same request, keyed, being handled (or held by a server
    process that died, until its lock lapses: 60 s by default): it is waited for, at its
    ``Retry-After``, this many times, beyond ``max_retries``."""

    def backoff(self, attempt: int) -> float:
        """Full jitter over a capped exponential: attempt 0 waits up to 0.5 s, then 1, 2, 4, 8."""
        return random.uniform(0, min(self.max_delay, self.initial_delay * 2**attempt))

    def after_response(self, call: Call, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before repeating ``call``, or ``None`` to stop at this response."""
        status = response.status_code
        if status not in RETRY_STATUSES:
            return None
        if status == 409:
            if not _in_flight(response) or attempt >= self.max_in_flight_retries:
                return None
        elif attempt >= self.max_retries or (not call.safe and status not in (429, 503)):
            return None
        retry_after = _retry_after(response)
        if retry_after is None:
            return self.backoff(attempt)
        if status == 409:
            return retry_after
        # A 429 or 503 again: at least what the server asks, doubled on each repeat (exponential
        # backoff, as the vendors' checklists ask), capped at max_delay unless it asks for more.
        grown: float = retry_after * 2.0**attempt
        return max(retry_after, min(grown, self.max_delay))

    def after_error(self, call: Call, error: httpx.TransportError, attempt: int) -> float | None:
        if attempt >= self.max_retries:
            return None
        if not call.safe and not isinstance(error, httpx.ConnectError):
            return None
        return self.backoff(attempt)


def _in_flight(response: httpx.Response) -> bool:
    """A 409 that says "the same request is being handled, retry": the Partner API's
    ``IDEMPOTENCY_REQUEST_IN_PROGRESS`` (with ``Retry-After``)."""
    return "retry-after" in response.headers


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None


@dataclass
class Config:
    base_url: str
    app_name: str
    timeout: float = DEFAULT_TIMEOUT
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    environment: str | None = None
    """The environment (``demo``, ``uat``, ``production``) of the client that the last answer
    carrying ``X-Bestow-Environment`` was for: the credential decides it, not the server."""

    @property
    def user_agent(self) -> str:
        return f"{self.app_name} bestow-client/{VERSION} (python-httpx)"

    def noted(self, response: httpx.Response) -> httpx.Response:
        environment = response.headers.get(ENVIRONMENT_HEADER)
        if environment:
            self.environment = environment
        return response


def _request(http: httpx.Client | httpx.AsyncClient, config: Config, call: Call) -> httpx.Request:
    headers = {"User-Agent": config.user_agent, **call.headers}
    return http.build_request(
        call.method,
        call.path,
        params=call.params,
        json=call.json,
        content=call.content,
        data=call.data,
        headers=headers,
    )


def _transport_error(error: httpx.TransportError, request: httpx.Request) -> APIConnectionError:
    if isinstance(error, httpx.TimeoutException):
        return APITimeoutError(f"timed out: {request.method} {request.url}", request=request)
    return APIConnectionError(f"{type(error).__name__}: {error}", request=request)


H = TypeVar("H", httpx.Client, httpx.AsyncClient)


def _on_base_url(http: H | None, config: Config) -> H | None:
    """A caller's own httpx client, pointed at the configured base URL unless it has one."""
    if http is not None and not str(http.base_url):
        http.base_url = httpx.URL(config.base_url)
    return http


class SyncDriver:
    def __init__(
        self,
        config: Config,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.http = _on_base_url(http, config) or httpx.Client(
            base_url=config.base_url, timeout=config.timeout
        )
        self.sleep = sleep

    def run(self, op: Op[T]) -> T:
        try:
            step = next(op)
            while True:
                if isinstance(step, Sleep):
                    self.sleep(step.seconds)
                    step = op.send(None)
                    continue
                try:
                    response = self.send(step)
                except (APIConnectionError, APIStatusError) as error:
                    step = op.throw(error)
                else:
                    step = op.send(response)
        except StopIteration as done:
            result: T = done.value
            return result

    def send(self, call: Call) -> httpx.Response:
        policy = self.config.retry
        attempt = 0
        while True:
            slot = self.config.limiter.book()
            self.sleep(slot.delay)
            request = _request(self.http, self.config, call)
            try:
                response = self.config.noted(self.http.send(request, auth=call.auth))
            except httpx.TransportError as error:
                slot.settle()
                delay = policy.after_error(call, error, attempt)
                if delay is None:
                    raise _transport_error(error, request) from error
            else:
                slot.settle()
                if response.status_code < 400:
                    return response
                delay = policy.after_response(call, response, attempt)
                if delay is None:
                    raise status_error(response)
            attempt += 1
            self.sleep(delay)

    def close(self) -> None:
        self.http.close()


class AsyncDriver:
    def __init__(
        self,
        config: Config,
        http: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.http = _on_base_url(http, config) or httpx.AsyncClient(
            base_url=config.base_url, timeout=config.timeout
        )
        self.sleep = sleep

    async def run(self, op: Op[T]) -> T:
        try:
            step = next(op)
            while True:
                if isinstance(step, Sleep):
                    await self.sleep(step.seconds)
                    step = op.send(None)
                    continue
                try:
                    response = await self.send(step)
                except (APIConnectionError, APIStatusError) as error:
                    step = op.throw(error)
                else:
                    step = op.send(response)
        except StopIteration as done:
            result: T = done.value
            return result

    async def send(self, call: Call) -> httpx.Response:
        policy = self.config.retry
        attempt = 0
        while True:
            slot = self.config.limiter.book()
            await self.sleep(slot.delay)
            request = _request(self.http, self.config, call)
            try:
                response = self.config.noted(await self.http.send(request, auth=call.auth))
            except httpx.TransportError as error:
                slot.settle()
                delay = policy.after_error(call, error, attempt)
                if delay is None:
                    raise _transport_error(error, request) from error
            else:
                slot.settle()
                if response.status_code < 400:
                    return response
                delay = policy.after_response(call, response, attempt)
                if delay is None:
                    raise status_error(response)
            attempt += 1
            await self.sleep(delay)

    async def close(self) -> None:
        await self.http.aclose()
