"""Webhook URL safety: production endpoints are https on public addresses, checked when saved and
again at every send (the dispatcher's resolver); local development may use any http(s) URL."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.errors import Invalid
from bestow.webhooks import endpoints, urls
from tests.conftest import ACTOR, make_settings
from tests.fixtures.receiver import Receiver
from tests.webhooks.helpers import (
    attempts,
    create_endpoint,
    dispatching,
    emit,
    make_client,
    set_endpoint,
    settled_delivery,
)

REFUSED_BY_SYNTAX = [
    "http://example.com/hook",  # plain http
    "https://127.0.0.1/",
    "https://127.0.0.1./",
    "https://localhost/x",
    "https://LOCALHOST./x",
    "https://foo.internal/",
    "https://printer.local/",
    "https://router.lan/",
    "https://intranet/",  # a single label
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
    "https://[::127.0.0.1]/",  # IPv4-compatible (reserved)
    "https://[64:ff9b::a00:5]/",  # NAT64 of 10.0.0.5
    "https://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "https://[fe80::1]/",
    "https://[fc00::1]/",
    "https://[::]/",
    "https://0.0.0.0/",
    "https://10.0.0.5/",
    "https://172.16.0.1/",
    "https://192.168.1.1/",
    "https://100.64.0.1/",  # shared address space
    "https://203.0.113.10/hook",  # TEST-NET-3: not global
    "https://224.0.0.1/",  # multicast
    "https://2130706433/",  # 127.0.0.1 as one number
    "https://user:pass@hooks.example.com/x",
    "https://token@hooks.example.com/x",
    "https://hooks.example.com/x#fragment",
    "ftp://hooks.example.com/x",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "hooks.example.com/x",
    "https:///x",
    "https://hooks.example.com:0/x",
    "https://hooks.example.com:99999/x",
    "https://hooks.example.com/" + "x" * urls.MAX_URL_LENGTH,
]
REFUSED_WHEN_RESOLVED = [
    "https://0x7f.1/",  # getaddrinfo reads these as 127.0.0.1, without DNS
    "https://0177.0.0.1/",
    "https://127.1/",
]
ACCEPTED_IN_PRODUCTION = [
    "https://8.8.8.8/hook",
    "https://[2001:4860:4860::8888]/hook",
    "https://[64:ff9b::808:808]/hook",  # NAT64 of a public address
    "https://hooks.example.com/x",  # does not resolve offline: the send-time check protects
    "https://hooks.example.com:8443/x?a=b",
]


@pytest.mark.parametrize("url", REFUSED_BY_SYNTAX)
def test_production_refuses_by_syntax(url: str) -> None:
    with pytest.raises(Invalid) as refused:
        urls.check_syntax(url, production=True)
    assert refused.value.field == "url"


@pytest.mark.parametrize("url", REFUSED_BY_SYNTAX + REFUSED_WHEN_RESOLVED)
async def test_production_refuses_when_saved(url: str) -> None:
    with pytest.raises(Invalid) as refused:
        await urls.check_url(url, production=True)
    assert refused.value.field == "url"


@pytest.mark.parametrize("url", REFUSED_WHEN_RESOLVED)
def test_legacy_numeric_hosts_pass_the_syntax_check(url: str) -> None:
    assert urls.check_syntax(url, production=True) == url


@pytest.mark.parametrize("host", ["127.1", "0177.0.0.1", "2130706433", "10.1", "8.8.8.8.8"])
def test_numeric_hosts_that_are_not_plain_addresses_are_never_sent_to(host: str) -> None:
    # aiohttp takes an all-digit host for an address and skips the resolver
    with pytest.raises(urls.BlockedAddress, match="address not allowed"):
        urls.check_before_send(f"https://{host}/x", production=True)


@pytest.mark.parametrize("url", ACCEPTED_IN_PRODUCTION)
async def test_production_accepts_public_https(url: str) -> None:
    assert await urls.check_url(f"  {url} ", production=True) == url
    urls.check_before_send(url, production=True)


async def test_a_name_is_judged_by_what_it_resolves_to_when_saved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers: dict[str, Any] = {
        "rebind.example.com": ["10.1.2.3"],
        "mixed.example.com": ["8.8.8.8", "127.0.0.1"],
        "metadata.example.com": ["169.254.169.254"],
        "public.example.com": ["8.8.8.8", "2001:4860:4860::8888"],
        "missing.example.com": socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
    }

    async def fake_getaddrinfo(host: str, port: int, **_: Any) -> list[Any]:
        answer = answers[host]
        if isinstance(answer, Exception):
            raise answer
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answer
        ]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake_getaddrinfo)
    for host in ("rebind.example.com", "mixed.example.com", "metadata.example.com"):
        with pytest.raises(Invalid, match="not public"):
            await urls.check_url(f"https://{host}/x", production=True)
    for host in ("public.example.com", "missing.example.com"):
        assert await urls.check_url(f"https://{host}/x", production=True)
    # outside production nothing is resolved
    assert await urls.check_url("https://rebind.example.com/x", production=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/x",
        "http://localhost:9000/x",
        "http://receiver/x",
        "https://10.0.0.5/x",
        "http://[::1]:9000/x",
    ],
)
async def test_outside_production_any_http_url_is_accepted(url: str) -> None:
    assert await urls.check_url(url, production=False) == url
    urls.check_before_send(url, production=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pass@127.0.0.1:9000/x",
        "http://127.0.0.1:9000/x#f",
        "ftp://127.0.0.1/x",
        "http://127.0.0.1/" + "x" * urls.MAX_URL_LENGTH,
    ],
)
def test_outside_production_the_syntax_rules_still_hold(url: str) -> None:
    with pytest.raises(Invalid):
        urls.check_syntax(url, production=False)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False),
        ("10.0.0.5", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("203.0.113.10", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("0.0.0.0", False),  # noqa: S104
        ("::1", False),
        ("::", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.5", False),
        ("::127.0.0.1", False),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b:1::a00:5", False),
        ("2002:7f00:1::", False),
        ("2002:a00:5::", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("localhost", False),
        ("", False),
    ],
)
def test_is_public(address: str, public: bool) -> None:
    assert urls.is_public(address) is public


def test_check_before_send_covers_the_scheme_and_literal_addresses() -> None:
    with pytest.raises(urls.BlockedAddress, match="https"):
        urls.check_before_send("http://8.8.8.8/x", production=True)
    for url in ("https://127.0.0.1:8443/x", "https://[::ffff:10.0.0.5]/x", "https://2130706433/"):
        with pytest.raises(urls.BlockedAddress, match="address not allowed"):
            urls.check_before_send(url, production=True)
    urls.check_before_send("https://localhost/x", production=True)  # names: the resolver's job


async def test_the_production_resolver_refuses_non_public_answers() -> None:
    resolver = urls.resolver(production=True)
    assert resolver is not None
    assert urls.resolver(production=False) is None
    try:
        for host in ("localhost", "127.0.0.1", "0x7f.1"):
            with pytest.raises(urls.BlockedAddress):
                await resolver.resolve(host, 443, socket.AF_UNSPEC)
    finally:
        await resolver.close()


# Send time ----------------------------------------------------------------------------------


def production(settings: Settings) -> Settings:
    return make_settings(
        settings.database_url,
        Path(settings.var_dir),
        environment="production",
        webhook_poll_seconds=0.05,
        webhook_timeout_seconds=5.0,
    )


async def test_a_sandbox_endpoint_on_a_local_address_is_not_called_in_production(
    settings: Settings, runtime: Runtime
) -> None:
    async with Receiver() as receiver:
        client_id = await make_client(runtime)
        endpoint_id, _ = await create_endpoint(runtime, client_id, receiver.url, max_attempts=1)
        local_https = receiver.url.replace("http://", "https://")
        other_id, _ = await create_endpoint(runtime, client_id, local_https, max_attempts=1)
        event_id = await emit(runtime, client_id)
        async with dispatching(runtime, production(settings)):
            plain = await settled_delivery(runtime, endpoint_id, event_id)
            literal = await settled_delivery(runtime, other_id, event_id)
        assert receiver.connections_made == 0 and receiver.received == []

    assert (plain.state, plain.last_error) == ("failed", "https is required in production")
    assert (literal.state, literal.last_error) == ("failed", "address not allowed")
    [attempt] = await attempts(runtime, endpoint_id)
    assert attempt.success is False and attempt.status_code is None
    assert attempt.error == "https is required in production"
    [attempt] = await attempts(runtime, other_id)
    assert attempt.error == "address not allowed"


@pytest.mark.parametrize("host", ["localhost", "127.1", "2130706433"])
async def test_a_stored_name_of_a_local_address_is_refused_at_send_time(
    settings: Settings, runtime: Runtime, host: str
) -> None:
    async with Receiver() as receiver:
        client_id = await make_client(runtime)
        endpoint_id, _ = await create_endpoint(
            runtime, client_id, "https://hooks.example.com/x", max_attempts=1
        )
        # as if the name had resolved to a public address when the endpoint was saved
        await set_endpoint(runtime, endpoint_id, url=f"https://{host}:{receiver.port}/hooks")
        event_id = await emit(runtime, client_id)
        async with dispatching(runtime, production(settings)):
            delivery = await settled_delivery(runtime, endpoint_id, event_id)
        assert receiver.connections_made == 0 and receiver.received == []

    assert delivery.state == "failed"
    assert delivery.last_error == "address not allowed"
    [attempt] = await attempts(runtime, endpoint_id)
    assert attempt.success is False and attempt.error == "address not allowed"


async def test_an_ssrf_attempt_in_production_mode_is_refused_when_saved(
    runtime: Runtime,
) -> None:
    client_id = await make_client(runtime, "production")
    for url in (
        "http://127.0.0.1:9000/hooks",
        "https://127.0.0.1:9000/hooks",
        "https://localhost/",
    ):
        async with runtime.db.write_session() as session:
            with pytest.raises(Invalid):
                await endpoints.create_endpoint(
                    session,
                    runtime.sealer,
                    client_id=client_id,
                    url=url,
                    actor=ACTOR,
                )
    made, _ = await create_endpoint(runtime, client_id, "https://hooks.example.com/x")
    async with runtime.db.write_session() as session:
        with pytest.raises(Invalid):
            await endpoints.update_endpoint(
                session,
                endpoint_id=made,
                actor=ACTOR,
                url="https://169.254.169.254/latest/meta-data/",
            )


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.5", "169.254.169.254"])
async def test_a_name_public_when_saved_and_internal_when_sent_is_refused_and_recorded(
    settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    """DNS rebinding: the name answered a public address when the endpoint was saved, and
    answers an internal one (this host, a private network, cloud metadata) when it is sent to.
    Name resolution is stubbed in this process: the DNS is outside Bestow."""
    answers = {"rebind.example.com": "8.8.8.8"}
    looked_up: list[str] = []
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host: str, port: Any, *args: Any, **options: Any) -> list[Any]:
        if host not in answers:
            return await real(host, port, *args, **options)
        looked_up.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], int(port or 0)))]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    async with Receiver() as receiver:
        client_id = await make_client(runtime, "production")
        url = f"https://rebind.example.com:{receiver.port}/hooks"
        async with runtime.db.write_session() as session:
            made = await endpoints.create_endpoint(
                session,
                runtime.sealer,
                client_id=client_id,
                url=url,
                actor=ACTOR,
                max_attempts=1,
            )
            await session.commit()
        answers["rebind.example.com"] = address
        event_id = await emit(runtime, client_id)
        async with dispatching(runtime, production(settings)):
            delivery = await settled_delivery(runtime, made.endpoint.id, event_id)
        assert receiver.connections_made == 0 and receiver.received == []

    assert looked_up.count("rebind.example.com") >= 2  # when saved, and when sent
    assert (delivery.state, delivery.last_error) == ("failed", "address not allowed")
    [attempt] = await attempts(runtime, made.endpoint.id)
    assert (attempt.success, attempt.status_code) == (False, None)
    assert attempt.error == "address not allowed"
