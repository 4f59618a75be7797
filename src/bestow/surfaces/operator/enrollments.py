"""Operator API enrollments: players enrolled in a reward, bulk enrollment, and the free bets a
game server uses (Gamnify-compatible; ``docs/operator-api.md``, "Enrollments").

Bodies are read by hand, as campaigns' and rewards' are, so each rule refuses with its message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.campaigns import operator_enrollments as enrollments
from bestow.clients.service import AuthenticatedClient
from bestow.deps import RuntimeDep
from bestow.kit import fields
from bestow.kit.errors import Invalid
from bestow.kit.responses import JSONResponse
from bestow.kit.timefmt import iso
from bestow.models import OperatorEnrollment, OperatorEnrollmentBatch, OperatorFreeBet
from bestow.surfaces.common import documented_body, json_object
from bestow.surfaces.operator.auth import OperatorClient
from bestow.surfaces.operator.campaigns import (
    CANCELLED_BY_REQUIRED,
    ERRORS,
    EnvelopeOut,
    _optional,
    _required,
)
from bestow.surfaces.operator.errors import envelope, ok
from bestow.surfaces.operator.rewards import bet_count, bet_value
from bestow.surfaces.operator.routing import OperatorRouter

PLAYER_REQUIRED = "operatorPlayerId is required and cannot be empty or whitespace"
PLAYERS = (
    "operatorPlayerIds must be an array of 1 to {max} strings, each non-empty and at most "
    "200 characters"
)
PLAYER_AT = "operatorPlayerIds[{index}] must be a non-empty string of at most 200 characters"
BET_ID_REQUIRED = "betId is required and cannot be empty or whitespace"
PRODUCT_REQUIRED = "product is required and cannot be empty or whitespace"
STATUS = "status must be one of " + ", ".join(enrollments.STATUSES)
PLAYER_FILTER = "operatorPlayerId is required to list enrollments across rewards"
ACCEPTED = "Accepted: the players are enrolled by the worker; follow the bulk enrollment's status"


class EnrolIn(BaseModel):
    operatorPlayerId: str
    betValue: float | None = Field(default=None, description="Ranged rewards: within the range")
    betCount: int | None = Field(default=None, description="Ranged rewards: within the range")


class BulkEnrolIn(BaseModel):
    operatorPlayerIds: list[str] = Field(description="1 to 10,000 player ids")
    betValue: float | None = Field(default=None, description="Ranged rewards: for every player")
    betCount: int | None = Field(default=None, description="Ranged rewards: for every player")
    createdBy: str | None = None


class BetIn(BaseModel):
    betId: str = Field(description="The game server's id of the bet: used once")
    product: str = Field(description="The game played: one of the reward's products")


class CancelEnrollmentIn(BaseModel):
    cancelledBy: str


router = OperatorRouter(prefix="/v1", tags=["Operator API"], responses=ERRORS)
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": EnvelopeOut, "description": "Conflict: see message"}
}


def _bets(body: dict[str, Any]) -> tuple[int | None, int | None]:
    value = None if body.get("betValue") is None else bet_value(body, "betValue", "")
    count = None if body.get("betCount") is None else bet_count(body, "betCount", "")
    return value, count


def _page(page: int, page_size: int) -> tuple[int, int]:
    return (page - 1) * page_size, page_size


def _status(status: str | None) -> str | None:
    if status is not None and status not in enrollments.STATUSES:
        raise Invalid(STATUS, field="status")
    return status


async def _answer(
    session: AsyncSession,
    client: AuthenticatedClient,
    found: list[OperatorEnrollment],
    now: datetime,
) -> list[dict[str, Any]]:
    views = await enrollments.views_of(session, found, client.operator_id)
    return [enrollments.enrollment_json(e, views[e.reward_id], now) for e in found]


def bet_json(bet: OperatorFreeBet, enrollment: OperatorEnrollment) -> dict[str, Any]:
    """What using a bet answers; a repeat of its ``betId`` answers the same."""
    return {
        "id": bet.id,
        "betId": bet.bet_id,
        "enrollmentId": bet.enrollment_id,
        "rewardId": enrollment.reward_id,
        "operatorPlayerId": enrollment.operator_player_id,
        "product": bet.product,
        "betValue": bet.bet_value_minor / 100,
        "remainingBetCount": bet.remaining_bet_count,
        "enrollmentStatus": bet.status_after,
        "placedAtUtc": iso(bet.placed_at),
    }


def batch_json(batch: OperatorEnrollmentBatch) -> dict[str, Any]:
    return {
        "id": batch.id,
        "rewardId": batch.reward_id,
        "status": batch.status,
        "totalCount": batch.total_count,
        "processedCount": batch.processed_count,
        "enrolledCount": batch.enrolled_count,
        "existingCount": batch.existing_count,
        "failedCount": batch.failed_count,
        "error": batch.error,
        "betValue": batch.bet_value_minor / 100,
        "betCount": batch.bet_count,
        "createdBy": batch.created_by,
        "createdAtUtc": iso(batch.created_at),
        "startedAtUtc": iso(batch.started_at),
        "completedAtUtc": iso(batch.completed_at),
    }


@router.post(
    "/rewards/{reward_id}/enrollments",
    response_model=EnvelopeOut,
    openapi_extra=documented_body(EnrolIn),
    responses=CONFLICT,
)
async def enrol_player(
    reward_id: str, request: Request, client: OperatorClient, runtime: RuntimeDep
) -> JSONResponse:
    """Enrol a player in a Scheduled or Active reward; 200 with the enrollment (status `New`).
    A player already enrolled gets the enrollment they have."""
    body = await json_object(request, EnrolIn)
    player = _required(body, "operatorPlayerId", PLAYER_REQUIRED)
    value, count = _bets(body)
    now = runtime.clock()
    async with runtime.db.write_session() as session:
        view = await enrollments.reward_view(
            session,
            client_id=client.id,
            reward_id=reward_id,
            operator_id=client.operator_id,
            lock=True,
        )
        enrollment = await enrollments.enrol(
            session,
            client_id=client.id,
            view=view,
            player_id=player,
            bet_value_minor=value,
            bet_count=count,
            now=now,
        )
        await session.commit()
    return ok(enrollments.enrollment_json(enrollment, view, now))


@router.get("/rewards/{reward_id}/enrollments", response_model=EnvelopeOut)
async def list_reward_enrollments(
    reward_id: str,
    client: OperatorClient,
    runtime: RuntimeDep,
    operatorPlayerId: str | None = Query(default=None, max_length=200),
    status: str | None = Query(default=None, description="New, Active, Completed, ..."),
    page: int = Query(default=1, ge=1, le=100_000),
    pageSize: int = Query(default=100, ge=1, le=1000),
) -> JSONResponse:
    """The reward's enrollments, oldest first, a page at a time."""
    offset, limit = _page(page, pageSize)
    now = runtime.clock()
    async with runtime.db.session() as session:
        found = await enrollments.list_for(
            session,
            client_id=client.id,
            now=now,
            reward_id=reward_id,
            player_id=operatorPlayerId,
            status=_status(status),
            offset=offset,
            limit=limit,
        )
        return ok(await _answer(session, client, found, now))


