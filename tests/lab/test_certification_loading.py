"""How a judged window is read (``bestow.lab.certification.context``): each logged column as
the judges expect it whatever the database gives (JSON as text, times as text or aware), the
window's bounds and surfaces, the order, ``Context.on``'s index, and the garbage collector
given back after a report. The loading is tuned for 100,000 requests (``bench/
certification.py``): these tests hold it to what the plain ORM reading gave."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bestow.deps import Runtime
from bestow.lab.certification import engine
from bestow.lab.certification.context import Context, Req, Window, load_requests
from bestow.models import Client
from tests.conftest import unique
from tests.lab.helpers import insert_rows, row
from tests.surfaces.partner.helpers import new_partner

BASE = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


async def loaded(runtime: Runtime, client_id: str, surface: str, window: Window) -> list[Req]:
    async with runtime.db.session() as session:
        return await load_requests(session, client_id, surface, window)


async def test_every_column_reads_as_the_judges_expect(runtime: Runtime) -> None:
    client_id = unique("cli")
    present = ["Authorization", "X-ClientId", "Accept-Version", "Content-Type"]
    shown = {"Accept-Version": "v4.0", "Content-Type": "application/json", "User-Agent": "t/1"}
    body = {"sha256": "ab" * 32, "bytes": 120, "counts": {"identifiers.email": 3}}
    await insert_rows(
        runtime,
        [
            row(
                client_id,
                request_id="issue",
                created_at=at(1.25),
                method="POST",
                route="/partner/campaigns/issue",
                status=429,
                latency_ms=12.5,
                idempotency_key="key-1",
                headers_present=present,
                header_values=shown,
                error_code="rate_limited",
                replayed=True,
                rate_limited=True,
                fault="rate_limit",
                body=body,
                fingerprint="f" * 32,
                object_id="job_1",
                retry_after=1.5,
            ),
            row(client_id, request_id="bare", created_at=at(2), headers_present=[]),
            row(client_id, request_id="same", created_at=at(3), headers_present=present),
        ],
    )

    issue, bare, same = await loaded(runtime, client_id, "partner", Window(at(0), at(10)))

    assert issue.request_id == "issue"
    assert issue.time == at(1.25) and issue.time.tzinfo is UTC
    assert issue.t == at(1.25).timestamp()
    assert (issue.surface, issue.method, issue.route) == (
        "partner",
        "POST",
        "/partner/campaigns/issue",
    )
    assert issue.endpoint == "POST /partner/campaigns/issue"
    assert (issue.status, issue.latency_ms, issue.ok) == (429, 12.5, False)
    assert issue.idempotency_key == "key-1"
    assert issue.headers == frozenset(present)
    assert issue.values == shown
    assert (issue.error_code, issue.fault) == ("rate_limited", "rate_limit")
    assert issue.replayed is True and issue.rate_limited is True
    assert issue.body == body and issue.has_body
    assert issue.count("identifiers.email") == 3 and issue.count("identifiers.phone") == 0
    assert (issue.fingerprint, issue.object_id, issue.retry_after) == ("f" * 32, "job_1", 1.5)
    assert bare.headers == frozenset() and bare.values == {} and bare.body == {}
    assert bare.replayed is False and bare.rate_limited is False
    assert (bare.idempotency_key, bare.object_id, bare.retry_after) == (None, None, None)
    assert not bare.has_body and bare.count("anything") == 0
    assert same.headers == issue.headers


async def test_the_window_its_surfaces_and_the_order(runtime: Runtime) -> None:
    client_id, other = unique("cli"), unique("cli")
    await insert_rows(
        runtime,
        [
            row(client_id, request_id="late", created_at=at(5), surface="vouchers"),
            row(client_id, request_id="token", created_at=at(4), surface="oauth"),
            row(client_id, request_id="partner", created_at=at(3), surface="partner"),
            row(client_id, request_id="before", created_at=at(-1), surface="vouchers"),
            row(client_id, request_id="at-until", created_at=at(6), surface="vouchers"),
            row(client_id, request_id="tie-1", created_at=at(2), surface="vouchers"),
            row(client_id, request_id="tie-2", created_at=at(2), surface="vouchers"),
            row(other, request_id="others", created_at=at(3), surface="vouchers"),
        ],
    )
    window = Window(at(0), at(6))

    vouchers = await loaded(runtime, client_id, "vouchers", window)
    partner = await loaded(runtime, client_id, "partner", window)

    # Oldest first, the order of recording between equal times; since inclusive, until not.
    assert [r.request_id for r in vouchers] == ["tie-1", "tie-2", "token", "late"]
    assert vouchers[0].seq < vouchers[1].seq
    assert [r.request_id for r in partner] == ["partner"]


def request(seq: int, method: str, route: str) -> Req:
    return Req(
        seq, f"r{seq}", at(seq), at(seq).timestamp(), "partner", method, route, 200, 1.0, None,
        frozenset(), {}, None, False, False, None, {}, None, None, None,
    )  # fmt: skip


def test_on_finds_each_endpoint_in_order_and_follows_a_new_list() -> None:
    issue, poll, merchants = (
        ("POST", "/partner/campaigns/issue"),
        ("GET", "/partner/issuance_jobs/{job_id}"),
        ("GET", "/partner/merchants"),
    )
    made = [request(i, *kind) for i, kind in enumerate([merchants, issue, poll, poll, issue])]
    ctx = Context(None, None, "partner", Window(at(0), at(9)), made)  # type: ignore[arg-type]

    assert [r.seq for r in ctx.on("POST /partner/campaigns/issue")] == [1, 4]
    both = ctx.on("GET /partner/issuance_jobs/{job_id}", "POST /partner/campaigns/issue")
    assert [r.seq for r in both] == [1, 2, 3, 4]
    assert [r.seq for r in ctx.on("GET /partner/merchants", "GET /partner/merchants")] == [0]
    assert list(ctx.on("DELETE /nothing")) == [] and list(ctx.on()) == []
    ctx.requests.append(request(5, *merchants))
    assert [r.seq for r in ctx.on("GET /partner/merchants")] == [0, 5]
    ctx.requests = made[:1]
    assert [r.seq for r in ctx.on("POST /partner/campaigns/issue")] == []


async def test_judging_gives_the_garbage_collector_back(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id = (await new_partner(runtime, environment="uat")).client_id
    await insert_rows(runtime, [row(client_id, created_at=at(1))])
    seen: list[bool] = []

    async def watching(*args: Any) -> list[Req]:
        seen.append(gc.isenabled())
        return await load_requests(*args)

    monkeypatch.setattr(engine, "load_requests", watching)
    assert gc.isenabled()
    async with runtime.db.session() as session:
        client = await session.get(Client, client_id)
        assert client is not None
        report = await engine.judge(session, client, "partner", Window(at(0), at(9)))
        assert report.requests == 1
        assert seen == [False] and gc.isenabled()

        async def failing(*args: Any) -> list[Req]:
            raise RuntimeError("the database went away")

        monkeypatch.setattr(engine, "load_requests", failing)
        with pytest.raises(RuntimeError):
            await engine.judge(session, client, "partner", Window(at(0), at(9)))
        assert gc.isenabled()
        gc.disable()
        try:  # a process that runs without the collector keeps it off
            monkeypatch.setattr(engine, "load_requests", watching)
            await engine.judge(session, client, "partner", Window(at(0), at(9)))
            assert not gc.isenabled()
        finally:
            gc.enable()
