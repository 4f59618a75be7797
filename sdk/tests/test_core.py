"""The SDK's engine without a Bestow server: the rate limiter and the OAuth tokens on a fake clock,
the retry policy on built responses, E.164, and both drivers against a real socket server (a
stdlib ``http.server`` in a thread) that answers 429, 503, resets connections and hangs."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from bestow_client import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    Bestow,
    Budget,
    InternalServerError,
    InvalidPhoneNumber,
    RateLimiter,
    RateLimitError,
    RetryPolicy,
)
from bestow_client._core import MAX_RETRY_AFTER, AsyncDriver, Call, Config, Op, SyncDriver
from bestow_client._shared import OAuthTokens, authed, e164
from bestow_client.partner import IssuanceJob, PartnerOps


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- RateLimiter ---------------------------------------------------------------------------------


def _booked(limiter: RateLimiter, clock: FakeClock, count: int, *, follow: bool) -> list[float]:
    """The times ``count`` reservations are booked for; ``follow`` moves the clock to each booked
    time (a client that sleeps as told), otherwise they are all asked for at once."""
    times = []
    for _ in range(count):
        at = clock.now + limiter.reserve()
        times.append(at)
        if follow:
            clock.now = at
    return times


def _max_in_window(times: list[float], width: float) -> int:
    """The most booked times in any half-open window ``[t, t + width)``."""
    ordered = sorted(times)
    best = 0
    for i, start in enumerate(ordered):
        best = max(best, sum(1 for t in ordered[i:] if t < start + width))
    return best


@pytest.mark.parametrize("follow", [False, True], ids=["burst", "sleeping"])
def test_a_burst_of_100_never_puts_more_than_5_in_any_second(follow: bool) -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    start = clock.now

    times = _booked(limiter, clock, 100, follow=follow)

    assert times == sorted(times)
    assert times[:5] == [start] * 5  # the first five go at once
    assert _max_in_window(times, 1.0) == 5
    assert all(later - earlier >= 1.0 for earlier, later in zip(times, times[5:], strict=False))
    # ... and no slower than needed: 20 seconds of 5, plus the margins.
    assert times[-1] - start == pytest.approx(19 * (1.0 + limiter.budget.margin))


def test_the_long_window_with_a_small_budget() -> None:
    clock = FakeClock()
    budget = Budget(per_second=100, per_window=20, window=10.0, margin=0.05)
    limiter = RateLimiter(budget, clock=clock)
    start = clock.now

    times = _booked(limiter, clock, 50, follow=False)

    assert times[:20] == [start] * 20  # within the per-second budget: no wait
    assert times[20] == pytest.approx(start + 10.05)
    assert _max_in_window(times, 10.0) == 20
    assert all(later - earlier >= 10.0 for earlier, later in zip(times, times[20:], strict=False))


def test_the_long_window_forgets_old_requests() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Budget(per_second=100, per_window=3, window=10.0), clock=clock)
    assert [limiter.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.reserve() == pytest.approx(10.05)
    clock.now += 30.0  # long after every booking
    assert [limiter.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]


def test_the_default_budget_is_the_documented_one() -> None:
    assert (Budget().per_second, Budget().per_window, Budget().window) == (5, 2000, 900.0)


def test_the_limiter_is_thread_safe() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    waits: list[float] = []
    lock = threading.Lock()

    def book() -> None:
        for _ in range(25):
            wait = limiter.reserve()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=book) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    times = [clock.now + w for w in waits]
    assert len(times) == 100
    assert _max_in_window(times, 1.0) == 5


# --- RetryPolicy ---------------------------------------------------------------------------------

SAFE = Call("GET", "/partner/merchants")
UNSAFE = Call("POST", "/partner/campaigns", json={}, safe=False)


def response(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("GET", "http://x/"))


def test_retry_after_is_honoured_in_seconds_and_capped() -> None:
    policy = RetryPolicy()
    assert policy.after_response(SAFE, response(429, **{"Retry-After": "3"}), 0) == 3.0
    assert policy.after_response(SAFE, response(503, **{"Retry-After": "1.5"}), 0) == 1.5
    assert policy.after_response(SAFE, response(429, **{"Retry-After": "3600"}), 0) == (
        MAX_RETRY_AFTER
    )
    assert policy.after_response(SAFE, response(429, **{"Retry-After": "-4"}), 0) == 0.0


def test_repeated_429s_and_503s_wait_longer_each_time() -> None:
    """Exponential backoff on top of Retry-After (Thanx's checklist: "429 Too Many Requests
    handled with exponential backoff"): doubled per repeat, capped at max_delay, and never less
    than the server asks."""
    policy = RetryPolicy(max_delay=8.0, max_retries=10)
    waits = [
        policy.after_response(SAFE, response(429, **{"Retry-After": "1"}), n) for n in range(6)
    ]
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert policy.after_response(UNSAFE, response(503, **{"Retry-After": "2"}), 1) == 4.0
    assert policy.after_response(SAFE, response(429, **{"Retry-After": "20"}), 3) == 20.0
    # A 409 "still in flight" is waited for at its Retry-After, without growth.
    assert policy.after_response(SAFE, response(409, **{"Retry-After": "1"}), 3) == 1.0


def test_an_unreadable_retry_after_falls_back_to_backoff() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=8.0)
    for _ in range(50):
        delay = policy.after_response(SAFE, response(429, **{"Retry-After": "soon"}), 1)
        assert delay is not None
        assert 0.0 <= delay <= 1.0


def test_a_409_is_retried_only_when_in_flight() -> None:
    policy = RetryPolicy()
    assert policy.after_response(SAFE, response(409), 0) is None
    assert policy.after_response(UNSAFE, response(409), 0) is None
    assert policy.after_response(SAFE, response(409, **{"Retry-After": "1"}), 0) == 1.0
    assert policy.after_response(UNSAFE, response(409, **{"Retry-After": "1"}), 0) == 1.0


def test_a_request_in_flight_is_waited_for_beyond_max_retries() -> None:
    """A keyed request whose server process died holds its key until the lock lapses (60 s):
    the retry waits for it, at its Retry-After, instead of giving up after max_retries."""
    policy = RetryPolicy(max_retries=4)
    in_flight = response(409, **{"Retry-After": "1"})
    assert policy.after_response(SAFE, in_flight, 4) == 1.0
    assert policy.after_response(SAFE, in_flight, 74) == 1.0
    assert policy.after_response(SAFE, in_flight, 75) is None
    assert policy.after_response(SAFE, response(503, **{"Retry-After": "1"}), 4) is None


def test_an_unsafe_call_is_retried_on_429_and_503_only() -> None:
    policy = RetryPolicy()
    for status in (500, 502, 504):
        assert policy.after_response(UNSAFE, response(status), 0) is None, status
        assert policy.after_response(SAFE, response(status), 0) is not None, status
    for status in (429, 503):
        assert policy.after_response(UNSAFE, response(status, **{"Retry-After": "2"}), 0) == 2.0
        assert policy.after_response(UNSAFE, response(status), 0) is not None


def test_client_errors_are_not_retried_and_retries_run_out() -> None:
    policy = RetryPolicy(max_retries=2)
    for status in (400, 401, 403, 404, 422):
        assert policy.after_response(SAFE, response(status), 0) is None, status
    assert policy.after_response(SAFE, response(503), 1) is not None
    assert policy.after_response(SAFE, response(503), 2) is None
    assert policy.after_response(SAFE, response(429, **{"Retry-After": "1"}), 2) is None


def test_backoff_is_bounded_by_the_cap() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=8.0)
    for attempt, bound in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0)]:
        delays = [policy.backoff(attempt) for _ in range(200)]
        assert all(0.0 <= d <= bound for d in delays), (attempt, max(delays))
    assert max(policy.backoff(30) for _ in range(200)) > 4.0  # jitter spans the capped range


def test_transport_errors_are_retried_when_safe() -> None:
    policy = RetryPolicy(max_retries=1)
    refused = httpx.ConnectError("refused")
    reset = httpx.ReadError("reset")
    timeout = httpx.ReadTimeout("slow")
    assert policy.after_error(SAFE, reset, 0) is not None
    assert policy.after_error(SAFE, timeout, 0) is not None
    assert policy.after_error(UNSAFE, refused, 0) is not None  # never reached the server
    assert policy.after_error(UNSAFE, reset, 0) is None
    assert policy.after_error(UNSAFE, timeout, 0) is None
    assert policy.after_error(SAFE, reset, 1) is None


# --- a real socket server ------------------------------------------------------------------------

Action = tuple[str, int, dict[str, str], Any]
"""("answer", status, headers, body) | ("reset", 0, {}, None) | ("hang", 0, {}, None)"""


def answer(status: int, body: Any = None, **headers: str) -> Action:
    return ("answer", status, headers, body)


RESET: Action = ("reset", 0, {}, None)
HANG: Action = ("hang", 0, {}, None)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Script:
    """What the server answers, request after request; once exhausted, ``default``."""

    actions: list[Action] = field(default_factory=list)
    default: Action = field(default_factory=lambda: answer(200, {}))
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hits: list[float] = field(default_factory=list)

    def next(self, seen: Seen) -> Action:
        with self.lock:
            self.seen.append(seen)
            return self.actions.pop(0) if self.actions else self.default


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: Script  # set on the subclass of each server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        kind, status, headers, payload = self.script.next(seen)
        if kind == "reset":
            # RST instead of FIN: the client sees "connection reset" with no answer.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if kind == "limited":  # a server that counts a request after a (slow) credential check
            time.sleep(status / 1000)
            with self.script.lock:
                now = time.monotonic()
                self.script.hits = [t for t in self.script.hits if t > now - 1.0]
                refused = len(self.script.hits) >= 5
                if not refused:
                    self.script.hits.append(now)
            kind, status, headers, payload = (
                answer(429, {"code": "RATE_LIMIT_EXCEEDED"}, **{"Retry-After": "1"})
                if refused
                else answer(200, MERCHANTS)
            )
        if kind == "hang":
            self.script.release.wait(10)
            self.close_connection = True
            return
        data = json.dumps(payload if payload is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-Id", f"req-{len(self.script.seen)}")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _handle


@dataclass
class LocalServer:
    base_url: str
    script: Script


@pytest.fixture
def local() -> Iterator[LocalServer]:
    script = Script()
    handler = type("ScriptedHandler", (Handler,), {"script": script})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield LocalServer(f"http://127.0.0.1:{httpd.server_address[1]}", script)
    finally:
        script.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def job_body(job_id: str = "job-1", total: int = 2) -> dict[str, Any]:
    return {
        "issuance_job": {
            "id": job_id,
            "campaign_id": "cmp-1",
            "variant_id": "var-1",
            "state": "pending",
            "total_count": total,
            "processed_count": 0,
            "success_count": 0,
            "failure_count": 0,
            "progress_percent": 0,
        }
    }


CAMPAIGN = {
    "campaign": {
        "id": "cmp-1",
        "name": "Spring",
        "start_at": "2030-01-01T00:00:00Z",
        "end_at": "2030-02-01T00:00:00Z",
        "variants": [{"id": "var-1", "name": "Treatment", "reward_template_id": "tpl-1"}],
    }
}
MERCHANTS = {"merchants": [{"id": "m-1", "name": "Harbour", "handle": "harbour"}]}


def ops() -> PartnerOps:
    return PartnerOps(client_id="client-1", access_token="token-1")


def issue_op(partner: PartnerOps) -> Op[list[IssuanceJob]]:
    return partner.issue(
        merchant_id="m-1",
        campaign_id="cmp-1",
        variant_id="var-1",
        identifiers=["a@example.com", "b@example.com"],
    )


def create_op(partner: PartnerOps) -> Op[Any]:
    return partner.create_campaign(
        merchant_id="m-1",
        name="Spring",
        objective="o",
        fine_print="f",
        start_at="2030-01-01T00:00:00Z",
        end_at="2030-02-01T00:00:00Z",
        redeemable_from="2030-01-01T00:00:00Z",
        redeemable_to="2030-03-01T00:00:00Z",
        variants=[{"name": "Treatment", "reward_template_id": "tpl-1"}],
    )


def config(base_url: str, *, retries: int = 4, timeout: float = 5.0) -> Config:
    """A client config whose limiter never makes these tests wait."""
    return Config(
        base_url=base_url,
        app_name="core-tests/1.0",
        timeout=timeout,
        retry=RetryPolicy(max_retries=retries),
        limiter=RateLimiter(Budget(per_second=10_000, per_window=100_000)),
    )


class Recorder:
    """A ``sleep`` that records and does not sleep (sync and async)."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def pauses(self) -> list[float]:
        """The sleeps that were not the limiter's zero waits."""
        return [s for s in self.slept if s > 0]


Runner = Callable[[Config, Recorder, Op[Any]], Any]


def run_sync(cfg: Config, recorder: Recorder, op: Op[Any]) -> Any:
    driver = SyncDriver(cfg, sleep=recorder)
    try:
        return driver.run(op)
    finally:
        driver.close()


def run_async(cfg: Config, recorder: Recorder, op: Op[Any]) -> Any:
    import asyncio

    async def main() -> Any:
        driver = AsyncDriver(cfg, sleep=recorder.asleep)
        try:
            return await driver.run(op)
        finally:
            await driver.close()

    # A fresh loop in a thread: these tests are sync, the session's loop may be running.
    result: list[Any] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(main()))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(60)
    if error:
        raise error[0]
    return result[0]


