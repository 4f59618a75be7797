"""Search Loyalty Account (``GET /client/partners/:partner_id/accounts/links``): up to 25 loyalty
ids, emails or partner link ids, each answered with the account it names and whether the partner
may link it.

In Bestow the partner is the calling client: ``partner_id`` is its own client id (another is not
found), its programmes are the merchants granted to it, and its partner link ids are its members'
external ids in the namespace ``partner.<client id>`` (``link_namespace``: importable with the
member file's ``external:partner.<client id>`` column). An identifier that names no member of
those programmes, or several (in two programmes), names no account, as when opening a session.

Statuses: an ``active`` member is ``ACTIVE`` / ``CAN_LINK``; an ``inactive`` one exists but may
not be linked, ``INVALID`` / ``GHOST``; no account is ``INVALID`` / ``INVALID``. The balance is
given, on request, for ``ACTIVE`` accounts only.

One query per search (whatever the number of identifiers), one more for the balances.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.kit.errors import Invalid, NotFound
from bestow.members.identifiers import normalise_email
from bestow.models import ClientMerchant, Member, MemberExternalId, PointsBalance

MAX_IDENTIFIERS = 25
IDENTIFIER_TYPES = ("LOYALTY_ID", "EMAIL", "PARTNER_LINK_ID")
ACCOUNT_STATUSES = ("ACTIVE", "INVALID")
LINK_STATUSES = ("CAN_LINK", "GHOST", "INVALID")

PARTNER_NOT_FOUND = "Could not find the partner"
IDENTIFIERS_REQUIRED = "identifiers is mandatory and required to be non-empty"
TOO_MANY = f"identifiers accepts at most {MAX_IDENTIFIERS} values"
TYPE_INVALID = "X-Identifier-Type must be one of " + ", ".join(IDENTIFIER_TYPES)
STATUS_INVALID = "{field} must be one or more of {allowed}, comma separated"
FLAG_INVALID = "{field} must be true or false"


def link_namespace(partner_id: str) -> str:
    """The ``MemberExternalId.namespace`` of the partner's link ids."""
    return f"partner.{partner_id}"


@dataclass(frozen=True)
class SearchRequest:
    identifier_type: str
    identifiers: list[str]
    account_statuses: frozenset[str] | None
    link_statuses: frozenset[str] | None
    include_balance: bool


@dataclass(frozen=True)
class SearchResult:
    request_parameter: str
    member: Member | None
    balance: int | None

    @property
    def account_status(self) -> str:
        return "ACTIVE" if self.member is not None and self.member.status == "active" else "INVALID"

    @property
    def link_status(self) -> str:
        if self.member is None:
            return "INVALID"
        return "CAN_LINK" if self.member.status == "active" else "GHOST"


def _statuses(raw: str | None, allowed: tuple[str, ...], field: str) -> frozenset[str] | None:
    if raw is None or not raw.strip():
        return None
    values = {part.strip().upper() for part in raw.split(",") if part.strip()}
    if not values <= set(allowed):
        raise Invalid(STATUS_INVALID.format(field=field, allowed=", ".join(allowed)), field=field)
    return frozenset(values)


def _flag(raw: str | None, field: str) -> bool:
    if raw is None or not raw.strip():
        return False
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise Invalid(FLAG_INVALID.format(field=field), field=field)
    return value == "true"


def parse_request(
    *,
    identifier_type: str | None,
    identifiers: str | None,
    account_status: str | None,
    link_status: str | None,
    include_balance: str | None,
) -> SearchRequest:
    """The search's parameters, or ``Invalid`` naming the first bad one. Identifiers are comma
    separated; blanks are skipped and repeats answered once, in the order first asked."""
    kind = (identifier_type or "").strip().upper() or "LOYALTY_ID"
    if kind not in IDENTIFIER_TYPES:
        raise Invalid(TYPE_INVALID, field="X-Identifier-Type")
    parts = [part.strip() for part in (identifiers or "").split(",") if part.strip()]
    if not parts:
        raise Invalid(IDENTIFIERS_REQUIRED, field="identifiers")
    if len(parts) > MAX_IDENTIFIERS:
        raise Invalid(TOO_MANY, field="identifiers")
    return SearchRequest(
        identifier_type=kind,
        identifiers=list(dict.fromkeys(parts)),
        account_statuses=_statuses(account_status, ACCOUNT_STATUSES, "accountStatus"),
        link_statuses=_statuses(link_status, LINK_STATUSES, "linkStatus"),
        include_balance=_flag(include_balance, "includeBalance"),
    )


