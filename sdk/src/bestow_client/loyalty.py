"""The Loyalty API (ES Loyalty-compatible, ``/client``, OAuth 2.0 client credentials).

What an integration must do is done here by construction: a token reused until shortly before it
expires (and renewed once on a 401); a session opened for the member before an award (its
``correlationId`` generated when not given); every ad hoc reward carrying an
``externalReferenceId``, generated once and sent again on every retry, so that a retried award
returns the first transaction instead of crediting twice.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from bestow_client._core import AsyncDriver, Call, Op, SyncDriver
from bestow_client._shared import OAuthTokens, authed, new_key

IDENTIFIER_TYPES = frozenset({"ACCOUNT_ID", "LOYALTY_ID", "EMAIL", "PHONE_NUMBER", "EXTERNAL_ID"})
HISTORY_PAGE = 150
"""The most transactions one history page holds."""
DEFAULT_ISSUER = "bestow-client"
_MESSAGE = re.compile(r"of (\d+) points (awarded|deducted)")


@dataclass(frozen=True)
class LoyaltySession:
    account_id: str
    loyalty_id: str | None
    status: str
    """``ACTIVE`` or ``INACTIVE`` (ad hoc rewards need ``ACTIVE``)."""
    points_balance: int
    available_point_balance: int
    correlation_id: str
    channel: str
    identifier_type: str
    expires_at: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> LoyaltySession:
        return cls(
            raw["accountId"],
            raw.get("loyaltyId"),
            raw["status"],
            raw["pointsBalance"],
            raw.get("availablePointBalance", raw["pointsBalance"]),
            raw["correlationId"],
            raw["channel"],
            raw["identifierType"],
            raw.get("expiresAt", ""),
            raw,
        )


@dataclass(frozen=True)
class PointsAward:
    """An ad hoc award (positive ``points``) or deduction (negative). ``points`` is what the
    transaction moved as the server reports it: for a repeated ``external_reference_id``, the
    first transaction's, whatever was asked the second time. ``balance`` is given only when the
    server's answer carries one (Bestow's does not: read ``history`` or open a session)."""

    transaction_id: str
    points: int
    balance: int | None
    message: str
    correlation_id: str
    external_reference_id: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(
        cls, raw: dict[str, Any], *, amount: int, correlation_id: str, external_reference_id: str
    ) -> PointsAward:
        message = str(raw.get("message", ""))
        points = amount
        said = _MESSAGE.search(message)
        if said is not None:
            points = int(said.group(1)) * (1 if said.group(2) == "awarded" else -1)
        balance = raw.get("balance", raw.get("pointsBalance"))
        return cls(
            raw["transactionId"],
            points,
            balance if isinstance(balance, int) else None,
            message,
            correlation_id,
            external_reference_id,
            raw,
        )


@dataclass(frozen=True)
class HistoryEntry:
    transaction_id: str
    type: str
    """``AD_HOC_REWARD``, ``CAMPAIGN_REWARD`` or ``CAMPAIGN_REVERSAL``."""
    date: str
    points: int
    balance_after: int
    reward_id: str
    issuer_id: str
    business_unit: str | None
    channel: str | None
    external_reference_id: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> HistoryEntry:
        return cls(
            raw["transactionId"],
            raw["transactionType"],
            raw["transactionDate"],
            raw["points"],
            raw["balanceAfter"],
            raw["rewardId"],
            raw["issuerId"],
            raw.get("businessUnit"),
            raw.get("channel"),
            raw.get("externalReferenceId"),
            raw,
        )


def _epoch_ms(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("history bounds must be timezone-aware")
    return str(int(moment.timestamp() * 1000))


def _segment(value: str) -> str:
    return quote(value, safe="")


class LoyaltyOps:
    """The Loyalty API's operations (generators run by a driver; see ``_core``)."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_id = client_id
        self.tokens = OAuthTokens(client_id, client_secret, scope=scope, clock=clock)
        self.headers = {"Accept": "application/json"}

    def session(
        self,
        account_id: str,
        *,
        identifier_type: str = "ACCOUNT_ID",
        correlation_id: str | None = None,
        channel: str = "APP",
    ) -> Op[LoyaltySession]:
        """Open (or renew) a session for the member ``account_id`` names (``identifier_type``:
        ``ACCOUNT_ID``, ``LOYALTY_ID``, ``EMAIL``, ``PHONE_NUMBER`` or ``EXTERNAL_ID``), under
        ``correlation_id`` (a new UUID when not given). Safe to retry: reusing a correlation id
        renews its session. An unknown member is ``BadRequestError`` ("Could not find the
        account")."""
        if identifier_type not in IDENTIFIER_TYPES:
            raise ValueError(
                f"identifier_type must be one of {', '.join(sorted(IDENTIFIER_TYPES))}"
            )
        body = {"correlationId": correlation_id or new_key(), "channel": channel}
        headers = {**self.headers, "X-Identifier-Type": identifier_type}
        call = Call(
            "POST", f"/client/users/{_segment(account_id)}/sessions", json=body, headers=headers
        )
        response = yield from authed(self.tokens, call)
        return LoyaltySession.of(response.json())

    def award(
        self,
        *,
        account_id: str,
        business_unit: str,
        reward_id: str,
        amount: int,
        issuer_id: str = DEFAULT_ISSUER,
        channel: str = "APP",
        identifier_type: str = "ACCOUNT_ID",
        external_reference_id: str | None = None,
        correlation_id: str | None = None,
    ) -> Op[PointsAward]:
        """Award ``amount`` points (deduct, when negative) to a member: opens a session (under
        ``correlation_id``, new when not given), then ``POST .../adhoc-reward/``. The
        ``externalReferenceId`` (``external_reference_id``, or a new UUID) is the same on every
        retry, and the server credits a reference once per member and reward: a repeated call
        with the same reference returns the first transaction and moves nothing."""
        if type(amount) is not int or amount == 0:
            raise ValueError(f"amount must be a non-zero integer, not {amount!r}")
        reference = external_reference_id or new_key()
        opened = yield from self.session(
            account_id,
            identifier_type=identifier_type,
            correlation_id=correlation_id,
            channel=channel,
        )
        body = {
            "issuerId": issuer_id,
            "rewardId": reward_id,
            "rewardAmount": amount,
            "businessUnit": business_unit,
            "channel": channel,
            "externalReferenceId": reference,
        }
        call = Call(
            "POST",
            f"/client/users/{_segment(opened.correlation_id)}/adhoc-reward/",
            json=body,
            headers=self.headers,
            safe=True,
        )
        response = yield from authed(self.tokens, call)
        return PointsAward.of(
            response.json(),
            amount=amount,
            correlation_id=opened.correlation_id,
            external_reference_id=reference,
        )

    def history(
        self,
        correlation_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> Op[list[HistoryEntry]]:
        """The session member's points transactions, newest first, every page (or the first
        ``limit``), made between ``since`` and ``until`` (the server's default: the last year)."""
        params: dict[str, Any] = {}
        if since is not None:
            params["from"] = _epoch_ms(since)
        if until is not None:
            params["to"] = _epoch_ms(until)
        path = f"/client/users/{_segment(correlation_id)}/transactions/history/v2"
        found: list[HistoryEntry] = []
        cursor: str | None = None
        while limit is None or len(found) < limit:
            page_size = HISTORY_PAGE if limit is None else min(HISTORY_PAGE, limit - len(found))
            query = {**params, "limit": page_size}
            if cursor is not None:
                query["transactionId"] = cursor
            call = Call("GET", path, params=query, headers=self.headers)
            response = yield from authed(self.tokens, call)
            body = response.json()
            found += [HistoryEntry.of(t) for t in body["transactions"]]
            cursor = body.get("nextTransactionId")
            if cursor is None:
                break
        return found


class Loyalty:
    """The Loyalty API on a sync client (``Bestow(...).loyalty(...)``)."""

    def __init__(self, ops: LoyaltyOps, driver: SyncDriver) -> None:
        self.ops, self._run = ops, driver.run

    def session(self, account_id: str, **options: Any) -> LoyaltySession:
        return self._run(self.ops.session(account_id, **options))

    def award(self, **fields: Any) -> PointsAward:
        return self._run(self.ops.award(**fields))

    def history(self, correlation_id: str, **options: Any) -> list[HistoryEntry]:
        return self._run(self.ops.history(correlation_id, **options))


class AsyncLoyalty:
    """The Loyalty API on an async client (``AsyncBestow(...).loyalty(...)``)."""

    def __init__(self, ops: LoyaltyOps, driver: AsyncDriver) -> None:
        self.ops, self._run = ops, driver.run

    async def session(self, account_id: str, **options: Any) -> LoyaltySession:
        return await self._run(self.ops.session(account_id, **options))

    async def award(self, **fields: Any) -> PointsAward:
        return await self._run(self.ops.award(**fields))

    async def history(self, correlation_id: str, **options: Any) -> list[HistoryEntry]:
        return await self._run(self.ops.history(correlation_id, **options))