DRIVERS = pytest.mark.parametrize("run", [run_sync, run_async], ids=["sync", "async"])


@DRIVERS
def test_issue_is_retried_with_one_idempotency_key_and_sleeps_the_retry_after(
    local: LocalServer, run: Runner
) -> None:
    local.script.actions = [
        answer(429, {"code": "RATE_LIMIT_EXCEEDED"}, **{"Retry-After": "1"}),
        answer(503, {"code": "UNAVAILABLE"}),
        answer(202, job_body("job-7")),
    ]
    recorder = Recorder()

    [job] = run(config(local.base_url), recorder, issue_op(ops()))

    assert job.id == "job-7"
    assert job.total_count == 2
    seen = local.script.seen
    assert [s.path for s in seen] == ["/partner/campaigns/issue"] * 3
    keys = {s.headers.get("x-idempotency-key") for s in seen}
    assert len(keys) == 1 and None not in keys, keys
    assert len({s.body for s in seen}) == 1
    # The Retry-After of the 429, then a backoff of the first retry (up to 0.5 s) for the 503.
    pauses = recorder.pauses()
    assert pauses[0] == 1.0
    assert len(pauses) <= 2 and all(p <= 1.0 for p in pauses)
    assert recorder.slept.count(1.0) >= 1
    for s in seen:
        assert s.headers["x-clientid"] == "client-1"
        assert s.headers["accept-version"] == "v4.0"
        assert s.headers["authorization"] == "Bearer token-1"
        assert "core-tests/1.0" in s.headers["user-agent"]
        assert "bestow-client/" in s.headers["user-agent"]


