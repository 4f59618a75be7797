"""Certification reports, runs, checklists and attestations (``bestow.lab.certification``), as
the Admin API and the CLI show them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from bestow.lab.certification.core import Checklist
from bestow.models import Attestation, CertificationRun


class EvidenceOut(BaseModel):
    """A request (its id, time, route and status) or an object (its type and id), and what it
    shows; the fields of the other kind are left out, not null."""

    request_id: str | None = None
    time: str | None = None
    method: str | None = None
    route: str | None = None
    status: int | None = None
    object_type: str | None = None
    object_id: str | None = None
    note: str

    @model_serializer(mode="wrap")
    def _present(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class ItemOut(BaseModel):
    id: str = Field(description="A stable id: `partner.headers.accept_version`")
    section: str
    text: str = Field(description="The item in the vendor's own words")
    kind: str = Field(description="`automatic`, `conditional` or `attested`")
    status: str = Field(description="`pass`, `fail`, `not_exercised`; `attested` or `not_attested`")
    evidence: list[EvidenceOut] = Field(
        description="The requests (or objects) that prove it, or the first offending ones"
    )
    advice: str | None = Field(description="How to fix a failure, or to exercise the item")
    detail: str | None = Field(default=None, description="A one-line count: `3 of 120 requests`")
    feature: str | None = Field(
        default=None, description="For a conditional item: the feature it depends on"
    )


class WindowOut(BaseModel):
    since: str
    until: str
    source: str = Field(description="`run`, `given` (since/until) or `retention`")
    run_id: str | None
    requests: int = Field(description="Requests of the client judged in the window")


class ChecklistRefOut(BaseModel):
    title: str
    source: str = Field(description="`vendor` (its own words) or `bestow` (written by Bestow)")
    reference: str


class ReportOut(BaseModel):
    client_id: str
    environment: str
    surface: str
    window: WindowOut
    passed: bool = Field(
        description="Every automatic item and every exercised conditional item passes, and "
        "every attested item is attested"
    )
    summary: dict[str, int] = Field(description="Items per status")
    checklist: ChecklistRefOut
    judged_at: str
    items: list[ItemOut]


class RunOut(BaseModel):
    id: str
    client_id: str
    surface: str
    state: str = Field(description="`open` or `closed`")
    started_at: datetime
    closed_at: datetime | None
    fault_rule_ids: list[str] = Field(description="The faults the run scheduled")
    passed: bool | None = Field(description="The report's verdict, once closed")
    opened_by: str
    report: ReportOut | None = Field(description="The report, as judged when it closed")


def run_view(run: CertificationRun, *, with_report: bool = True) -> RunOut:
    return RunOut(
        id=run.id,
        client_id=run.client_id,
        surface=run.surface,
        state=run.state,
        started_at=run.started_at,
        closed_at=run.closed_at,
        fault_rule_ids=list(run.fault_rule_ids or ()),
        passed=run.passed,
        opened_by=run.opened_by,
        report=ReportOut.model_validate(run.report) if with_report and run.report else None,
    )


class ChecklistItemOut(BaseModel):
    id: str
    section: str
    text: str
    kind: str
    feature: str | None
    advice: str
    exercise: str


class ChecklistOut(BaseModel):
    surface: str
    title: str
    source: str
    reference: str
    items: list[ChecklistItemOut]
    faults: list[dict[str, Any]] = Field(description="The faults a run with faults schedules")


def checklist_view(checklist: Checklist) -> ChecklistOut:
    return ChecklistOut(
        surface=checklist.surface,
        title=checklist.title,
        source=checklist.source,
        reference=checklist.reference,
        items=[
            ChecklistItemOut(
                id=i.id,
                section=i.section,
                text=i.text,
                kind=i.kind,
                feature=i.feature,
                advice=i.advice,
                exercise=i.exercise,
            )
            for i in checklist.items
        ],
        faults=[
            {"kind": f.kind, "count": f.count, "route": f.route, "params": dict(f.params)}
            for f in checklist.faults
        ],
    )


class AttestationOut(BaseModel):
    client_id: str
    item_id: str
    surface: str
    note: str
    attested_by: str
    attested_at: datetime


def attestation_view(a: Attestation) -> AttestationOut:
    return AttestationOut(
        client_id=a.client_id,
        item_id=a.item_id,
        surface=a.surface,
        note=a.note,
        attested_by=a.attested_by,
        attested_at=a.attested_at,
    )