@router.post(
    "/rewards/{reward_id}/enrollments/bulk",
    status_code=202,
    response_model=EnvelopeOut,
    openapi_extra=documented_body(BulkEnrolIn),
    responses=CONFLICT,
)
async def enrol_players(
    reward_id: str, request: Request, client: OperatorClient, runtime: RuntimeDep
) -> JSONResponse:
    """Enrol up to 10,000 players through the worker; 202 with the bulk enrollment, whose
    status and counts `GET .../enrollments/bulk/{bulkId}` follows."""
    body = await json_object(request, BulkEnrolIn)
    players = body.get("operatorPlayerIds")
    if not isinstance(players, list) or not 1 <= len(players) <= enrollments.MAX_BULK:
        raise Invalid(PLAYERS.format(max=enrollments.MAX_BULK), field="operatorPlayerIds")
    cleaned = []
    for index, player in enumerate(players):
        if (
            not isinstance(player, str)
            or not player.strip()
            or len(player) > 200
            or not fields.is_clean(player.strip())
        ):
            raise Invalid(PLAYER_AT.format(index=index), field="operatorPlayerIds")
        cleaned.append(player.strip())
    value, count = _bets(body)
    created_by = _optional(body, "createdBy")
    async with runtime.db.write_session() as session:
        batch = await enrollments.create_batch(
            session,
            client_id=client.id,
            reward_id=reward_id,
            player_ids=cleaned,
            bet_value_minor=value,
            bet_count=count,
            created_by=created_by.strip() if created_by else None,
            now=runtime.clock(),
        )
        await session.commit()
    return JSONResponse(envelope(batch_json(batch), message=ACCEPTED), status_code=202)