@DRIVERS
def test_two_issue_calls_use_two_keys(local: LocalServer, run: Runner) -> None:
    local.script.default = answer(202, job_body())
    partner = ops()
    run(config(local.base_url), Recorder(), issue_op(partner))
    run(config(local.base_url), Recorder(), issue_op(partner))
    keys = [s.headers["x-idempotency-key"] for s in local.script.seen]
    assert len(keys) == 2 and keys[0] != keys[1]


@DRIVERS
def test_a_reset_on_a_safe_call_is_retried(local: LocalServer, run: Runner) -> None:
    local.script.actions = [RESET, RESET]
    local.script.default = answer(200, MERCHANTS)

    merchants = run(config(local.base_url), Recorder(), ops().merchants())

    assert [m.id for m in merchants] == ["m-1"]
    assert len(local.script.seen) == 3


@DRIVERS
def test_a_reset_on_create_campaign_is_not_retried(local: LocalServer, run: Runner) -> None:
    local.script.actions = [RESET]
    local.script.default = answer(201, CAMPAIGN)

    with pytest.raises(APIConnectionError) as raised:
        run(config(local.base_url), Recorder(), create_op(ops()))

    assert not isinstance(raised.value, APITimeoutError)
    assert raised.value.request is not None
    assert len(local.script.seen) == 1  # the server may have acted: not sent again


