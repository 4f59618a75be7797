"""The Operator API (Gamnify-compatible, ``/v1``): campaigns, free-bet rewards, enrollments
(single and bulk) and the bets a game server uses.

Every request is signed as the API documents: ``X-AUTH-OPERATOR-ID`` and ``X-AUTH-REQUEST-HASH``,
the lowercase hex SHA-256 of ``shared key + relative URL + raw body``. So that the hash covers
exactly what is sent, the body is serialised once to bytes (compact JSON) and sent as is, and the
query string is built here and sent as part of the path (never re-encoded by httpx).

Retries follow what the API makes safe to repeat: enrolling a player answers their enrollment
again, a bet is idempotent by its ``betId``, a repeated bulk enrols nobody twice; creating a
campaign or a reward has no idempotency and is not repeated after a timeout. More than 10,000
players are split into several bulks; ``wait_bulk()`` polls no faster than once a second, with
backoff; lists are fetched page by page (1,000 a page) until the last.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from bestow_client._core import AsyncDriver, Call, Op, Sleep, SyncDriver
from bestow_client._errors import WaitTimeout

MAX_BULK_PLAYERS = 10_000
PAGE_SIZE = 1000
BULK_FINAL_STATES = frozenset({"Completed", "Failed"})
POLL_FIRST = 1.0
POLL_MAX = 10.0
POLL_FACTOR = 1.5

Money = Decimal | float | int | str
"""A bet value: kept exact when given as ``Decimal`` or ``str`` (sent as a numeric string)."""


@dataclass(frozen=True)
class OperatorCampaign:
    id: str
    operator_id: int
    name: str
    status: str
    start_time: str
    end_time: str | None
    description: str | None
    operator_reference: str | None
    created_by: str
    cancelled_by: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> OperatorCampaign:
        return cls(
            raw["id"],
            raw["operatorId"],
            raw["name"],
            raw["status"],
            raw["startTimeUtc"],
            raw.get("endTimeUtc"),
            raw.get("description"),
            raw.get("operatorReference"),
            raw["createdBy"],
            raw.get("cancelledBy"),
            raw,
        )


@dataclass(frozen=True)
class OperatorReward:
    id: str
    campaign_id: str
    name: str
    status: str
    products: list[str]
    start_time: str
    end_time: str
    details_type: str
    currency: str
    bet_value: float | None
    """The bet value of a ``Fixed`` reward (``None`` for ``Ranged``: see ``raw``)."""
    bet_count: int | None
    operator_reference: str | None
    cancelled_by: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> OperatorReward:
        details = raw.get("freeBetDetails") or {}
        return cls(
            raw["id"],
            raw["campaignId"],
            raw["name"],
            raw["status"],
            list(raw.get("products") or []),
            raw["startTimeUtc"],
            raw["endTimeUtc"],
            details.get("freeBetDetailsType", ""),
            details.get("currencyIsoCode", ""),
            details.get("betValue"),
            details.get("betCount"),
            raw.get("operatorReference"),
            raw.get("cancelledBy"),
            raw,
        )


@dataclass(frozen=True)
class Enrollment:
    id: str
    reward_id: str
    campaign_id: str | None
    player_id: str
    status: str
    bet_value: float
    currency: str
    total_bet_count: int
    remaining_bet_count: int
    cancelled_by: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Enrollment:
        return cls(
            raw["id"],
            raw["rewardId"],
            raw.get("campaignId"),
            raw["operatorPlayerId"],
            raw["status"],
            raw["betValue"],
            raw["currencyIsoCode"],
            raw["totalBetCount"],
            raw["remainingBetCount"],
            raw.get("cancelledBy"),
            raw,
        )


@dataclass(frozen=True)
class BulkEnrollment:
    id: str
    reward_id: str
    status: str
    total_count: int
    processed_count: int
    enrolled_count: int
    existing_count: int
    failed_count: int
    error: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> BulkEnrollment:
        return cls(
            raw["id"],
            raw["rewardId"],
            raw["status"],
            raw["totalCount"],
            raw["processedCount"],
            raw["enrolledCount"],
            raw["existingCount"],
            raw["failedCount"],
            raw.get("error"),
            raw,
        )

    @property
    def done(self) -> bool:
        return self.status in BULK_FINAL_STATES


@dataclass(frozen=True)
class Bet:
    id: str
    bet_id: str
    enrollment_id: str
    reward_id: str
    player_id: str
    product: str
    bet_value: float
    remaining_bet_count: int
    enrollment_status: str
    placed_at: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Bet:
        return cls(
            raw["id"],
            raw["betId"],
            raw["enrollmentId"],
            raw["rewardId"],
            raw["operatorPlayerId"],
            raw["product"],
            raw["betValue"],
            raw["remainingBetCount"],
            raw["enrollmentStatus"],
            raw["placedAtUtc"],
            raw,
        )


def request_hash(shared_key: str, url: str, body: bytes = b"") -> str:
    """The documented ``X-AUTH-REQUEST-HASH``: lowercase hex SHA-256 of the shared key, the
    relative URL (the path's trailing slashes trimmed, then the query as sent) and the raw body."""
    path, mark, query = url.partition("?")
    relative = path.rstrip("/") + (mark + query if query else "")
    return hashlib.sha256(shared_key.encode() + relative.encode() + body).hexdigest()


def relative_url(path: str, query: Mapping[str, Any] | None = None) -> str:
    """``path`` with its query string (``None`` values left out), percent-encoded here once, so
    that the URL hashed is the URL sent."""
    pairs = [(k, _text(v)) for k, v in (query or {}).items() if v is not None]
    if not pairs:
        return path
    return f"{path}?{urlencode(pairs, quote_via=quote, safe='')}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _iso(moment: datetime | str) -> str:
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is None:
        raise ValueError("dates must be timezone-aware")
    return moment.isoformat()


def _money(value: Money) -> float | int | str:
    return str(value) if isinstance(value, Decimal) else value


def _body(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` without the ``None`` values (optional fields not given are not sent)."""
    return {k: v for k, v in fields.items() if v is not None}


class OperatorOps:
    """The Operator API's operations (generators run by a driver; see ``_core``)."""

    def __init__(self, operator_id: int, shared_key: str) -> None:
        if operator_id <= 0:
            raise ValueError("operator_id must be a positive integer")
        if not shared_key:
            raise ValueError("shared_key is required")
        self.operator_id = operator_id
        self.shared_key = shared_key

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        safe: bool = True,
    ) -> Op[Any]:
        """One signed request; its envelope's ``data``."""
        url = relative_url(path, query)
        content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {
            "X-AUTH-OPERATOR-ID": str(self.operator_id),
            "X-AUTH-REQUEST-HASH": request_hash(self.shared_key, url, content),
            "Accept": "application/json",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        response: httpx.Response = yield Call(
            method, url, content=content if body is not None else None, headers=headers, safe=safe
        )
        return response.json()["data"]

    def _pages(self, path: str, query: Mapping[str, Any]) -> Op[list[dict[str, Any]]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            data = yield from self._call(
                "GET", path, query={**query, "page": page, "pageSize": PAGE_SIZE}
            )
            found += data
            if len(data) < PAGE_SIZE:
                return found
            page += 1

    # --- campaigns -----------------------------------------------------------------------------

    def campaigns(self) -> Op[list[OperatorCampaign]]:
        """The operator's campaigns, oldest first."""
        data = yield from self._call("GET", "/v1/campaigns")
        return [OperatorCampaign.of(c) for c in data]

    def create_campaign(
        self,
        *,
        name: str,
        start_time: datetime | str,
        created_by: str,
        end_time: datetime | str | None = None,
        description: str | None = None,
        operator_reference: str | None = None,
        terms_url: str | None = None,
    ) -> Op[OperatorCampaign]:
        """A campaign (no end: it runs until cancelled). Not retried after a timeout: the API
        has no idempotency for it."""
        body = _body(
            {
                "name": name,
                "description": description,
                "operatorReference": operator_reference,
                "termsAndConditionsUrl": terms_url,
                "startTimeUtc": _iso(start_time),
                "endTimeUtc": None if end_time is None else _iso(end_time),
                "createdBy": created_by,
            }
        )
        data = yield from self._call("POST", "/v1/campaigns", body=body, safe=False)
        return OperatorCampaign.of(data)

    def campaign(self, campaign_id: str) -> Op[OperatorCampaign]:
        data = yield from self._call("GET", f"/v1/campaigns/{quote(campaign_id, safe='')}")
        return OperatorCampaign.of(data)

    def cancel_campaign(self, campaign_id: str, *, cancelled_by: str) -> Op[None]:
        """Cancel the campaign, its open rewards and their open enrollments (one transaction).
        A retry whose first attempt was applied answers ``ConflictError`` (already Cancelled)."""
        yield from self._call(
            "POST",
            f"/v1/campaigns/{quote(campaign_id, safe='')}/cancel",
            body={"cancelledBy": cancelled_by},
        )

    # --- rewards -------------------------------------------------------------------------------

    def _create_reward(
        self,
        campaign_id: str,
        base: dict[str, Any],
        details: dict[str, Any],
        credit_wallet_type: str | None,
        stake_not_returned: bool | None,
    ) -> Op[OperatorReward]:
        body = {
            "rewardType": "FreeBets",
            **_body(base),
            "freeBetDetails": _body(
                {
                    **details,
                    "creditWalletType": credit_wallet_type,
                    "stakeNotReturned": stake_not_returned,
                }
            ),
        }
        data = yield from self._call(
            "POST", f"/v1/campaigns/{quote(campaign_id, safe='')}/rewards", body=body, safe=False
        )
        return OperatorReward.of(data)

    def create_reward(
        self,
        campaign_id: str,
        *,
        name: str,
        products: Iterable[str],
        start_time: datetime | str,
        end_time: datetime | str,
        created_by: str,
        bet_value: Money,
        bet_count: int,
        currency: str,
        description: str | None = None,
        operator_reference: str | None = None,
        credit_wallet_type: str | None = None,
        stake_not_returned: bool | None = None,
    ) -> Op[OperatorReward]:
        """A ``Fixed`` free-bets reward: every player gets ``bet_count`` bets of ``bet_value``.
        Not retried after a timeout (no idempotency)."""
        base = {
            "name": name,
            "description": description,
            "operatorReference": operator_reference,
            "products": list(products),
            "startTimeUtc": _iso(start_time),
            "endTimeUtc": _iso(end_time),
            "createdBy": created_by,
        }
        details = {
            "freeBetDetailsType": "Fixed",
            "betValue": _money(bet_value),
            "betCount": bet_count,
            "currencyIsoCode": currency,
        }
        return (
            yield from self._create_reward(
                campaign_id, base, details, credit_wallet_type, stake_not_returned
            )
        )

    def create_ranged_reward(
        self,
        campaign_id: str,
        *,
        name: str,
        products: Iterable[str],
        start_time: datetime | str,
        end_time: datetime | str,
        created_by: str,
        min_bet_value: Money,
        max_bet_value: Money,
        min_bet_count: int,
        max_bet_count: int,
        currency: str,
        description: str | None = None,
        operator_reference: str | None = None,
        credit_wallet_type: str | None = None,
        stake_not_returned: bool | None = None,
    ) -> Op[OperatorReward]:
        """A ``Ranged`` free-bets reward: each enrollment picks its value and count in the
        ranges (``enrol(..., bet_value=, bet_count=)``). Not retried after a timeout."""
        base = {
            "name": name,
            "description": description,
            "operatorReference": operator_reference,
            "products": list(products),
            "startTimeUtc": _iso(start_time),
            "endTimeUtc": _iso(end_time),
            "createdBy": created_by,
        }
        details = {
            "freeBetDetailsType": "Ranged",
            "minBetValue": _money(min_bet_value),
            "maxBetValue": _money(max_bet_value),
            "minBetCount": min_bet_count,
            "maxBetCount": max_bet_count,
            "currencyIsoCode": currency,
        }
        return (
            yield from self._create_reward(
                campaign_id, base, details, credit_wallet_type, stake_not_returned
            )
        )

    def rewards(self, campaign_id: str) -> Op[list[OperatorReward]]:
        """The campaign's rewards, oldest first."""
        data = yield from self._call("GET", f"/v1/campaigns/{quote(campaign_id, safe='')}/rewards")
        return [OperatorReward.of(r) for r in data]

    def reward(self, reward_id: str) -> Op[OperatorReward]:
        data = yield from self._call("GET", f"/v1/rewards/{quote(reward_id, safe='')}")
        return OperatorReward.of(data)

    def cancel_reward(self, reward_id: str, *, cancelled_by: str) -> Op[None]:
        """Cancel the reward and its open enrollments. A retry whose first attempt was applied
        answers ``ConflictError``."""
        yield from self._call(
            "POST",
            f"/v1/rewards/{quote(reward_id, safe='')}/cancel",
            body={"cancelledBy": cancelled_by},
        )

    # --- enrollments ---------------------------------------------------------------------------

    def enrol(
        self,
        reward_id: str,
        player_id: str,
        *,
        bet_value: Money | None = None,
        bet_count: int | None = None,
    ) -> Op[Enrollment]:
        """Enrol a player (``bet_value``/``bet_count`` needed for a Ranged reward). Safe to
        repeat: a player enrolled already gets their enrollment back, same id."""
        body = _body(
            {
                "operatorPlayerId": player_id,
                "betValue": None if bet_value is None else _money(bet_value),
                "betCount": bet_count,
            }
        )
        data = yield from self._call(
            "POST", f"/v1/rewards/{quote(reward_id, safe='')}/enrollments", body=body
        )
        return Enrollment.of(data)

    def enrol_bulk(
        self,
        reward_id: str,
        player_ids: Iterable[str],
        *,
        bet_value: Money | None = None,
        bet_count: int | None = None,
        created_by: str | None = None,
    ) -> Op[list[BulkEnrollment]]:
        """Enrol every player, in bulks of at most 10,000 (one request each, answered 202 and
        done by the worker: see ``wait_bulk``). Safe to repeat: players enrolled already count
        as ``existingCount`` and are not enrolled twice."""
        players = list(player_ids)
        if not players:
            raise ValueError("player_ids is empty")
        path = f"/v1/rewards/{quote(reward_id, safe='')}/enrollments/bulk"
        bulks = []
        for start in range(0, len(players), MAX_BULK_PLAYERS):
            body = _body(
                {
                    "operatorPlayerIds": players[start : start + MAX_BULK_PLAYERS],
                    "betValue": None if bet_value is None else _money(bet_value),
                    "betCount": bet_count,
                    "createdBy": created_by,
                }
            )
            data = yield from self._call("POST", path, body=body)
            bulks.append(BulkEnrollment.of(data))
        return bulks

    def bulk(self, reward_id: str, bulk_id: str) -> Op[BulkEnrollment]:
        data = yield from self._call(
            "GET",
            f"/v1/rewards/{quote(reward_id, safe='')}/enrollments/bulk/{quote(bulk_id, safe='')}",
        )
        return BulkEnrollment.of(data)

    def wait_bulk(
        self,
        bulk: BulkEnrollment,
        *,
        timeout: float = 3600.0,
        on_progress: Callable[[BulkEnrollment], None] | None = None,
    ) -> Op[BulkEnrollment]:
        """Poll the bulk until it is Completed or Failed: first after a second, then backing off
        to every 10 seconds, never faster than once a second."""
        delay, waited = POLL_FIRST, 0.0
        current = bulk
        while not current.done:
            if waited >= timeout:
                raise WaitTimeout(f"bulk {bulk.id} still {current.status} after {waited:.0f} s")
            yield Sleep(delay)
            waited += delay
            delay = min(POLL_MAX, delay * POLL_FACTOR)
            current = yield from self.bulk(bulk.reward_id, bulk.id)
            if on_progress is not None:
                on_progress(current)
        return current

    def enrollments(
        self,
        *,
        reward_id: str | None = None,
        player_id: str | None = None,
        status: str | None = None,
    ) -> Op[list[Enrollment]]:
        """Every page of a reward's enrollments (``reward_id``), or of a player's across the
        operator's rewards (``player_id`` alone), oldest first; ``status`` filters."""
        query = {"operatorPlayerId": player_id, "status": status}
        if reward_id is not None:
            path = f"/v1/rewards/{quote(reward_id, safe='')}/enrollments"
        elif player_id is not None:
            path = "/v1/enrollments"
        else:
            raise ValueError("give reward_id, player_id or both")
        data = yield from self._pages(path, query)
        return [Enrollment.of(e) for e in data]

    def enrollment(self, enrollment_id: str) -> Op[Enrollment]:
        data = yield from self._call("GET", f"/v1/enrollments/{quote(enrollment_id, safe='')}")
        return Enrollment.of(data)

    def cancel_enrollment(self, enrollment_id: str, *, cancelled_by: str) -> Op[None]:
        """Cancel a New or Active enrollment (its unused bets are lost). A retry whose first
        attempt was applied answers ``ConflictError``."""
        yield from self._call(
            "POST",
            f"/v1/enrollments/{quote(enrollment_id, safe='')}/cancel",
            body={"cancelledBy": cancelled_by},
        )

    # --- bets ----------------------------------------------------------------------------------

    def place_bet(self, enrollment_id: str, *, bet_id: str, product: str) -> Op[Bet]:
        """Use one free bet. Idempotent by ``bet_id``: repeating it answers the first result and
        uses nothing, so it is retried freely."""
        data = yield from self._call(
            "POST",
            f"/v1/enrollments/{quote(enrollment_id, safe='')}/bets",
            body={"betId": bet_id, "product": product},
        )
        return Bet.of(data)

    def bets(self, enrollment_id: str) -> Op[list[Bet]]:
        """The bets used, oldest first."""
        data = yield from self._call("GET", f"/v1/enrollments/{quote(enrollment_id, safe='')}/bets")
        return [Bet.of(b) for b in data]


class Operator:
    """The Operator API on a sync client (``Bestow(...).operator(...)``)."""

    def __init__(self, ops: OperatorOps, driver: SyncDriver) -> None:
        self.ops, self._run = ops, driver.run

    def campaigns(self) -> list[OperatorCampaign]:
        return self._run(self.ops.campaigns())

    def create_campaign(self, **fields: Any) -> OperatorCampaign:
        return self._run(self.ops.create_campaign(**fields))

    def campaign(self, campaign_id: str) -> OperatorCampaign:
        return self._run(self.ops.campaign(campaign_id))

    def cancel_campaign(self, campaign_id: str, *, cancelled_by: str) -> None:
        self._run(self.ops.cancel_campaign(campaign_id, cancelled_by=cancelled_by))

    def create_reward(self, campaign_id: str, **fields: Any) -> OperatorReward:
        return self._run(self.ops.create_reward(campaign_id, **fields))

    def create_ranged_reward(self, campaign_id: str, **fields: Any) -> OperatorReward:
        return self._run(self.ops.create_ranged_reward(campaign_id, **fields))

    def rewards(self, campaign_id: str) -> list[OperatorReward]:
        return self._run(self.ops.rewards(campaign_id))

    def reward(self, reward_id: str) -> OperatorReward:
        return self._run(self.ops.reward(reward_id))

    def cancel_reward(self, reward_id: str, *, cancelled_by: str) -> None:
        self._run(self.ops.cancel_reward(reward_id, cancelled_by=cancelled_by))

    def enrol(
        self,
        reward_id: str,
        player_id: str,
        *,
        bet_value: Money | None = None,
        bet_count: int | None = None,
    ) -> Enrollment:
        return self._run(
            self.ops.enrol(reward_id, player_id, bet_value=bet_value, bet_count=bet_count)
        )

    def enrol_bulk(
        self, reward_id: str, player_ids: Iterable[str], **options: Any
    ) -> list[BulkEnrollment]:
        return self._run(self.ops.enrol_bulk(reward_id, player_ids, **options))

    def bulk(self, reward_id: str, bulk_id: str) -> BulkEnrollment:
        return self._run(self.ops.bulk(reward_id, bulk_id))

    def wait_bulk(self, bulk: BulkEnrollment, **options: Any) -> BulkEnrollment:
        return self._run(self.ops.wait_bulk(bulk, **options))

    def enrollments(
        self,
        *,
        reward_id: str | None = None,
        player_id: str | None = None,
        status: str | None = None,
    ) -> list[Enrollment]:
        return self._run(
            self.ops.enrollments(reward_id=reward_id, player_id=player_id, status=status)
        )

    def enrollment(self, enrollment_id: str) -> Enrollment:
        return self._run(self.ops.enrollment(enrollment_id))

    def cancel_enrollment(self, enrollment_id: str, *, cancelled_by: str) -> None:
        self._run(self.ops.cancel_enrollment(enrollment_id, cancelled_by=cancelled_by))

    def place_bet(self, enrollment_id: str, *, bet_id: str, product: str) -> Bet:
        return self._run(self.ops.place_bet(enrollment_id, bet_id=bet_id, product=product))

    def bets(self, enrollment_id: str) -> list[Bet]:
        return self._run(self.ops.bets(enrollment_id))


class AsyncOperator:
    """The Operator API on an async client (``AsyncBestow(...).operator(...)``)."""

    def __init__(self, ops: OperatorOps, driver: AsyncDriver) -> None:
        self.ops, self._run = ops, driver.run

    async def campaigns(self) -> list[OperatorCampaign]:
        return await self._run(self.ops.campaigns())

    async def create_campaign(self, **fields: Any) -> OperatorCampaign:
        return await self._run(self.ops.create_campaign(**fields))

    async def campaign(self, campaign_id: str) -> OperatorCampaign:
        return await self._run(self.ops.campaign(campaign_id))

    async def cancel_campaign(self, campaign_id: str, *, cancelled_by: str) -> None:
        await self._run(self.ops.cancel_campaign(campaign_id, cancelled_by=cancelled_by))

    async def create_reward(self, campaign_id: str, **fields: Any) -> OperatorReward:
        return await self._run(self.ops.create_reward(campaign_id, **fields))

    async def create_ranged_reward(self, campaign_id: str, **fields: Any) -> OperatorReward:
        return await self._run(self.ops.create_ranged_reward(campaign_id, **fields))

    async def rewards(self, campaign_id: str) -> list[OperatorReward]:
        return await self._run(self.ops.rewards(campaign_id))

    async def reward(self, reward_id: str) -> OperatorReward:
        return await self._run(self.ops.reward(reward_id))

    async def cancel_reward(self, reward_id: str, *, cancelled_by: str) -> None:
        await self._run(self.ops.cancel_reward(reward_id, cancelled_by=cancelled_by))

    async def enrol(
        self,
        reward_id: str,
        player_id: str,
        *,
        bet_value: Money | None = None,
        bet_count: int | None = None,
    ) -> Enrollment:
        return await self._run(
            self.ops.enrol(reward_id, player_id, bet_value=bet_value, bet_count=bet_count)
        )

    async def enrol_bulk(
        self, reward_id: str, player_ids: Iterable[str], **options: Any
    ) -> list[BulkEnrollment]:
        return await self._run(self.ops.enrol_bulk(reward_id, player_ids, **options))

    async def bulk(self, reward_id: str, bulk_id: str) -> BulkEnrollment:
        return await self._run(self.ops.bulk(reward_id, bulk_id))

    async def wait_bulk(self, bulk: BulkEnrollment, **options: Any) -> BulkEnrollment:
        return await self._run(self.ops.wait_bulk(bulk, **options))

    async def enrollments(
        self,
        *,
        reward_id: str | None = None,
        player_id: str | None = None,
        status: str | None = None,
    ) -> list[Enrollment]:
        return await self._run(
            self.ops.enrollments(reward_id=reward_id, player_id=player_id, status=status)
        )

    async def enrollment(self, enrollment_id: str) -> Enrollment:
        return await self._run(self.ops.enrollment(enrollment_id))

    async def cancel_enrollment(self, enrollment_id: str, *, cancelled_by: str) -> None:
        await self._run(self.ops.cancel_enrollment(enrollment_id, cancelled_by=cancelled_by))

    async def place_bet(self, enrollment_id: str, *, bet_id: str, product: str) -> Bet:
        return await self._run(self.ops.place_bet(enrollment_id, bet_id=bet_id, product=product))

    async def bets(self, enrollment_id: str) -> list[Bet]:
        return await self._run(self.ops.bets(enrollment_id))