def _email_key(identifier: str) -> str | None:
    try:
        return normalise_email(identifier)
    except Invalid:
        return None


def _keys(identifier_type: str, identifiers: Iterable[str]) -> dict[str, str]:
    """Each identifier's stored form (what the column holds); unusable ones are left out."""
    keys: dict[str, str] = {}
    for identifier in identifiers:
        key = _email_key(identifier) if identifier_type == "EMAIL" else identifier
        if key is not None:
            keys[identifier] = key
    return keys


async def _members(
    session: AsyncSession, *, client_id: str, identifier_type: str, keys: set[str]
) -> dict[str, list[Member]]:
    """The members of the client's programmes each key names."""
    granted = select(ClientMerchant.merchant_id).where(ClientMerchant.client_id == client_id)
    if identifier_type == "PARTNER_LINK_ID":
        rows = await session.execute(
            select(MemberExternalId.value, Member)
            .join(Member, Member.id == MemberExternalId.member_id)
            .where(
                MemberExternalId.namespace == link_namespace(client_id),
                MemberExternalId.value.in_(keys),
                MemberExternalId.merchant_id.in_(granted),
            )
        )
        pairs = [(key, member) for key, member in rows]
    else:
        column = Member.email if identifier_type == "EMAIL" else Member.loyalty_id
        found_rows = await session.execute(
            select(column, Member).where(column.in_(keys), Member.merchant_id.in_(granted))
        )
        pairs = [(key, member) for key, member in found_rows if key is not None]
    found: dict[str, list[Member]] = {}
    for key, member in pairs:
        found.setdefault(key, []).append(member)
    return found


async def _balances(session: AsyncSession, member_ids: list[str]) -> dict[str, int]:
    if not member_ids:
        return {}
    rows = await session.execute(
        select(PointsBalance.member_id, PointsBalance.balance).where(
            PointsBalance.member_id.in_(member_ids)
        )
    )
    return {member_id: balance for member_id, balance in rows}


async def search(
    session: AsyncSession, *, client_id: str, partner_id: str, request: SearchRequest
) -> list[SearchResult]:
    """One result per identifier, in the order asked, then the status filters. ``NotFound``
    when ``partner_id`` is not the client's own id."""
    if partner_id != client_id:
        raise NotFound(PARTNER_NOT_FOUND)
    keys = _keys(request.identifier_type, request.identifiers)
    found = (
        await _members(
            session,
            client_id=client_id,
            identifier_type=request.identifier_type,
            keys=set(keys.values()),
        )
        if keys
        else {}
    )
    named: list[tuple[str, Member | None]] = []
    for identifier in request.identifiers:
        members = found.get(keys[identifier], []) if identifier in keys else []
        named.append((identifier, members[0] if len(members) == 1 else None))
    balances: dict[str, int] = {}
    if request.include_balance:
        active = [m.id for _, m in named if m is not None and m.status == "active"]
        balances = await _balances(session, active)
    results = []
    for identifier, member in named:
        balance = None
        if request.include_balance and member is not None and member.status == "active":
            balance = balances.get(member.id, 0)
        result = SearchResult(identifier, member, balance)
        if request.account_statuses is not None and (
            result.account_status not in request.account_statuses
        ):
            continue
        if request.link_statuses is not None and result.link_status not in request.link_statuses:
            continue
        results.append(result)
    return results
