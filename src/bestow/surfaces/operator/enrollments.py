"""Operator API enrollments: players enrolled in a reward, bulk enrollment, and the free bets a
game server uses (Gamnify-compatible; ``docs/operator-api.md``, "Enrollments").

The rules are the free-bets domain's (``bestow.freebets.enrollments``, ``bets``, ``bulks``); this
module reads bodies in the vendor's words (``readers``) and answers in its casing. An enrollment
is answered as the ``freebets.enrolled`` event carries it (``events.enrollment_payload``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.clients.service import AuthenticatedClient
from bestow.deps import ReadSessionDep, RuntimeDep, WriteSessionDep
from bestow.freebets import bets, bulks, enrollments
from bestow.freebets.events import enrollment_payload
from bestow.freebets.lifecycle import STATUSES
from bestow.kit import fields
from bestow.kit.errors import Invalid
from bestow.kit.responses import JSONResponse
from bestow.kit.timefmt import iso
from bestow.models import OperatorEnrollment, OperatorEnrollmentBatch, OperatorFreeBet
from bestow.surfaces.bodies import Body, Read
from bestow.surfaces.common import note
from bestow.surfaces.operator.auth import OperatorClient
from bestow.surfaces.operator.errors import envelope, ok
from bestow.surfaces.operator.readers import (
    CANCELLED_BY_REQUIRED,
    NUMBER,
    bet_count,
    bet_value,
    optional,
    required,
    text,
)
from bestow.surfaces.operator.routing import EnvelopeOut, conflict
from bestow.surfaces.operator.routing import router as operator_router

PLAYER_REQUIRED = "operatorPlayerId is required and cannot be empty or whitespace"
PLAYERS = (
    "operatorPlayerIds must be an array of 1 to {max} strings, each non-empty and at most "
    "200 characters"
)
PLAYER_AT = "operatorPlayerIds[{index}] must be a non-empty string of at most 200 characters"
BET_ID_REQUIRED = "betId is required and cannot be empty or whitespace"
PRODUCT_REQUIRED = "product is required and cannot be empty or whitespace"
STATUS = "status must be one of " + ", ".join(STATUSES)
PLAYER_FILTER = "operatorPlayerId is required to list enrollments across rewards"
ACCEPTED = "Accepted: the players are enrolled by the worker; follow the bulk enrollment's status"


def _players(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= bulks.MAX_BULK:
        raise Invalid(PLAYERS.format(max=bulks.MAX_BULK), field=name)
    cleaned = []
    for index, player in enumerate(value):
        if (
            not isinstance(player, str)
            or not player.strip()
            or len(player) > 200
            or not fields.is_clean(player.strip())
        ):
            raise Invalid(PLAYER_AT.format(index=index), field=name)
        cleaned.append(player.strip())
    return cleaned


def _created_by(value: Any, name: str) -> str | None:
    created_by = text(value, name)
    return created_by.strip() if created_by else None


class EnrolIn(Body):
    operatorPlayerId: Annotated[str, Read(required(PLAYER_REQUIRED))]
    betValue: Annotated[int | None, Read(optional(bet_value)), NUMBER] = Field(
        default=None, description="Ranged rewards: within the range"
    )
    betCount: Annotated[int | None, Read(optional(bet_count))] = Field(
        default=None, description="Ranged rewards: within the range"
    )


class BulkEnrolIn(Body):
    operatorPlayerIds: Annotated[list[str], Read(_players)] = Field(
        description="1 to 10,000 player ids"
    )
    betValue: Annotated[int | None, Read(optional(bet_value)), NUMBER] = Field(
        default=None, description="Ranged rewards: for every player"
    )
    betCount: Annotated[int | None, Read(optional(bet_count))] = Field(
        default=None, description="Ranged rewards: for every player"
    )
    createdBy: Annotated[str | None, Read(_created_by)] = None


class BetIn(Body):
    betId: Annotated[str, Read(required(BET_ID_REQUIRED))] = Field(
        description="The game server's id of the bet: used once"
    )
    product: Annotated[str, Read(required(PRODUCT_REQUIRED))] = Field(
        description="The game played: one of the reward's products"
    )


class CancelEnrollmentIn(Body):
    cancelledBy: Annotated[str, Read(required(CANCELLED_BY_REQUIRED))]


router = operator_router()
CONFLICT = conflict("Conflict: see message")


def _page(page: int, page_size: int) -> tuple[int, int]:
    return (page - 1) * page_size, page_size


def _status(status: str | None) -> str | None:
    if status is not None and status not in STATUSES:
        raise Invalid(STATUS, field="status")
    return status


async def _answer(
    session: AsyncSession,
    client: AuthenticatedClient,
    found: list[OperatorEnrollment],
    now: datetime,
) -> list[dict[str, Any]]:
    views = await enrollments.views_of(session, found, client.operator_id)
    return [enrollment_payload(e, views[e.reward_id], now) for e in found]


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
    openapi_extra=EnrolIn.openapi(),
    responses=CONFLICT,
)
async def enrol_player(
    reward_id: str,
    request: Request,
    client: OperatorClient,
    runtime: RuntimeDep,
    session: WriteSessionDep,
) -> JSONResponse:
    """Enrol a player in a Scheduled or Active reward; 200 with the enrollment (status `New`).
    A player already enrolled gets the enrollment they have."""
    body = await EnrolIn.from_request(request)
    now = runtime.clock()
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
        player_id=body.operatorPlayerId,
        bet_value_minor=body.betValue,
        bet_count=body.betCount,
        now=now,
    )
    # An enrollment made by this call carries its time; one the player had is a replay.
    note(request, object_id=enrollment.id, replayed=enrollment.created_at != now)
    return ok(enrollment_payload(enrollment, view, now))


@router.get("/rewards/{reward_id}/enrollments", response_model=EnvelopeOut)
async def list_reward_enrollments(
    reward_id: str,
    client: OperatorClient,
    runtime: RuntimeDep,
    session: ReadSessionDep,
    operatorPlayerId: str | None = Query(default=None, max_length=200),
    status: str | None = Query(default=None, description="New, Active, Completed, ..."),
    page: int = Query(default=1, ge=1, le=100_000),
    pageSize: int = Query(default=100, ge=1, le=1000),
) -> JSONResponse:
    """The reward's enrollments, oldest first, a page at a time."""
    offset, limit = _page(page, pageSize)
    now = runtime.clock()
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
    openapi_extra=BulkEnrolIn.openapi(),
    responses=CONFLICT,
)
async def enrol_players(
    reward_id: str,
    request: Request,
    client: OperatorClient,
    runtime: RuntimeDep,
    session: WriteSessionDep,
) -> JSONResponse:
    """Enrol up to 10,000 players through the worker; 202 with the bulk enrollment, whose
    status and counts `GET .../enrollments/bulk/{bulkId}` follows."""
    body = await BulkEnrolIn.from_request(request)
    note(request, counts={"operatorPlayerIds": len(body.operatorPlayerIds)})
    batch = await bulks.create_batch(
        session,
        client_id=client.id,
        reward_id=reward_id,
        player_ids=body.operatorPlayerIds,
        bet_value_minor=body.betValue,
        bet_count=body.betCount,
        created_by=body.createdBy,
        now=runtime.clock(),
    )
    note(request, object_id=batch.id)
    return JSONResponse(envelope(batch_json(batch), message=ACCEPTED), status_code=202)


