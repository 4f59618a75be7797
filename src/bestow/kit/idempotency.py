"""Idempotency records: one mechanism for every surface.

A key is scoped to a client. The first request with a key takes an in-flight lock in a transaction
of its own (so that duplicates see it at once), then does its work; the stored response is written
in the same transaction as that work, guarded by the lock's owner token, so the work and the record
of it commit together or not at all. A duplicate meanwhile gets ``IdempotencyInFlight``; once
complete, every repeat gets the original response byte for byte; the same key with another
request gets ``IdempotencyMismatch``. A lock whose holder died expires and may be taken over; the
owner token then keeps the slow original from also committing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.config import Settings
from bestow.kit.db import Database, WriteSession, dialect_of, insert_ignore, utcnow
from bestow.kit.errors import IdempotencyInFlight, IdempotencyMismatch
from bestow.kit.ids import new_id
from bestow.models import IdempotencyRecord

STORED_HEADERS = ("content-type", "location")


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Claim:
    record_id: str
    owner: str


def fingerprint(method: str, route: str, body: bytes) -> str:
    """Hash of the request; JSON bodies are canonicalised, so spacing and key order don't count."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body else b""
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        canonical = body
    return hashlib.sha256(method.encode() + b" " + route.encode() + b"\n" + canonical).hexdigest()


def is_storable(status_code: int) -> bool:
    """Responses worth replaying: outcomes, not transient refusals or server faults."""
    return status_code < 500 and status_code not in (408, 409, 425, 429)


class IdempotencyStore:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.ttl = timedelta(seconds=settings.idempotency_ttl_seconds)
        self.lock = timedelta(seconds=settings.idempotency_lock_seconds)

    async def begin(
        self, *, client_id: str, key: str, route: str, fingerprint: str
    ) -> Claim | StoredResponse:
        # A record seen as conflicting may be gone by the time it is read (a failed holder
        # released it, or housekeeping purged it): then try again from the insert.
        for _ in range(3):
            outcome = await self._begin_once(
                client_id=client_id, key=key, route=route, fingerprint=fingerprint
            )
            if outcome is not None:
                return outcome
        raise IdempotencyInFlight(
            "A request with this idempotency key is still being processed; retry later"
        )

    async def _begin_once(
        self, *, client_id: str, key: str, route: str, fingerprint: str
    ) -> Claim | StoredResponse | None:
        owner = new_id("own")
        async with self.db.write_session() as session:
            now = utcnow()
            table = IdempotencyRecord.__table__
            stmt = insert_ignore(dialect_of(session), table).values(
                id=new_id("idm"),
                client_id=client_id,
                key=key,
                route=route,
                fingerprint=fingerprint,
                state="in_flight",
                owner=owner,
                locked_until=now + self.lock,
                created_at=now,
                expires_at=now + self.ttl,
            )
            inserted = (await session.execute(stmt)).rowcount == 1  # type: ignore[attr-defined]
            record = await session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key
                )
            )
            if record is None:
                return None
            if inserted:
                await session.commit()
                return Claim(record.id, owner)
            locked = (
                record.state == "in_flight"
                and record.locked_until is not None
                and record.locked_until > now
            )
            # An expired record counts as new, unless its holder is still at work.
            expired = record.expires_at <= now
            if expired and not locked:
                return await self._take_over(session, record, route, fingerprint, owner, reset=True)
            if not expired and (record.fingerprint != fingerprint or record.route != route):
                raise IdempotencyMismatch(
                    "This idempotency key was already used with a different request"
                )
            if record.state == "complete":
                return StoredResponse(
                    status_code=record.status_code or 200,
                    headers=dict(record.response_headers or {}),
                    body=record.response_body or b"",
                )
            if locked:
                raise IdempotencyInFlight(
                    "A request with this idempotency key is still being processed; retry later"
                )
            return await self._take_over(session, record, route, fingerprint, owner, reset=False)

    async def _take_over(
        self,
        session: AsyncSession,
        record: IdempotencyRecord,
        route: str,
        fingerprint: str,
        owner: str,
        *,
        reset: bool,
    ) -> Claim:
        """Claim a stale record, unless a concurrent caller claimed it first.

        Every claim writes a new owner, so matching the owner that was read makes the update a
        compare-and-set: of concurrent callers that all saw the record stale, one wins.
        """
        now = utcnow()
        values: dict[str, Any] = {"owner": owner, "locked_until": now + self.lock}
        if reset:
            values |= {
                "route": route,
                "fingerprint": fingerprint,
                "state": "in_flight",
                "status_code": None,
                "response_headers": None,
                "response_body": None,
                "created_at": now,
                "expires_at": now + self.ttl,
            }
        result = await session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.id == record.id,
                IdempotencyRecord.owner.is_not_distinct_from(record.owner),
            )
            .values(**values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise IdempotencyInFlight(
                "A request with this idempotency key is still being processed; retry later"
            )
        await session.commit()
        return Claim(record.id, owner)

    @staticmethod
    async def complete(session: AsyncSession, claim: Claim, response: StoredResponse) -> None:
        """Store the response (its ``STORED_HEADERS`` only) in the caller's transaction; refuse
        if the lock was taken over."""
        result = await session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.id == claim.record_id,
                IdempotencyRecord.owner == claim.owner,
                IdempotencyRecord.state == "in_flight",
            )
            .values(
                state="complete",
                status_code=response.status_code,
                response_headers={
                    name.lower(): value
                    for name, value in response.headers.items()
                    if name.lower() in STORED_HEADERS
                },
                response_body=response.body,
                locked_until=None,
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise IdempotencyInFlight(
                "A request with this idempotency key was taken over by a retry; retry later"
            )

    async def release(self, claim: Claim) -> None:
        """Drop an in-flight lock whose work failed, so that a retry may run it."""
        async with self.db.write_session() as session:
            await session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.id == claim.record_id,
                    IdempotencyRecord.owner == claim.owner,
                    IdempotencyRecord.state == "in_flight",
                )
            )
            await session.commit()

    async def run(
        self,
        *,
        client_id: str,
        key: str,
        route: str,
        fingerprint: str,
        work: Callable[[WriteSession], Awaitable[StoredResponse]],
    ) -> tuple[StoredResponse, bool]:
        """Run ``work`` once for this key. Returns the response and whether it is a replay.

        ``work`` gets a write session and must not commit: the record and the work commit together.
        A response not worth storing (a server fault, a transient refusal) is returned but its
        work is rolled back and the key released, so that a retry runs it again.
        """
        outcome = await self.begin(
            client_id=client_id, key=key, route=route, fingerprint=fingerprint
        )
        if isinstance(outcome, StoredResponse):
            return outcome, True
        try:
            async with self.db.write_session() as session:
                response = await work(session)
                storable = is_storable(response.status_code)
                if storable:
                    await self.complete(session, outcome, response)
                    await session.commit()
        except BaseException:
            await self.release(outcome)
            raise
        if not storable:
            await self.release(outcome)
        return response, False
