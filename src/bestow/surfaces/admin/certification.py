"""Admin API: certification of a client on a surface (``docs/certification.md``): its report,
runs and attestations, and each surface's checklist."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import Field

from bestow.deps import ReadSessionDep, WriteSessionDep
from bestow.kit.timefmt import aware
from bestow.lab import requestlog
from bestow.lab.certification import render, runs
from bestow.lab.certification.checklists import SURFACES, checklist_of
from bestow.surfaces.admin.auth import AdminActor
from bestow.surfaces.admin.schemas import Strict
from bestow.views.certification import (
    AttestationOut,
    ChecklistOut,
    ReportOut,
    RunOut,
    attestation_view,
    checklist_view,
    run_view,
)
from bestow.views.pages import ListOut

router = APIRouter(prefix="/admin", tags=["Admin API"])

SurfaceName = Literal["partner", "vouchers", "loyalty", "operator"]
assert set(SurfaceName.__args__) == set(SURFACES)  # type: ignore[attr-defined]


async def _written(request: Request) -> None:
    """Write this process's buffered request-log rows first: a report judged right after the
    integrator's last request sees it."""
    log: requestlog.RequestLog | None = getattr(request.app.state, "request_log", None)
    if log is not None:
        await log.flush()


@router.get("/certification/checklists/{surface}", response_model=ChecklistOut)
async def get_checklist(surface: SurfaceName, _: AdminActor) -> ChecklistOut:
    """A surface's checklist: every item, its kind, and the faults a run schedules."""
    return checklist_view(checklist_of(surface))


@router.get(
    "/clients/{client_id}/certification",
    response_model=ReportOut,
    responses={200: {"content": {"text/html": {}, "text/markdown": {}}}},
)
async def get_report(
    client_id: str,
    request: Request,
    _: AdminActor,
    session: ReadSessionDep,
    surface: SurfaceName,
    since: Annotated[datetime | None, Query(description="From this time, inclusive")] = None,
    until: Annotated[datetime | None, Query(description="Before this time")] = None,
    run_id: Annotated[str | None, Query(max_length=40)] = None,
    format: Annotated[
        Literal["json", "markdown", "html"],
        Query(description="`html`: a page to send to a partner; `markdown`"),
    ] = "json",
) -> Any:
    """The client's certification report for a surface, judged now: over a run's window
    (`run_id`, else the latest run's), or `since`/`until` (default: the last 30 days)."""
    await _written(request)
    report = await runs.report(
        session,
        client_id=client_id,
        surface=surface,
        since=aware(since, "since"),
        until=aware(until, "until"),
        run_id=run_id,
    )
    body = report.as_json()
    if format == "html":
        return HTMLResponse(render.html(body))
    if format == "markdown":
        return PlainTextResponse(render.markdown(body), media_type="text/markdown")
    return body


class RunIn(Strict):
    surface: SurfaceName
    faults: bool = Field(
        default=False,
        description="Schedule the faults the checklist needs to judge error handling",
    )


@router.post("/clients/{client_id}/certification/runs", status_code=201, response_model=RunOut)
async def open_run(
    client_id: str, body: RunIn, actor: AdminActor, session: WriteSessionDep
) -> RunOut:
    """Open a certification run: a window on the client's traffic, optionally with faults."""
    run = await runs.open_run(
        session, client_id=client_id, surface=body.surface, with_faults=body.faults, actor=actor
    )
    return run_view(run)


@router.get("/clients/{client_id}/certification/runs", response_model=ListOut[RunOut])
async def list_runs(
    client_id: str,
    _: AdminActor,
    session: ReadSessionDep,
    surface: SurfaceName | None = None,
) -> Any:
    """The client's certification runs, newest first (without their reports)."""
    found = await runs.list_runs(session, client_id=client_id, surface=surface)
    return {"data": [run_view(r, with_report=False) for r in found], "next_cursor": None}


@router.get("/clients/{client_id}/certification/runs/{run_id}", response_model=RunOut)
async def get_run(client_id: str, run_id: str, _: AdminActor, session: ReadSessionDep) -> RunOut:
    """A certification run, with its report once closed."""
    return run_view(await runs.get_run(session, client_id=client_id, run_id=run_id))


@router.post("/clients/{client_id}/certification/runs/{run_id}/close", response_model=RunOut)
async def close_run(
    client_id: str, run_id: str, request: Request, actor: AdminActor, session: WriteSessionDep
) -> RunOut:
    """Close a run: its remaining faults removed, its report judged and stored."""
    await _written(request)
    run, _ = await runs.close_run(session, client_id=client_id, run_id=run_id, actor=actor)
    return run_view(run)


class AttestIn(Strict):
    note: str = Field(min_length=1, max_length=500, description="What was checked, by whom")


@router.put(
    "/clients/{client_id}/certification/attestations/{item_id}", response_model=AttestationOut
)
async def attest(
    client_id: str, item_id: str, body: AttestIn, actor: AdminActor, session: WriteSessionDep
) -> AttestationOut:
    """Attest an item a person must confirm (audited)."""
    attestation = await runs.attest(
        session, client_id=client_id, item_id=item_id, note=body.note, actor=actor
    )
    return attestation_view(attestation)


@router.delete("/clients/{client_id}/certification/attestations/{item_id}", status_code=204)
async def withdraw(
    client_id: str, item_id: str, actor: AdminActor, session: WriteSessionDep
) -> Response:
    """Withdraw an attestation (audited)."""
    await runs.withdraw(session, client_id=client_id, item_id=item_id, actor=actor)
    return Response(status_code=204)