@DRIVERS
def test_create_campaign_is_retried_on_429_and_503(local: LocalServer, run: Runner) -> None:
    local.script.actions = [answer(429, **{"Retry-After": "2"}), answer(503)]
    local.script.default = answer(201, CAMPAIGN)
    recorder = Recorder()

    campaign = run(config(local.base_url), recorder, create_op(ops()))

    assert campaign.id == "cmp-1"
    assert len(local.script.seen) == 3
    assert recorder.pauses()[0] == 2.0


@DRIVERS
def test_a_500_on_create_campaign_is_not_retried(local: LocalServer, run: Runner) -> None:
    local.script.actions = [answer(500, {"code": "INTERNAL", "message": "boom"})]
    local.script.default = answer(201, CAMPAIGN)

    with pytest.raises(InternalServerError) as raised:
        run(config(local.base_url), Recorder(), create_op(ops()))

    assert raised.value.status_code == 500
    assert raised.value.code == "INTERNAL"
    assert raised.value.request_id == "req-1"
    assert len(local.script.seen) == 1


@DRIVERS
def test_retries_run_out_on_429(local: LocalServer, run: Runner) -> None:
    local.script.default = answer(
        429, {"code": "RATE_LIMIT_EXCEEDED", "message": "slow down"}, **{"Retry-After": "1"}
    )
    recorder = Recorder()

    with pytest.raises(RateLimitError) as raised:
        run(config(local.base_url, retries=2), recorder, ops().merchants())

    assert raised.value.code == "RATE_LIMIT_EXCEEDED"
    assert len(local.script.seen) == 3
    assert recorder.pauses() == [1.0, 2.0]  # Retry-After, doubled on the repeat


