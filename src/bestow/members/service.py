"""Members: the end users of a merchant's programme."""

from __future__ import annotations

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.audit import service as audit
from bestow.kit.actor import Actor
from bestow.kit.errors import Conflict, Invalid, NotFound
from bestow.kit.pagination import CursorPage, cursor_paginate
from bestow.members.identifiers import check_guid, normalise_email, normalise_phone
from bestow.merchants.service import get_merchant
from bestow.models import Member, MemberExternalId

STATUSES = ("active", "inactive")


async def get_member(session: AsyncSession, member_id: str) -> Member:
    member = await session.get(Member, member_id)
    if member is None:
        raise NotFound(f"member {member_id} not found")
    return member


async def create_member(
    session: AsyncSession,
    *,
    merchant_id: str,
    actor: Actor,
    email: str | None = None,
    phone: str | None = None,
    loyalty_id: str | None = None,
    account_id: str | None = None,
    first_name: str = "",
    last_name: str = "",
    status: str = "active",
    external_ids: dict[str, str] | None = None,
) -> Member:
    await get_merchant(session, merchant_id)
    if not (email or phone or loyalty_id):
        raise Invalid("a member needs at least an email, a phone or a loyalty id")
    if status not in STATUSES:
        raise Invalid("status must be active or inactive", field="status")
    member = Member(
        merchant_id=merchant_id,
        email=normalise_email(email) if email else None,
        phone=normalise_phone(phone, strict=False) if phone else None,
        loyalty_id=loyalty_id.strip() if loyalty_id else None,
        first_name=first_name,
        last_name=last_name,
        status=status,
    )
    if account_id:
        member.account_id = check_guid(account_id, field="account_id")
    taken = [
        column == value
        for column, value in (
            (Member.email, member.email),
            (Member.phone, member.phone),
            (Member.loyalty_id, member.loyalty_id),
        )
        if value
    ]
    clash = await session.scalar(
        select(Member.id).where(Member.merchant_id == merchant_id, or_(*taken))
    )
    if clash:
        raise Conflict("a member of this merchant already has that email, phone or loyalty id")
    if account_id and await session.scalar(
        select(Member.id).where(Member.account_id == member.account_id)
    ):
        raise Conflict("a member already has that account_id")
    for namespace, value in (external_ids or {}).items():
        if await session.scalar(
            select(MemberExternalId.member_id).where(
                MemberExternalId.merchant_id == merchant_id,
                MemberExternalId.namespace == namespace,
                MemberExternalId.value == value,
            )
        ):
            raise Conflict(f"a member of this merchant already has that {namespace} id")
    try:
        session.add(member)
        await session.flush()
        for namespace, value in (external_ids or {}).items():
            session.add(
                MemberExternalId(
                    member_id=member.id, merchant_id=merchant_id, namespace=namespace, value=value
                )
            )
        await session.flush()
    except IntegrityError:
        # A concurrent request took one of the identifiers between the checks and the insert.
        raise Conflict("a member with one of these identifiers already exists") from None
    # Identifiers are personal data: the audit trail names the member, never its email or phone.
    audit.record(
        session,
        actor=actor,
        action="member.created",
        target_type="member",
        target_id=member.id,
        changes={"merchant_id": merchant_id, "status": status},
    )
    return member


async def set_status(session: AsyncSession, *, member_id: str, status: str, actor: Actor) -> Member:
    if status not in STATUSES:
        raise Invalid("status must be active or inactive", field="status")
    member = await get_member(session, member_id)
    previous = member.status
    member.status = status
    audit.record(
        session,
        actor=actor,
        action="member.status_changed",
        target_type="member",
        target_id=member.id,
        changes={"from": previous, "to": status},
    )
    return member


def list_query(*, merchant_id: str | None = None, status: str | None = None) -> Select[Member]:
    stmt = select(Member)
    if merchant_id:
        stmt = stmt.where(Member.merchant_id == merchant_id)
    if status:
        stmt = stmt.where(Member.status == status)
    return stmt


async def list_members(
    session: AsyncSession,
    *,
    merchant_id: str,
    status: str | None = None,
    cursor: str | None,
    limit: int,
) -> CursorPage[Member]:
    """A merchant's members, oldest first (an unknown merchant is ``NotFound``)."""
    await get_merchant(session, merchant_id)
    stmt = list_query(merchant_id=merchant_id, status=status)
    return await cursor_paginate(session, stmt, Member.id, cursor=cursor, limit=limit)
