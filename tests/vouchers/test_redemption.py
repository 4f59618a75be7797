"""The merchant side of vouchers: ``/v3/merchant/vouchers/{code}`` (look up, redeem, void) and the
Admin API's ``/admin/vouchers``, their events, concurrent redemptions and the expiry sweep."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from bestow.deps import Runtime
from bestow.kit.db import utcnow
from bestow.kit.errors import InvalidState
from bestow.models import AuditEntry, OutboxEvent, Product, Voucher, VoucherRedemption
from bestow.vouchers import expiry, lookup, redemption
from bestow.worker import housekeeping
from tests.vouchers.helpers import (
    ADMIN,
    MERCHANT,
    create,
    dashed,
    fixed,
    issue_vouchers,
    issued_at,
    login,
    stored,
    till,
    voucher_error,
)

# --- Helpers (the usage and CLI tests use them too) ------------------------------------------


async def gift_card(runtime: Runtime, value: int = 1000) -> Product:
    product: Product = await create(runtime, **fixed(is_multiple_use=True, face_value=value))
    return product


# --- Merchant API ----------------------------------------------------------------------------


async def test_a_gift_card_is_redeemed_in_parts_until_it_is_used(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    [voucher] = await issue_vouchers(runtime, await gift_card(runtime))
    headers = await till(app_client, runtime)

    looked = await app_client.get(f"{MERCHANT}/{dashed(voucher.code)}", headers=headers)
    assert looked.status_code == 200, looked.text
    view = looked.json()
    assert (view["voucher_code"], view["voucher_id"]) == (voucher.code, voucher.id)
    assert (view["status"], view["face_value"], view["remaining_amount"]) == ("active", 1000, 1000)
    assert (view["is_multiple_use"], view["is_value_based"], view["currency"]) == (
        True,
        True,
        "SGD",
    )
    assert view["redemptions"] == []

    part = await app_client.post(
        f"{MERCHANT}/{voucher.code}/redeem",
        json={"amount": 300, "location": "Till 4"},
        headers=headers,
    )
    assert part.status_code == 200, part.text
    assert "Idempotency-Record" not in part.headers
    assert part.json()["voucher"]["remaining_amount"] == 700
    assert part.json()["voucher"]["status"] == "active"
    redemption = part.json()["redemption"]
    assert (redemption["kind"], redemption["amount"], redemption["remaining_after"]) == (
        "redeem",
        300,
        700,
    )
    assert redemption["location"] == "Till 4"

    rest = await app_client.post(f"{MERCHANT}/{voucher.code}/redeem", json={}, headers=headers)
    assert rest.status_code == 200, rest.text
    assert rest.json()["redemption"]["amount"] == 700
    assert (rest.json()["voucher"]["status"], rest.json()["voucher"]["remaining_amount"]) == (
        "used",
        0,
    )
    assert [r["amount"] for r in rest.json()["voucher"]["redemptions"]] == [300, 700]

    more = await app_client.post(
        f"{MERCHANT}/{voucher.code}/redeem", json={"amount": 1}, headers=headers
    )
    assert voucher_error(more, 409)["message"] == "The voucher is used"
    assert (await stored(runtime, voucher.code)).remaining_amount == 0


async def test_items_of_a_product_based_voucher_are_taken_a_few_at_a_time(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(
        runtime, **fixed(is_value_based=False, face_value=None, currency="", item_quantity=5)
    )
    [voucher] = await issue_vouchers(runtime, product)
    headers = await till(app_client, runtime)
    path = f"{MERCHANT}/{voucher.code}/redeem"

    two = await app_client.post(path, json={"amount": 2}, headers=headers)
    assert two.status_code == 200, two.text
    assert two.json()["voucher"]["remaining_amount"] == 3
    too_many = await app_client.post(path, json={"amount": 4}, headers=headers)
    assert "3 left" in voucher_error(too_many, 409)["message"]
    three = await app_client.post(path, json={"amount": 3}, headers=headers)
    assert three.json()["voucher"]["status"] == "used"


async def test_a_single_use_value_voucher_is_redeemed_whole_and_bad_bodies_take_nothing(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    [voucher] = await issue_vouchers(runtime, await create(runtime, **fixed()))
    headers = await till(app_client, runtime)
    path = f"{MERCHANT}/{voucher.code}/redeem"

    assert (
        "whole"
        in voucher_error(await app_client.post(path, json={"amount": 500}, headers=headers), 400)[
            "message"
        ]
    )
    for body in (
        {"amount": 0},
        {"amount": -5},
        {"amount": "1000"},
        {"amount": 10.5},
        {"amount": True},
        {"ammount": 1000},
        {"reference": ""},
        {"reference": "till\x00-1"},
        {"location": "Store\x07"},
        {"amount": 2**64},
        [1000],
    ):
        voucher_error(await app_client.post(path, json=body, headers=headers), 400)
    not_json = await app_client.post(
        path, content=b"{", headers={**headers, "Content-Type": "application/json"}
    )
    voucher_error(not_json, 400)
    assert (await stored(runtime, voucher.code)).remaining_amount == 1000

    whole = await app_client.post(path, json={"amount": 1000}, headers=headers)
    assert whole.status_code == 200, whole.text
    assert whole.json()["voucher"]["status"] == "used"


async def test_a_voided_voucher_can_no_longer_be_redeemed_or_voided(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    [voucher] = await issue_vouchers(runtime, await gift_card(runtime))
    headers = await till(app_client, runtime)
    base = f"{MERCHANT}/{voucher.code}"
    await app_client.post(f"{base}/redeem", json={"amount": 100}, headers=headers)

    voided = await app_client.post(f"{base}/void", json={"reason": "lost card"}, headers=headers)
    assert voided.status_code == 200, voided.text
    assert voided.json()["voucher"]["status"] == "voided"
    assert voided.json()["voucher"]["remaining_amount"] == 900
    assert (voided.json()["redemption"]["kind"], voided.json()["redemption"]["note"]) == (
        "void",
        "lost card",
    )

    assert (
        "is voided"
        in voucher_error(
            await app_client.post(f"{base}/redeem", json={"amount": 100}, headers=headers), 409
        )["message"]
    )
    voucher_error(await app_client.post(f"{base}/void", headers=headers), 409)
    kinds = [r["kind"] for r in (await app_client.get(base, headers=headers)).json()["redemptions"]]
    assert kinds == ["redeem", "void"]


async def test_an_expired_voucher_is_refused_before_and_after_the_sweep(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    product = await create(runtime, **fixed(validity_days=1))
    [code] = await issued_at(runtime, product, utcnow() - timedelta(days=3))
    headers = await till(app_client, runtime)

    looked = await app_client.get(f"{MERCHANT}/{code}", headers=headers)
    assert looked.json()["status"] == "expired"
    assert (
        "is expired"
        in voucher_error(
            await app_client.post(f"{MERCHANT}/{code}/redeem", json={}, headers=headers), 409
        )["message"]
    )
    await housekeeping.expire_vouchers(runtime.db)
    assert (await stored(runtime, code)).status == "expired"
    voucher_error(await app_client.post(f"{MERCHANT}/{code}/void", headers=headers), 409)


async def test_a_repeated_reference_returns_the_first_redemption_and_takes_once(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    [voucher] = await issue_vouchers(runtime, await gift_card(runtime))
    headers = await till(app_client, runtime)
    path = f"{MERCHANT}/{voucher.code}/redeem"
    body = {"amount": 250, "reference": "POS-0001"}

    first = await app_client.post(path, json=body, headers=headers)
    again = await app_client.post(path, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert "Idempotency-Record" not in first.headers
    assert again.headers["Idempotency-Record"] == first.json()["redemption"]["created_at"]
    assert again.json()["redemption"] == first.json()["redemption"]
    assert again.json()["voucher"]["remaining_amount"] == 750

    other_amount = await app_client.post(
        path, json={"amount": 100, "reference": "POS-0001"}, headers=headers
    )
    assert "reference" in voucher_error(other_amount, 409)["message"]
    assert (await stored(runtime, voucher.code)).remaining_amount == 750


async def test_unknown_codes_missing_tokens_and_missing_scopes_are_refused(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    [voucher] = await issue_vouchers(runtime, await create(runtime, **fixed()))
    _, issuer = await login(app_client, runtime)
    headers = await till(app_client, runtime)
    assert (
        "not found"
        in voucher_error(
            await app_client.get(f"{MERCHANT}/ZZZZ-ZZZZ-ZZZZ-ZZZZ", headers=headers), 404
        )["message"]
    )
    voucher_error(await app_client.post(f"{MERCHANT}/NOPE/redeem", json={}, headers=headers), 404)

    calls = [
        ("GET", f"{MERCHANT}/{voucher.code}"),
        ("POST", f"{MERCHANT}/{voucher.code}/redeem"),
        ("POST", f"{MERCHANT}/{voucher.code}/void"),
    ]
    for method, path in calls:
        unauthenticated = await app_client.request(method, path)
        voucher_error(unauthenticated, 401)
        assert unauthenticated.headers["WWW-Authenticate"].startswith("Bearer")
        voucher_error(await app_client.request(method, path, headers=issuer), 403)
    assert (await stored(runtime, voucher.code)).status == "active"


async def test_redemptions_and_voids_record_their_events_except_without_status(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    headers = await till(app_client, runtime)
    [shown] = await issue_vouchers(runtime, await gift_card(runtime), client_id="cli_events")
    hidden_product = await create(runtime, **fixed(is_status_available=False))
    [hidden] = await issue_vouchers(runtime, hidden_product)

    await app_client.post(f"{MERCHANT}/{shown.code}/redeem", json={"amount": 400}, headers=headers)
    await app_client.post(f"{MERCHANT}/{shown.code}/void", json={"reason": "x"}, headers=headers)
    used = await app_client.post(f"{MERCHANT}/{hidden.code}/redeem", json={}, headers=headers)
    assert used.json()["voucher"]["status"] == "used"

    async with runtime.db.session() as session:
        events = list(
            await session.scalars(
                select(OutboxEvent)
                .where(
                    OutboxEvent.subject_id.in_([shown.id, hidden.id]),
                    OutboxEvent.type != "voucher.issued",
                )
                .order_by(OutboxEvent.id)
            )
        )
    assert [(e.type, e.subject_id, e.client_id) for e in events] == [
        ("voucher.redeemed", shown.id, "cli_events"),
        ("voucher.voided", shown.id, "cli_events"),
    ]
    redeemed = events[0].payload["data"]
    assert redeemed["voucher"]["remaining_amount"] == 600
    assert (redeemed["redemption"]["amount"], redeemed["redemption"]["kind"]) == (400, "redeem")
    assert events[1].payload["data"]["voucher"]["status"] == "voided"


# --- Concurrency -----------------------------------------------------------------------------

ATTEMPTS, PART, BALANCE = 30, 100, 1000


async def _settled(runtime: Runtime, code: str) -> tuple[Voucher, list[VoucherRedemption]]:
    async with runtime.db.session() as session:
        voucher = await lookup.by_code(session, code)
        return voucher, await lookup.redemptions(session, voucher.id)


def _assert_spent_exactly(voucher: Voucher, redemptions: list[VoucherRedemption]) -> None:
    assert (voucher.remaining_amount, voucher.status) == (0, "used")
    assert len(redemptions) == BALANCE // PART
    assert sum(r.amount for r in redemptions) == BALANCE
    assert sorted(r.remaining_after for r in redemptions) == list(range(0, BALANCE, PART))


async def test_concurrent_partial_redemptions_never_take_more_than_the_balance(
    runtime: Runtime,
) -> None:
    [voucher] = await issue_vouchers(runtime, await gift_card(runtime, BALANCE))

    async def attempt(n: int) -> bool:
        async with runtime.db.write_session() as session:
            try:
                await redemption.redeem(
                    session, code=voucher.code, amount=PART, actor="test", reference=f"r{n}"
                )
            except InvalidState:
                return False
            await session.commit()
            return True

    outcomes = await asyncio.gather(*(attempt(n) for n in range(ATTEMPTS)))
    assert outcomes.count(True) == BALANCE // PART
    _assert_spent_exactly(*await _settled(runtime, voucher.code))


async def redeem_at_once(
    client: httpx.AsyncClient, headers: dict[str, str], code: str, body: Any, times: int
) -> list[httpx.Response]:
    """``times`` concurrent ``POST .../{code}/redeem`` of the same ``body``."""
    path = f"{MERCHANT}/{code}/redeem"
    return list(
        await asyncio.gather(*(client.post(path, json=body, headers=headers) for _ in range(times)))
    )


async def test_concurrent_redemptions_over_http_succeed_ten_times_and_refuse_the_rest(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    [voucher] = await issue_vouchers(runtime, await gift_card(runtime, BALANCE))
    headers = await till(app_client, runtime)
    responses = await redeem_at_once(app_client, headers, voucher.code, {"amount": PART}, ATTEMPTS)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (BALANCE // PART) + [409] * (ATTEMPTS - BALANCE // PART)
    _assert_spent_exactly(*await _settled(runtime, voucher.code))


async def test_concurrent_repeats_of_one_reference_take_once(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    [voucher] = await issue_vouchers(runtime, await gift_card(runtime, BALANCE))
    headers = await till(app_client, runtime)
    body = {"amount": PART, "reference": "POS-SAME"}
    responses = await redeem_at_once(app_client, headers, voucher.code, body, 8)
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["redemption"]["id"] for r in responses}) == 1
    assert sum("Idempotency-Record" in r.headers for r in responses) == 7
    settled, redemptions = await _settled(runtime, voucher.code)
    assert (settled.remaining_amount, len(redemptions)) == (BALANCE - PART, 1)


# --- Expiry sweep ----------------------------------------------------------------------------


async def test_the_sweep_expires_past_due_vouchers_in_bounded_batches(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    product = await create(runtime, **fixed(validity_days=1))
    await housekeeping.expire_vouchers(runtime.db, max_batches=None)  # earlier tests' backlog
    due = await issued_at(runtime, product, utcnow() - timedelta(days=5), count=5)
    [fresh] = await issue_vouchers(runtime, product)
    [spent] = await issued_at(runtime, product, utcnow() - timedelta(days=5))
    async with runtime.db.write_session() as session:
        await session.execute(update(Voucher).where(Voucher.code == spent).values(status="used"))
        await session.commit()

    monkeypatch.setattr(expiry, "EXPIRY_BATCH", 2)
    assert await housekeeping.expire_vouchers(runtime.db, max_batches=1) == 2
    assert await housekeeping.expire_vouchers(runtime.db, max_batches=None) == 3
    assert await housekeeping.expire_vouchers(runtime.db, max_batches=None) == 0

    statuses = [(await stored(runtime, code)).status for code in due]
    assert statuses == ["expired"] * 5
    assert (await stored(runtime, fresh.code)).status == "active"
    assert (await stored(runtime, spent)).status == "used"


async def test_the_worker_housekeeping_runs_the_expiry(runtime: Runtime) -> None:
    product = await create(runtime, **fixed(validity_days=1))
    [code] = await issued_at(runtime, product, utcnow() - timedelta(days=2))
    await housekeeping.sweep(runtime.db, runtime.settings)
    assert (await stored(runtime, code)).status == "expired"


# --- Admin API -------------------------------------------------------------------------------


def admin_view(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def test_admin_redeems_and_voids_with_an_audit_trail(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    [gift, other] = await issue_vouchers(runtime, await gift_card(runtime), quantity=2)
    base = f"/admin/vouchers/{dashed(gift.code)}"

    shown = admin_view(await app_client.get(base, headers=ADMIN))
    assert (shown["code"], shown["status"], shown["redemptions"]) == (gift.code, "active", [])
    assert "pin" not in shown

    redeemed = admin_view(
        await app_client.post(
            f"{base}/redeem", json={"amount": 150, "reference": "desk-1"}, headers=ADMIN
        )
    )
    assert redeemed["voucher"]["remaining_amount"] == 850
    assert (redeemed["redemption"]["actor"], redeemed["redemption"]["client_id"]) == (
        "admin:env",
        None,
    )
    voided = admin_view(
        await app_client.post(f"{base}/void", json={"reason": "fraud"}, headers=ADMIN)
    )
    assert voided["voucher"]["status"] == "voided"
    assert [r["kind"] for r in voided["voucher"]["redemptions"]] == ["redeem", "void"]

    refused = await app_client.post(f"{base}/redeem", json={}, headers=ADMIN)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    missing = await app_client.get("/admin/vouchers/NOPE", headers=ADMIN)
    assert missing.status_code == 404
    assert (await app_client.post(f"/admin/vouchers/{other.code}/void")).status_code == 401
    assert (await stored(runtime, other.code)).status == "active"

    async with runtime.db.session() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.target_id == gift.id)
                .order_by(AuditEntry.created_at, AuditEntry.id)
            )
        )
    assert [(e.action, e.actor) for e in entries] == [
        ("voucher.redeem", "admin:env"),
        ("voucher.void", "admin:env"),
    ]
    assert entries[0].changes["amount"] == 150
    assert entries[1].changes["note"] == "fraud"


async def test_admin_lists_vouchers_by_client_product_and_true_status(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    client_id = f"cli_{uuid.uuid4().hex[:20]}"
    product = await create(runtime, **fixed(validity_days=1))
    live = await issue_vouchers(runtime, product, quantity=3, client_id=client_id)
    [past] = await issued_at(runtime, product, utcnow() - timedelta(days=4), client_id=client_id)
    async with runtime.db.write_session() as session:
        await redemption.void(session, code=live[0].code, actor="test")
        await session.commit()

    async def codes(**params: str) -> list[str]:
        found, cursor = [], None
        while True:
            query = {**params, "client_id": client_id, "limit": "1"}
            response = await app_client.get(
                "/admin/vouchers",
                params={**query, **({"cursor": cursor} if cursor else {})},
                headers=ADMIN,
            )
            page = admin_view(response)
            found += [v["code"] for v in page["data"]]
            cursor = page["next_cursor"]
            if not cursor:
                return found

    everything = await codes()
    assert sorted(everything) == sorted([v.code for v in live] + [past])
    assert len(set(everything)) == 4
    assert sorted(await codes(status="active")) == sorted(v.code for v in live[1:])
    assert await codes(status="expired") == [past]
    assert await codes(status="voided") == [live[0].code]
    assert await codes(status="used") == []
    assert len(await codes(product_code=product.code)) == 4

    bad_cursor = await app_client.get("/admin/vouchers", params={"cursor": "bm9wZQ"}, headers=ADMIN)
    assert bad_cursor.status_code == 400, bad_cursor.text
    bad_status = await app_client.get("/admin/vouchers", params={"status": "gone"}, headers=ADMIN)
    assert bad_status.status_code == 400