@DRIVERS
def test_a_timeout_raises_after_the_retries(local: LocalServer, run: Runner) -> None:
    local.script.default = HANG

    with pytest.raises(APITimeoutError) as raised:
        run(config(local.base_url, retries=2, timeout=0.3), Recorder(), ops().merchants())

    assert "timed out" in str(raised.value)
    assert len(local.script.seen) == 3


@DRIVERS
def test_a_refused_connection_is_retried_even_when_unsafe(run: Runner) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    recorder = Recorder()
    with pytest.raises(APIConnectionError):
        run(config(f"http://127.0.0.1:{port}", retries=2), recorder, create_op(ops()))
    # Three attempts (each a limiter wait of 0) with two backoffs between them.
    assert len(recorder.slept) == 5


def test_the_client_sends_to_its_base_url_with_its_own_http_client(local: LocalServer) -> None:
    local.script.default = answer(200, MERCHANTS)
    with httpx.Client(base_url=local.base_url) as http:
        client = Bestow(base_url=local.base_url, app_name="mine/2", http_client=http)
        partner = client.partner(client_id="c", access_token="t")
        assert [m.id for m in partner.merchants()] == ["m-1"]
    assert "mine/2 bestow-client/" in local.script.seen[0].headers["user-agent"]


def test_base_url_applies_to_a_given_http_client(local: LocalServer) -> None:
    local.script.default = answer(200, MERCHANTS)
    with httpx.Client() as http:
        client = Bestow(base_url=local.base_url, max_retries=0, http_client=http)
        partner = client.partner(client_id="c", access_token="t")
        assert [m.id for m in partner.merchants()] == ["m-1"]


def limited(check_ms: int) -> Action:
    """Counted by a 5-per-second moving window after ``check_ms`` of work, as Bestow counts a
    request after looking up its credentials."""
    return ("limited", check_ms, {}, None)


def test_a_slow_first_request_does_not_cause_a_429(local: LocalServer) -> None:
    """The server counts a request after some work (its credential lookup); the limiter counts
    the next ones from each answer, so one slow request cannot bunch them into one second."""
    local.script.actions = [limited(500)]
    local.script.default = limited(0)
    with Bestow(base_url=local.base_url, max_retries=0) as client:
        partner = client.partner(client_id="c", access_token="t")
        for _ in range(10):
            partner.merchants(refresh=True)


# --- e164 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["+1 415 555 0123", "(415) 555-0123", "415.555.0123"])
def test_e164_normalises(number: str) -> None:
    assert e164(number, "US") == "+14155550123"