@router.get("/rewards/{reward_id}/enrollments/bulk/{bulk_id}", response_model=EnvelopeOut)
async def get_bulk_enrollment(
    reward_id: str, bulk_id: str, client: OperatorClient, runtime: RuntimeDep
) -> JSONResponse:
    """A bulk enrollment: `Pending`, `Processing`, `Completed` or `Failed`, with its counts."""
    async with runtime.db.session() as session:
        batch = await enrollments.get_batch(
            session, client_id=client.id, reward_id=reward_id, batch_id=bulk_id
        )
    return ok(batch_json(batch))


@router.get("/enrollments", response_model=EnvelopeOut)
async def list_player_enrollments(
    client: OperatorClient,
    runtime: RuntimeDep,
    operatorPlayerId: str | None = Query(default=None, max_length=200),
    status: str | None = Query(default=None, description="New, Active, Completed, ..."),
    page: int = Query(default=1, ge=1, le=100_000),
    pageSize: int = Query(default=100, ge=1, le=1000),
) -> JSONResponse:
    """A player's enrollments across the operator's rewards, oldest first (what a game server
    asks when the player opens a game)."""
    if not operatorPlayerId or not operatorPlayerId.strip():
        raise Invalid(PLAYER_FILTER, field="operatorPlayerId")
    offset, limit = _page(page, pageSize)
    now = runtime.clock()
    async with runtime.db.session() as session:
        found = await enrollments.list_for(
            session,
            client_id=client.id,
            now=now,
            player_id=operatorPlayerId.strip(),
            status=_status(status),
            offset=offset,
            limit=limit,
        )
        return ok(await _answer(session, client, found, now))


@router.get("/enrollments/{enrollment_id}", response_model=EnvelopeOut)
async def get_enrollment(
    enrollment_id: str, client: OperatorClient, runtime: RuntimeDep
) -> JSONResponse:
    """One of the operator's enrollments; another operator's is NotFound."""
    async with runtime.db.session() as session:
        found = await enrollments.get(session, client_id=client.id, enrollment_id=enrollment_id)
        return ok((await _answer(session, client, [found], runtime.clock()))[0])


@router.post(
    "/enrollments/{enrollment_id}/cancel",
    response_model=EnvelopeOut,
    openapi_extra=documented_body(CancelEnrollmentIn),
    responses=CONFLICT,
)
async def cancel_enrollment(
    enrollment_id: str, request: Request, client: OperatorClient, runtime: RuntimeDep
) -> JSONResponse:
    """Cancel a New or Active enrollment (the player loses the bets left); 200 with `data: {}`."""
    body = await json_object(request, CancelEnrollmentIn)
    cancelled_by = _required(body, "cancelledBy", CANCELLED_BY_REQUIRED)
    async with runtime.db.write_session() as session:
        await enrollments.cancel(
            session,
            client_id=client.id,
            enrollment_id=enrollment_id,
            cancelled_by=cancelled_by,
            now=runtime.clock(),
        )
        await session.commit()
    return ok()


@router.post(
    "/enrollments/{enrollment_id}/bets",
    response_model=EnvelopeOut,
    openapi_extra=documented_body(BetIn),
    responses=CONFLICT,
)
async def place_bet(
    enrollment_id: str, request: Request, client: OperatorClient, runtime: RuntimeDep
) -> JSONResponse:
    """A game server uses one free bet: `New -> Active`, and `Completed` with the last. A
    repeat of the same `betId` answers the first call's result and uses nothing."""
    body = await json_object(request, BetIn)
    bet_id = _required(body, "betId", BET_ID_REQUIRED)
    product = _required(body, "product", PRODUCT_REQUIRED)
    async with runtime.db.write_session() as session:
        placed = await enrollments.place_bet(
            session,
            client_id=client.id,
            enrollment_id=enrollment_id,
            bet_id=bet_id,
            product=product,
            now=runtime.clock(),
            operator_id=client.operator_id,
        )
        await session.commit()
    return ok(bet_json(placed.bet, placed.enrollment))


@router.get("/enrollments/{enrollment_id}/bets", response_model=EnvelopeOut)
async def list_bets(
    enrollment_id: str, client: OperatorClient, runtime: RuntimeDep
) -> JSONResponse:
    """The free bets used from an enrollment, oldest first."""
    async with runtime.db.session() as session:
        found, bets = await enrollments.bets_of(
            session, client_id=client.id, enrollment_id=enrollment_id
        )
    return ok([bet_json(bet, found) for bet in bets])
