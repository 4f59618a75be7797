"""Certification (issue 19): the report's shape, runs, attestations, formats and errors, on a
Partner client's real requests. Each surface's items have tests of their own
(``test_certification_<surface>*.py``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bestow.deps import Runtime
from bestow.models import AuditEntry
from tests.lab.certification_helpers import close_run, evidence_ids, item, open_run, report_of
from tests.lab.helpers import ADMIN
from tests.surfaces.partner.helpers import Partner, new_partner

UA = {"User-Agent": "certification-test/1.0"}


@pytest.fixture
async def partner(runtime: Runtime) -> Partner:
    return await new_partner(runtime, environment="uat")


async def merchants(http: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    response = await http.get("/partner/merchants", headers=headers)
    assert response.status_code == 200, response.text
    return response


async def test_header_items_pass_on_conforming_requests_with_their_ids_as_evidence(
    app_client: httpx.AsyncClient, partner: Partner
) -> None:
    first = await merchants(app_client, partner.headers(**UA))
    last = await merchants(app_client, partner.headers(**UA))

    report = await report_of(app_client, partner.client_id, "partner")

    assert report["client_id"] == partner.client_id
    assert report["environment"] == "uat"
    assert report["window"]["source"] == "retention"
    assert report["window"]["requests"] == 2
    version = item(report, "partner.headers.accept_version")
    assert version["status"] == "pass"
    assert version["kind"] == "automatic"
    assert version["text"] == "All requests include `Accept-Version: v4.0` header"
    assert evidence_ids(version) == [first.headers["x-request-id"], last.headers["x-request-id"]]
    assert version["advice"] is None
    assert item(report, "partner.headers.user_agent")["status"] == "pass"


async def test_a_request_without_accept_version_fails_the_item_naming_it(
    app_client: httpx.AsyncClient, partner: Partner
) -> None:
    await merchants(app_client, partner.headers(**UA))
    headers = {k: v for k, v in partner.headers(**UA).items() if k != "Accept-Version"}
    offending = await app_client.get("/partner/merchants", headers=headers)
    assert offending.status_code == 400, offending.text

    report = await report_of(app_client, partner.client_id, "partner")

    version = item(report, "partner.headers.accept_version")
    assert version["status"] == "fail"
    assert evidence_ids(version) == [offending.headers["x-request-id"]]
    assert version["detail"] == "1 of 2 requests lack Accept-Version: v4.0"
    assert "Accept-Version: v4.0" in version["advice"]
    assert item(report, "partner.headers.authorization")["status"] == "pass"
    assert report["passed"] is False


async def test_a_window_without_requests_leaves_automatic_items_not_exercised(
    app_client: httpx.AsyncClient, partner: Partner
) -> None:
    report = await report_of(app_client, partner.client_id, "partner")

    found = item(report, "partner.headers.client_id")
    assert found["status"] == "not_exercised"
    assert found["evidence"] == []
    assert report["passed"] is False


async def test_a_run_judges_only_its_window_and_stores_its_report(
    app_client: httpx.AsyncClient, partner: Partner
) -> None:
    bare = {k: v for k, v in partner.headers().items() if k != "X-ClientId"}
    before = await app_client.get("/partner/merchants", headers=bare)
    assert before.status_code in (200, 401), before.text
    run = await open_run(app_client, partner.client_id, "partner")
    assert run["state"] == "open"
    assert run["fault_rule_ids"] == []
    inside = await merchants(app_client, partner.headers(**UA))

    closed = await close_run(app_client, partner.client_id, run["id"])

    assert closed["state"] == "closed"
    assert closed["closed_at"] is not None
    report = closed["report"]
    assert report["window"]["run_id"] == run["id"]
    assert report["window"]["source"] == "run"
    assert report["window"]["requests"] == 1
    assert evidence_ids(item(report, "partner.headers.client_id")) == [
        inside.headers["x-request-id"]
    ]
    # Without a window asked for, the report is judged over the latest run's.
    again = await report_of(app_client, partner.client_id, "partner")
    assert again["window"]["run_id"] == run["id"]
    listed = await app_client.get(
        f"/admin/clients/{partner.client_id}/certification/runs", headers=ADMIN
    )
    assert [r["id"] for r in listed.json()["data"]] == [run["id"]]
    assert listed.json()["data"][0]["report"] is None
    repeat = await app_client.post(
        f"/admin/clients/{partner.client_id}/certification/runs/{run['id']}/close", headers=ADMIN
    )
    assert repeat.status_code == 422, repeat.text


async def test_one_open_run_per_client_and_surface(
    app_client: httpx.AsyncClient, partner: Partner
) -> None:
    await open_run(app_client, partner.client_id, "partner")
    second = await app_client.post(
        f"/admin/clients/{partner.client_id}/certification/runs",
        json={"surface": "partner"},
        headers=ADMIN,
    )
    assert second.status_code == 409, second.text
    assert (await open_run(app_client, partner.client_id, "operator"))["surface"] == "operator"


async def test_a_run_with_faults_schedules_the_checklists_faults_and_removes_them(
    app_client: httpx.AsyncClient, partner: Partner
) -> None:
    checklist = await app_client.get("/admin/certification/checklists/partner", headers=ADMIN)
    wanted = sorted(f["kind"] for f in checklist.json()["faults"])
    assert wanted, "the Partner checklist schedules faults"

    run = await open_run(app_client, partner.client_id, "partner", faults=True)
    rules = await app_client.get(f"/admin/clients/{partner.client_id}/faults", headers=ADMIN)
    assert sorted(r["kind"] for r in rules.json()["data"]) == wanted
    assert sorted(r["id"] for r in rules.json()["data"]) == sorted(run["fault_rule_ids"])

    await close_run(app_client, partner.client_id, run["id"])
    rules = await app_client.get(f"/admin/clients/{partner.client_id}/faults", headers=ADMIN)
    assert rules.json()["data"] == []


async def test_attesting_an_item_is_audited_and_counts_in_the_report(
    app_client: httpx.AsyncClient, partner: Partner, runtime: Runtime
) -> None:
    path = f"/admin/clients/{partner.client_id}/certification/attestations/partner.submission.demo"
    before = await report_of(app_client, partner.client_id, "partner")
    assert item(before, "partner.submission.demo")["status"] == "not_attested"

    made = await app_client.put(path, json={"note": "Demoed to Ana on 7 Dec"}, headers=ADMIN)
    assert made.status_code == 200, made.text
    after = await report_of(app_client, partner.client_id, "partner")
    demo = item(after, "partner.submission.demo")
    assert demo["status"] == "attested"
    assert "Demoed to Ana on 7 Dec" in demo["evidence"][0]["note"]

    withdrawn = await app_client.delete(path, headers=ADMIN)
    assert withdrawn.status_code == 204
    final = await report_of(app_client, partner.client_id, "partner")
    assert item(final, "partner.submission.demo")["status"] == "not_attested"
    async with runtime.db.session() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.target_id == partner.client_id)
            )
        )
    assert "certification.attested" in actions
    assert "certification.attestation_withdrawn" in actions


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("partner.headers.accept_version", {"note": "checked"}, 400, "item_id"),
        ("partner.nothing", {"note": "checked"}, 400, "item_id"),
        ("partner.submission.demo", {"note": "   "}, 400, "note"),
        ("partner.submission.demo", {}, 400, "note"),
    ],
)
async def test_attestations_refuse_what_cannot_be_attested(
    app_client: httpx.AsyncClient,
    partner: Partner,
    path: str,
    body: dict[str, Any],
    status: int,
    field: str,
) -> None:
    response = await app_client.put(
        f"/admin/clients/{partner.client_id}/certification/attestations/{path}",
        json=body,
        headers=ADMIN,
    )
    assert response.status_code == status, response.text
    assert field in response.text


async def test_the_report_renders_as_html_and_markdown(
    app_client: httpx.AsyncClient, partner: Partner
) -> None:
    await merchants(app_client, partner.headers(**UA))
    params = {"surface": "partner"}
    url = f"/admin/clients/{partner.client_id}/certification"

    html = await app_client.get(url, params={**params, "format": "html"}, headers=ADMIN)
    markdown = await app_client.get(url, params={**params, "format": "markdown"}, headers=ADMIN)

    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "<h2>API Headers &amp; General</h2>" in html.text
    assert "All requests include `X-ClientId` header" in html.text
    assert "<script" not in html.text
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "## API Headers & General" in markdown.text
    assert "partner.headers.client_id" in markdown.text


async def test_errors_name_their_field(app_client: httpx.AsyncClient, partner: Partner) -> None:
    url = f"/admin/clients/{partner.client_id}/certification"
    unknown = await app_client.get(
        "/admin/clients/cli_missing/certification", params={"surface": "partner"}, headers=ADMIN
    )
    assert unknown.status_code == 404
    surface = await app_client.get(url, params={"surface": "email"}, headers=ADMIN)
    assert surface.status_code == 400 and "surface" in surface.text
    window = await app_client.get(
        url,
        params={"surface": "partner", "since": "2026-12-07T10:00:00", "until": "2026-12-07T09:00"},
        headers=ADMIN,
    )
    assert window.status_code == 400 and "since" in window.text
    run = await app_client.get(
        url, params={"surface": "partner", "run_id": "crt_missing"}, headers=ADMIN
    )
    assert run.status_code == 404
    unauthenticated = await app_client.get(url, params={"surface": "partner"})
    assert unauthenticated.status_code == 401


async def test_a_production_client_cannot_open_a_run(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    production = await new_partner(runtime, environment="production")
    response = await app_client.post(
        f"/admin/clients/{production.client_id}/certification/runs",
        json={"surface": "partner"},
        headers=ADMIN,
    )
    assert response.status_code == 400, response.text
    assert "client_id" in response.text