def test_e164_keeps_a_plus_number_without_a_region() -> None:
    assert e164("+44 20 7946 0958") == "+442079460958"


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("12345", "not a valid phone number"),
        ("not a phone", "is not a phone number"),
    ],
)
def test_e164_refuses_with_a_clear_message(number: str, why: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as raised:
        e164(number, "US")
    message = str(raised.value)
    assert repr(number) in message
    assert why in message
    assert isinstance(raised.value, ValueError)


def test_e164_needs_a_region_for_a_national_number() -> None:
    with pytest.raises(InvalidPhoneNumber, match=r"'\(415\) 555-0123'"):
        e164("(415) 555-0123")


# --- OAuth tokens --------------------------------------------------------------------------------


def drive(op: Op[Any], answer_call: Callable[[Call], httpx.Response]) -> tuple[Any, list[Call]]:
    """Run ``op`` by hand: each call answered by ``answer_call``; (result, calls)."""
    calls: list[Call] = []
    try:
        step = next(op)
        while True:
            assert isinstance(step, Call)
            calls.append(step)
            try:
                reply = answer_call(step)
            except AuthenticationError as error:
                step = op.throw(error)
            else:
                step = op.send(reply)
    except StopIteration as done:
        return done.value, calls


class TokenServer:
    def __init__(self, lifetime: int = 3600) -> None:
        self.lifetime = lifetime
        self.issued = 0

    def __call__(self, call: Call) -> httpx.Response:
        assert call.method == "POST" and call.path == "/oauth2/token"
        assert call.data is not None and call.data["grant_type"] == "client_credentials"
        assert call.auth == ("id", "secret")
        self.issued += 1
        return httpx.Response(
            200, json={"access_token": f"tok-{self.issued}", "expires_in": self.lifetime}
        )


def test_one_token_is_reused_while_valid_and_renewed_before_expiry() -> None:
    clock = FakeClock(0.0)
    tokens = OAuthTokens("id", "secret", clock=clock)
    server = TokenServer(lifetime=3600)

    headers, calls = drive(tokens.headers(), server)
    assert headers == {"Authorization": "Bearer tok-1"} and len(calls) == 1

    for now in (1.0, 1800.0, 3539.9):  # renewal is due 60 s before the hour
        clock.now = now
        headers, calls = drive(tokens.headers(), server)
        assert (headers, calls) == ({"Authorization": "Bearer tok-1"}, []), now

    clock.now = 3540.0  # before it expires, not after
    headers, calls = drive(tokens.headers(), server)
    assert headers == {"Authorization": "Bearer tok-2"} and len(calls) == 1
    assert tokens.issued == 2

    clock.now = 3600.0  # the renewed token is still fresh
    assert drive(tokens.headers(), server) == ({"Authorization": "Bearer tok-2"}, [])


def test_a_short_lived_token_is_renewed_a_tenth_of_its_life_early() -> None:
    clock = FakeClock(0.0)
    tokens = OAuthTokens("id", "secret", clock=clock)
    server = TokenServer(lifetime=100)
    drive(tokens.headers(), server)
    clock.now = 89.9
    assert drive(tokens.headers(), server)[1] == []
    clock.now = 90.0
    assert len(drive(tokens.headers(), server)[1]) == 1


def test_a_401_gets_one_more_try_with_a_new_token() -> None:
    clock = FakeClock(0.0)
    tokens = OAuthTokens("id", "secret", clock=clock)
    server = TokenServer()
    refused: list[str] = []

    def answer_call(call: Call) -> httpx.Response:
        if call.path == "/oauth2/token":
            return server(call)
        if call.headers["Authorization"] == "Bearer tok-1":
            refused.append("tok-1")
            raise AuthenticationError(
                httpx.Response(401, json={"error": "invalid_token"}), {"error": "invalid_token"}
            )
        return httpx.Response(200, json={"ok": True})

    result, calls = drive(authed(tokens, Call("GET", "/v3/products")), answer_call)

    assert result.json() == {"ok": True}
    assert refused == ["tok-1"]
    assert [c.path for c in calls] == ["/oauth2/token", "/v3/products"] * 2
    assert tokens.issued == 2
