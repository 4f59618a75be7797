"""Certification runs and attestations (``docs/certification.md``).

A run opens a window on one surface for a demo or UAT client, optionally with the faults the
checklist needs to judge error handling (made as counted ``bestow.lab.faults`` rules: 429s, a
lost answer, a partial batch failure). The integrator's own test suite then runs; closing the
run removes what is left of its faults, ends the window and stores the report. The go-live gate
reads the latest run's window (``bestow.lab.golive``).

Attesting an item is an admin's word that an *attested* item holds (audited), kept until
withdrawn; it counts in every report of the client for that surface.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.audit import service as audit
from bestow.clients.service import get_client
from bestow.kit.actor import Actor
from bestow.kit.db import WriteSession, utcnow
from bestow.kit.errors import Conflict, Invalid, InvalidState, NotFound
from bestow.lab import environments, faults
from bestow.lab.certification import engine
from bestow.lab.certification.checklists import checklist_of, item_of
from bestow.lab.certification.context import Window
from bestow.lab.certification.core import ATTESTED
from bestow.models import Attestation, CertificationRun, FaultRule

OPEN = "open"
CLOSED = "closed"
FAULT_HOURS = 24
"""A run's fault rules expire after a day, should the run never be closed."""
MAX_NOTE = 500


class RunOpen(Conflict):
    code = "certification_run_open"


async def open_run(
    session: WriteSession, *, client_id: str, surface: str, with_faults: bool, actor: Actor
) -> CertificationRun:
    """Open a run of ``client_id`` on ``surface``; one open run per client and surface."""
    checklist = checklist_of(surface)
    client = await get_client(session, client_id)
    if environments.is_production(client.environment):
        raise Invalid(
            "a production client is not certified: certify its organisation's UAT or demo client",
            field="client_id",
        )
    already = await session.scalar(
        select(CertificationRun.id).where(
            CertificationRun.client_id == client_id,
            CertificationRun.surface == surface,
            CertificationRun.state == OPEN,
        )
    )
    if already is not None:
        raise RunOpen(f"run {already} of client {client_id} on {surface} is still open")
    now = utcnow()
    rule_ids: list[str] = []
    if with_faults:
        for spec in checklist.faults:
            rule = await faults.create_rule(
                session,
                client_id=client_id,
                kind=spec.kind,
                actor=actor,
                count=spec.count,
                route=spec.route,
                params=dict(spec.params),
                expires_at=now + timedelta(hours=FAULT_HOURS),
            )
            rule_ids.append(rule.id)
    run = CertificationRun(
        client_id=client_id,
        surface=surface,
        state=OPEN,
        started_at=now,
        fault_rule_ids=rule_ids,
        opened_by=actor.name[:120],
    )
    session.add(run)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="certification.run_opened",
        target_type="client",
        target_id=client_id,
        changes={"run_id": run.id, "surface": surface, "fault_rule_ids": rule_ids},
    )
    return run


async def get_run(session: AsyncSession, *, client_id: str, run_id: str) -> CertificationRun:
    run = await session.get(CertificationRun, run_id)
    if run is None or run.client_id != client_id:
        raise NotFound(f"no certification run {run_id} of client {client_id}")
    return run


async def close_run(
    session: WriteSession, *, client_id: str, run_id: str, actor: Actor
) -> tuple[CertificationRun, engine.Report]:
    """Close an open run: its faults removed, its window ended now, its report stored."""
    run = await get_run(session, client_id=client_id, run_id=run_id)
    if run.state != OPEN:
        raise InvalidState(f"run {run_id} is already closed")
    if run.fault_rule_ids:
        await session.execute(
            delete(FaultRule).where(
                FaultRule.client_id == client_id, FaultRule.id.in_(run.fault_rule_ids)
            )
        )
    run.state = CLOSED
    run.closed_at = utcnow()
    client = await get_client(session, client_id)
    window = Window(run.started_at, run.closed_at, run.id, "run")
    report = await engine.judge(session, client, run.surface, window)
    run.passed = report.passed
    run.report = report.as_json()
    audit.record(
        session,
        actor=actor,
        action="certification.run_closed",
        target_type="client",
        target_id=client_id,
        changes={"run_id": run.id, "surface": run.surface, "passed": report.passed},
    )
    return run, report


async def list_runs(
    session: AsyncSession, *, client_id: str, surface: str | None = None
) -> list[CertificationRun]:
    await get_client(session, client_id)
    stmt = select(CertificationRun).where(CertificationRun.client_id == client_id)
    if surface is not None:
        checklist_of(surface)
        stmt = stmt.where(CertificationRun.surface == surface)
    order = (CertificationRun.started_at.desc(), CertificationRun.id.desc())
    return list(await session.scalars(stmt.order_by(*order)))


async def attest(
    session: WriteSession, *, client_id: str, item_id: str, note: str, actor: Actor
) -> Attestation:
    """Record that an attested item holds for the client (replacing an earlier word)."""
    checklist, item = item_of(item_id)
    if item.kind != ATTESTED:
        raise Invalid(
            f"item {item_id} is {item.kind}: it is judged from traffic, not attested",
            field="item_id",
        )
    text = note.strip()
    if not text:
        raise Invalid("note must say what was checked", field="note")
    if len(text) > MAX_NOTE:
        raise Invalid(f"note is at most {MAX_NOTE} characters", field="note")
    await get_client(session, client_id)
    attestation = await session.get(Attestation, (client_id, item_id))
    if attestation is None:
        attestation = Attestation(client_id=client_id, item_id=item_id)
        session.add(attestation)
    attestation.surface = checklist.surface
    attestation.note = text
    attestation.attested_by = actor.name[:120]
    attestation.attested_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="certification.attested",
        target_type="client",
        target_id=client_id,
        changes={"item_id": item_id, "note": text},
    )
    await session.flush()
    return attestation


async def withdraw(session: WriteSession, *, client_id: str, item_id: str, actor: Actor) -> None:
    item_of(item_id)
    attestation = await session.get(Attestation, (client_id, item_id))
    if attestation is None:
        raise NotFound(f"item {item_id} is not attested for client {client_id}")
    await session.delete(attestation)
    audit.record(
        session,
        actor=actor,
        action="certification.attestation_withdrawn",
        target_type="client",
        target_id=client_id,
        changes={"item_id": item_id},
    )


async def report(
    session: AsyncSession,
    *,
    client_id: str,
    surface: str,
    since: datetime | None = None,
    until: datetime | None = None,
    run_id: str | None = None,
) -> engine.Report:
    """The report of a client for a surface over the window asked for (``engine.window_for``)."""
    checklist_of(surface)
    client = await get_client(session, client_id)
    window = await engine.window_for(
        session, client_id, surface, since=since, until=until, run_id=run_id
    )
    return await engine.judge(session, client, surface, window)
