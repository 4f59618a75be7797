"""The SDK's webhook verification on real deliveries: a ``bestow serve`` and a ``bestow worker``
(its dispatcher sends the webhooks) on each test database, endpoints registered with the CLI,
and a small local receiver (``http.server`` in a thread) recording the raw requests."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from tests.fixtures.deployment import Deployment, bestow

from bestow_client import AsyncBestow, Bestow, Budget
from bestow_client.webhooks import (
    WebhookVerificationError,
    thanx_signature,
    verify,
    verify_any,
    verify_thanx,
)

pytestmark = pytest.mark.slow

BUDGET = Budget(per_second=40, per_window=1_000_000)
WAIT_SECONDS = 20.0


@dataclass
class Hook:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    url: str
    hooks: list[Hook] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait(self, match: Callable[[Hook], bool], timeout: float = WAIT_SECONDS) -> Hook:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for hook in self.hooks:
                    if match(hook):
                        return hook
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [h.event.get("event") for h in self.hooks]
                    raise TimeoutError(f"no matching webhook after {timeout} s; got {seen}")
                self.arrived.wait(left)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """A local HTTP server that answers 200 to every POST and keeps its raw body and headers."""
    hooks: list[Hook] = []
    arrived = threading.Condition()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with arrived:
                hooks.append(Hook(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                arrived.notify_all()
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}", hooks, arrived)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class Endpoints:
    env: dict[str, str]
    made: list[str] = field(default_factory=list)

    def create(self, client_id: str, url: str, events: str) -> dict[str, Any]:
        out = bestow(
            self.env,
            *("webhooks", "create", "--client-id", client_id, "--url", url),
            *("--events", events, "--max-attempts", "1", "--json"),
        )
        created: dict[str, Any] = json.loads(out)
        self.made.append(created["id"])
        return created

    def rotate(self, endpoint_id: str) -> str:
        out = bestow(
            self.env, "webhooks", "rotate-secret", endpoint_id, "--overlap", "3600", "--json"
        )
        secret: str = json.loads(out)["secret"]
        return secret


@pytest.fixture(scope="module")
def endpoints(deployment: Deployment) -> Iterator[Endpoints]:
    """Registers endpoints with the CLI (on the deployment's database); deletes them after."""
    registry = Endpoints(deployment.env)
    try:
        yield registry
    finally:
        for endpoint_id in registry.made:
            bestow(registry.env, "webhooks", "delete", endpoint_id)


def tampered(body: bytes) -> bytes:
    event = json.loads(body)
    event["data"]["tampered"] = True
    return json.dumps(event, separators=(",", ":")).encode()


def other_secret(secret: str) -> str:
    return "whsec_" + "QUJD" * 8 if secret != "whsec_" + "QUJD" * 8 else "whsec_" + "WFla" * 8


def test_an_operator_delivery_verifies_and_forgeries_are_refused(
    deployment: Deployment,
    receiver: Receiver,
    endpoints: Endpoints,
) -> None:
    demo = deployment.demo["operator"]
    endpoint = endpoints.create(demo["client_id"], f"{receiver.url}/operator", "freebets.enrolled")
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")
    player = f"hooked-{uuid.uuid4().hex[:8]}"
    with Bestow(base_url=deployment.server.base_url, budget=BUDGET) as client:
        op = client.operator(demo["operator_id"], demo["primary_shared_key"])
        enrollment = op.enrol(demo["reward_id"], player)

    hook = receiver.wait(lambda h: h.event["data"].get("operatorPlayerId") == player)
    assert hook.path == "/operator"
    event = verify(hook.body, hook.headers, secret)
    assert event == hook.event
    assert (event["event"], event["data"]["id"]) == ("freebets.enrolled", enrollment.id)
    assert "x-thanx-signature" not in hook.headers  # operator events: Standard Webhooks only
    # Any mapping, any case of names.
    assert verify(hook.body, httpx.Headers(hook.headers), secret) == event
    upper = {k.upper(): v for k, v in hook.headers.items()}
    assert verify_any(hook.body, upper, [other_secret(secret), secret]) == event

    with pytest.raises(WebhookVerificationError):
        verify(tampered(hook.body), hook.headers, secret)
    with pytest.raises(WebhookVerificationError):
        verify(hook.body, hook.headers, other_secret(secret))
    with pytest.raises(WebhookVerificationError):
        verify(hook.body, hook.headers, "not base64 at all!")
    with pytest.raises(WebhookVerificationError):
        verify_any(hook.body, hook.headers, [other_secret(secret)])
    with pytest.raises(WebhookVerificationError):
        verify_any(tampered(hook.body), hook.headers, [secret])
    replayed = {**hook.headers, "webhook-timestamp": str(int(time.time()) - 3600)}
    with pytest.raises(WebhookVerificationError):
        verify(hook.body, replayed, secret)
    malformed = {**hook.headers, "webhook-signature": "v1"}
    with pytest.raises(WebhookVerificationError):
        verify(hook.body, malformed, secret)
    unsigned = {k: v for k, v in hook.headers.items() if not k.startswith("webhook-")}
    with pytest.raises(WebhookVerificationError, match="no webhook signature"):
        verify_any(hook.body, unsigned, [secret])

    # A rotated secret: during the overlap the delivery verifies with the old and the new one.
    rotated = endpoints.rotate(endpoint["id"])
    assert rotated != secret
    second = f"hooked-{uuid.uuid4().hex[:8]}"
    with Bestow(base_url=deployment.server.base_url, budget=BUDGET) as client:
        op = client.operator(demo["operator_id"], demo["primary_shared_key"])
        op.enrol(demo["reward_id"], second)
    later = receiver.wait(lambda h: h.event["data"].get("operatorPlayerId") == second)
    assert verify(later.body, later.headers, secret)["event"] == "freebets.enrolled"
    assert verify(later.body, later.headers, rotated)["data"]["operatorPlayerId"] == second
    assert verify_any(later.body, later.headers, [rotated, secret])["event"] == "freebets.enrolled"


async def test_a_partner_delivery_verifies_with_both_schemes(
    deployment: Deployment,
    receiver: Receiver,
    endpoints: Endpoints,
) -> None:
    partner = deployment.demo["partner"]
    endpoint = endpoints.create(partner["client_id"], f"{receiver.url}/partner", "reward.issued")
    secret = endpoint["secret"]
    now = datetime.now(UTC).replace(microsecond=0)
    async with AsyncBestow(base_url=deployment.server.base_url, budget=BUDGET) as client:
        api = client.partner(client_id=partner["client_id"], access_token=partner["access_token"])
        campaign = await api.create_campaign(
            merchant_id=partner["merchant_id"],
            name=f"SDK webhooks {uuid.uuid4().hex[:6]}",
            objective="verify signatures",
            fine_print="none",
            start_at=now - timedelta(minutes=1),
            end_at=now + timedelta(days=30),
            redeemable_from=now - timedelta(minutes=1),
            redeemable_to=now + timedelta(days=60),
            variants=[{"name": "Treatment", "reward_template_id": partner["template_id"]}],
        )
        [job] = await api.issue(
            merchant_id=partner["merchant_id"],
            campaign_id=campaign.id,
            variant_id=campaign.variant("Treatment").id,
            identifiers=[partner["members"][0]["email"]],
        )
        done = await api.wait(job, timeout=WAIT_SECONDS)
        assert (done.state, done.success_count) == ("completed", 1), done.raw

    hook = receiver.wait(
        lambda h: (
            h.event["event"] == "reward.issued" and h.event["data"].get("issuance_job_id") == job.id
        )
    )
    signature = hook.headers["x-thanx-signature"]
    assert signature == signature.lower() and len(signature) == 64
    assert verify_thanx(hook.body, signature, secret)
    assert verify_thanx(hook.body, signature.upper(), secret)
    assert thanx_signature(hook.body, secret) == signature
    assert not verify_thanx(tampered(hook.body), signature, secret)
    assert not verify_thanx(hook.body, signature, other_secret(secret))
    # The key is the secret string itself, whsec_ included, not its decoded base64 part.
    assert not verify_thanx(hook.body, signature, secret.removeprefix("whsec_"))
    assert not verify_thanx(hook.body, "ünicode", secret)

    event = verify(hook.body, hook.headers, secret)
    assert event["data"]["issuance_job_id"] == job.id
    thanx_only = {"X-Thanx-Signature": signature, "Content-Type": "application/json"}
    assert verify_any(hook.body, thanx_only, [other_secret(secret), secret]) == event
    with pytest.raises(WebhookVerificationError):
        verify_any(hook.body, thanx_only, [other_secret(secret)])
    with pytest.raises(WebhookVerificationError):
        verify_any(tampered(hook.body), thanx_only, [secret])
    with pytest.raises(WebhookVerificationError, match="no webhook signature"):
        verify_any(hook.body, thanx_only, [secret], thanx=False)
    with pytest.raises(ValueError, match="empty"):
        verify_any(hook.body, hook.headers, [])
