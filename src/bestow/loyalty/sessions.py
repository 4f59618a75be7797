"""Loyalty API sessions: ``POST /client/users/:identifier/sessions`` finds the member by one of
their identifiers and opens (or renews) a session under the client's ``correlationId``; later
calls name the session in their path. A session unused for ``BESTOW_LOYALTY_SESSION_IDLE_SECONDS``
is over: its correlation id then finds no account.

Members are looked up among the merchants (loyalty programmes) granted to the client only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.db import WriteSession, dialect_insert, dialect_of, utcnow
from bestow.kit.errors import Invalid
from bestow.kit.ids import new_id
from bestow.members.identifiers import normalise_email, normalise_phone
from bestow.models import ClientMerchant, LoyaltySession, Member, MemberExternalId

IDENTIFIER_TYPES = ("ACCOUNT_ID", "LOYALTY_ID", "EMAIL", "PHONE_NUMBER", "EXTERNAL_ID")
IDENTIFIER_TYPE_INVALID = "X-Identifier-Type must be one of " + ", ".join(IDENTIFIER_TYPES)
TOUCH_EVERY = timedelta(seconds=30)
"""How stale ``last_seen_at`` may get before a use of the session writes it again."""


class UnknownIdentifierType(Invalid):
    """An ``X-Identifier-Type`` that is none of ``IDENTIFIER_TYPES``."""

    def __init__(self, identifier_type: str) -> None:
        super().__init__(IDENTIFIER_TYPE_INVALID, field="X-Identifier-Type")
        self.identifier_type = identifier_type


def check_identifier_type(identifier_type: str) -> None:
    if identifier_type not in IDENTIFIER_TYPES:
        raise UnknownIdentifierType(identifier_type)


def _match(identifier_type: str, identifier: str) -> ColumnElement[bool]:
    """The condition on ``Member`` for an identifier of that type (an unusable value matches
    nothing: it is an unknown account, not a bad request)."""
    if identifier_type == "ACCOUNT_ID":
        return Member.account_id == identifier.lower()
    if identifier_type == "LOYALTY_ID":
        return Member.loyalty_id == identifier
    if identifier_type == "EMAIL":
        try:
            return Member.email == normalise_email(identifier)
        except Invalid:
            return Member.id.is_(None)
    if identifier_type == "PHONE_NUMBER":
        try:
            return Member.phone == normalise_phone(identifier)
        except Invalid:
            return Member.id.is_(None)
    if identifier_type == "EXTERNAL_ID":
        return Member.id.in_(
            select(MemberExternalId.member_id).where(MemberExternalId.value == identifier)
        )
    raise UnknownIdentifierType(identifier_type)


async def find_member(
    session: AsyncSession, *, client_id: str, identifier_type: str, identifier: str
) -> Member | None:
    """The member of a programme granted to the client; None when there is none (or several:
    an identifier that names two accounts names none)."""
    granted = select(ClientMerchant.merchant_id).where(ClientMerchant.client_id == client_id)
    rows = await session.scalars(
        select(Member)
        .where(_match(identifier_type, identifier), Member.merchant_id.in_(granted))
        .limit(2)
    )
    found = list(rows)
    return found[0] if len(found) == 1 else None


async def open_session(
    session: WriteSession,
    *,
    client_id: str,
    member: Member,
    correlation_id: str,
    identifier_type: str,
    channel: str,
    external_agent_session_id: str | None,
    idle: timedelta,
) -> LoyaltySession:
    """Open the session, or renew it if the client reuses the correlation id (it then names
    this member from now on). The caller commits."""
    now = utcnow()
    values = {
        "member_id": member.id,
        "identifier_type": identifier_type,
        "channel": channel,
        "external_agent_session_id": external_agent_session_id,
        "last_seen_at": now,
        "expires_at": now + idle,
    }
    stmt = dialect_insert(dialect_of(session), LoyaltySession.__table__).values(
        id=new_id("lss"),
        client_id=client_id,
        correlation_id=correlation_id,
        created_at=now,
        **values,
    )
    await session.execute(
        stmt.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=["client_id", "correlation_id"], set_=values
        )
    )
    opened = await session.scalar(
        select(LoyaltySession)
        .where(
            LoyaltySession.client_id == client_id, LoyaltySession.correlation_id == correlation_id
        )
        .execution_options(populate_existing=True)
    )
    assert opened is not None
    return opened


async def session_member(
    session: WriteSession, *, client_id: str, correlation_id: str, idle: timedelta
) -> Member | None:
    """The member of a live session, keeping it alive; None when unknown or expired."""
    now = utcnow()
    row = (
        await session.execute(
            select(LoyaltySession, Member)
            .join(Member, Member.id == LoyaltySession.member_id)
            .where(
                LoyaltySession.client_id == client_id,
                LoyaltySession.correlation_id == correlation_id,
            )
        )
    ).first()
    if row is None:
        return None
    live, member = row
    if live.expires_at <= now:
        return None
    await keep_alive(session, live.id, live.last_seen_at, now, idle)
    return member


async def keep_alive(
    session: WriteSession, session_id: str, last_seen: datetime, now: datetime, idle: timedelta
) -> None:
    """Push a used session's expiry back; written at most every ``TOUCH_EVERY``."""
    if now - last_seen >= TOUCH_EVERY:
        await session.execute(
            update(LoyaltySession)
            .where(LoyaltySession.id == session_id)
            .values(last_seen_at=now, expires_at=now + idle)
        )


def expired_before(now: datetime) -> ColumnElement[bool]:
    return LoyaltySession.expires_at <= now