@router.get("/rewards/{reward_id}/enrollments/bulk/{bulk_id}", response_model=EnvelopeOut)
async def get_bulk_enrollment(
    reward_id: str,
    bulk_id: str,
    request: Request,
    client: OperatorClient,
    session: ReadSessionDep,
) -> JSONResponse:
    """A bulk enrollment: `Pending`, `Processing`, `Completed` or `Failed`, with its counts."""
    batch = await bulks.get_batch(
        session, client_id=client.id, reward_id=reward_id, batch_id=bulk_id
    )
    # The certification reads whether the answer showed the end, and its failures.
    terminal = batch.status in (bulks.COMPLETED, bulks.FAILED)
    note(
        request,
        object_id=batch.id,
        counts={"terminal": int(terminal), "failedCount": batch.failed_count},
    )
    return ok(batch_json(batch))


@router.get("/enrollments", response_model=EnvelopeOut)
async def list_player_enrollments(
    client: OperatorClient,
    runtime: RuntimeDep,
    session: ReadSessionDep,
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
    enrollment_id: str, client: OperatorClient, runtime: RuntimeDep, session: ReadSessionDep
) -> JSONResponse:
    """One of the operator's enrollments; another operator's is NotFound."""
    found = await enrollments.get(session, client_id=client.id, enrollment_id=enrollment_id)
    return ok((await _answer(session, client, [found], runtime.clock()))[0])


@router.post(
    "/enrollments/{enrollment_id}/cancel",
    response_model=EnvelopeOut,
    openapi_extra=CancelEnrollmentIn.openapi(),
    responses=CONFLICT,
)
async def cancel_enrollment(
    enrollment_id: str,
    request: Request,
    client: OperatorClient,
    runtime: RuntimeDep,
    session: WriteSessionDep,
) -> JSONResponse:
    """Cancel a New or Active enrollment (the player loses the bets left); 200 with `data: {}`."""
    body = await CancelEnrollmentIn.from_request(request)
    await enrollments.cancel(
        session,
        client_id=client.id,
        enrollment_id=enrollment_id,
        cancelled_by=body.cancelledBy,
        clock=runtime.clock,
    )
    return ok()


@router.post(
    "/enrollments/{enrollment_id}/bets",
    response_model=EnvelopeOut,
    openapi_extra=BetIn.openapi(),
    responses=CONFLICT,
)
async def place_bet(
    enrollment_id: str,
    request: Request,
    client: OperatorClient,
    runtime: RuntimeDep,
    session: WriteSessionDep,
) -> JSONResponse:
    """A game server uses one free bet: `New -> Active`, and `Completed` with the last. A
    repeat of the same `betId` answers the first call's result and uses nothing."""
    body = await BetIn.from_request(request)
    note(request, idempotency_key=body.betId)
    placed = await bets.place_bet(
        session,
        client_id=client.id,
        enrollment_id=enrollment_id,
        bet_id=body.betId,
        product=body.product,
        operator_id=client.operator_id,
        clock=runtime.clock,
    )
    note(request, object_id=placed.bet.id, replayed=placed.replayed)
    return ok(bet_json(placed.bet, placed.enrollment))


@router.get("/enrollments/{enrollment_id}/bets", response_model=EnvelopeOut)
async def list_bets(
    enrollment_id: str, client: OperatorClient, session: ReadSessionDep
) -> JSONResponse:
    """The free bets used from an enrollment, oldest first."""
    found, used = await bets.bets_of(session, client_id=client.id, enrollment_id=enrollment_id)
    return ok([bet_json(bet, found) for bet in used])
