"""Secrets at rest: after credentials of every kind are issued (directly and through the Admin
API, rotated too), used, and OAuth access tokens issued, no text, JSON or binary column of any
table holds a plaintext secret or an access token. Operator keys and webhook secrets are stored
sealed, by design (the server must read them back): their plaintext must not appear either."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import select

from bestow.admins.tokens import create_token
from bestow.kit.db import Base
from bestow.models import Voucher
from tests.conftest import ACTOR
from tests.operator.helpers import call
from tests.security.world import ADMIN, World


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


async def _issue_everything(world: World) -> dict[str, str]:
    http = world.http
    secrets = {
        "partner_token_a": world.partner_a.token,
        "partner_token_b": world.partner_b.token,
        "oauth_secret_a": world.voucher_a[1],
        "oauth_secret_b": world.voucher_b[1],
        "access_token_a": world.voucher_a[2]["Authorization"].removeprefix("Bearer "),
        "access_token_b": world.voucher_b[2]["Authorization"].removeprefix("Bearer "),
        "loyalty_access_token": world.loyalty_a.headers["Authorization"].removeprefix("Bearer "),
        "operator_primary": world.operator_a.primary,
        "operator_secondary": world.operator_a.secondary,
        **world.secrets,
    }
    base = f"/admin/clients/{world.partner_a.client_id}/credentials"
    for kind in ("partner_token", "oauth_secret", "operator_key"):
        if kind == "operator_key":
            base = f"/admin/clients/{world.operator_a.client_id}/credentials"
        issued = await http.post(base, json={"kind": kind}, headers=ADMIN)
        assert issued.status_code == 201, issued.text
        secrets[f"admin_{kind}"] = issued.json()["secret"]
        rotated = await http.post(
            f"{base}/{issued.json()['id']}/rotate", json={"grace_seconds": 60}, headers=ADMIN
        )
        assert rotated.status_code in (200, 201), rotated.text
        secrets[f"rotated_{kind}"] = rotated.json()["secret"]
    rotated_hook = await http.post(
        f"/admin/webhook_endpoints/{world.objects['admin.endpoint_id']}/rotate_secret",
        headers=ADMIN,
    )
    assert rotated_hook.status_code in (200, 201), rotated_hook.text
    secrets["rotated_webhook_secret"] = rotated_hook.json()["secret"]
    async with world.runtime.db.write_session() as session:
        _, admin_token = await create_token(session, name="security", actor=ACTOR)
        await session.commit()
    secrets["admin_token"] = admin_token

    # Use them, so that whatever authentication records (caches, last use) is written.
    used = await http.get("/admin/reward_kinds", headers={"Authorization": f"Bearer {admin_token}"})
    assert used.status_code == 200, used.text
    used = await http.get("/partner/merchants", headers=world.partner_a.headers())
    assert used.status_code == 200, used.text
    used = await http.get("/v3/products", headers=world.voucher_a[2])
    assert used.status_code == 200, used.text
    used = await call(http, world.operator_a, "GET", "/v1/campaigns")
    assert used.status_code == 200, used.text
    for secret in secrets.values():
        assert len(secret) >= 16
    return secrets


async def test_no_secret_is_stored_in_plaintext(world: World) -> None:
    secrets = await _issue_everything(world)
    # The scan finds what is there: the voucher code is stored in plaintext by design.
    secrets["control"] = world.objects["vouchers.voucher_code"]
    found: list[str] = []
    scanned = 0
    async with world.runtime.db.session() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()
            for row in rows:
                for column, value in zip(table.columns, row, strict=True):
                    text = _text(value)
                    if not text:
                        continue
                    scanned += 1
                    for kind, secret in secrets.items():
                        if secret in text:
                            found.append(f"{kind} in {table.name}.{column.name}")
    assert scanned > 100
    assert "control in vouchers.code" in found
    found = [f for f in found if not f.startswith("control in ")]
    assert not found, found


def test_every_model_is_scanned() -> None:
    import bestow.models  # noqa: F401 - registers every table

    assert len(Base.metadata.sorted_tables) >= 25


async def test_voucher_pins_are_stored_sealed_and_still_shown_and_accepted(world: World) -> None:
    """A PIN is too short for the scan above (six digits are everywhere): its voucher's row is
    checked instead, and the PIN the API shows still opens the short link."""
    product = world.objects["vouchers.product_code"]
    issued = await world.http.post(
        f"/v3/products/{product}",
        json={"quantity": 1},
        headers={**world.voucher_a[2], "Idempotency-Key": str(uuid.uuid4())},
    )
    assert issued.status_code == 200, issued.text
    [shown] = issued.json()["vouchers"]
    pin = shown["short_url_pin"]
    assert pin.isdigit() and len(pin) == 6
    async with world.runtime.db.session() as session:
        row = (
            await session.execute(
                select(Voucher.__table__).where(Voucher.id == shown["voucher_id"])
            )
        ).one()
    assert not [
        c.name for c, v in zip(Voucher.__table__.columns, row, strict=True) if pin in _text(v)
    ]
    assert world.runtime.sealer.unseal(row.sealed_pin) == pin
    retrieved = await world.http.get(
        f"/v3/vouchers/{shown['voucher_id']}", headers=world.voucher_a[2]
    )
    assert retrieved.json()["short_url_pin"] == pin
    short = shown["short_url"].rsplit("/s/", 1)[1]
    opened = await world.http.post(f"/s/{short}", data={"pin": pin})
    assert opened.status_code == 200 and shown["voucher_code"] in opened.text
