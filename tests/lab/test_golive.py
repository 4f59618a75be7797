"""The go-live gate: a production client's first credential for a surface needs a passing
certification of a UAT (or demo) client of its organisation, or an admin's written reason."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bestow.clients import service as clients
from bestow.deps import Runtime
from bestow.kit.actor import Actor
from bestow.lab import golive
from tests.conftest import make_partner, make_settings, unique
from tests.fixtures.apps import app_on
from tests.lab.catalogue_helpers import audit_entries, run_cli
from tests.surfaces.admin.helpers import ADMIN, assert_problem, new_client

ACTOR = Actor("test")


async def organisation(
    app_client: httpx.AsyncClient, *scopes: str, uat: bool = True
) -> tuple[str, str, str | None]:
    """A partner organisation: its production client and, with ``uat``, its UAT client:
    ``(organisation, production client id, UAT client id)``."""
    name = unique("org")
    fields = {"organization": name, "scopes": list(scopes or ("rewards.issue",))}
    uat_id = (await new_client(app_client, environment="uat", **fields))["id"] if uat else None
    production = await new_client(app_client, environment="production", **fields)
    return name, production["id"], uat_id


async def issue(
    app_client: httpx.AsyncClient, client_id: str, kind: str = "partner_token", **body: str
) -> httpx.Response:
    return await app_client.post(
        f"/admin/clients/{client_id}/credentials", json={"kind": kind, **body}, headers=ADMIN
    )


async def test_a_production_clients_first_credential_is_refused_without_certification(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    name, production, uat = await organisation(app_client)
    refused = await issue(app_client, production)
    assert_problem(refused, 409)
    detail = refused.json()["detail"]
    assert name in detail and "partner surface" in detail
    assert f"client {uat} has not passed the partner checklist" in detail
    assert "partner.headers.authorization" in detail
    assert "override" in detail
    listed = await app_client.get(f"/admin/clients/{production}/credentials", headers=ADMIN)
    assert listed.json() == []

    # The UAT client itself gets its credentials freely.
    assert (await issue(app_client, uat or "")).status_code == 201


async def test_an_organisation_without_a_uat_client_or_a_client_without_one_is_refused(
    app_client: httpx.AsyncClient,
) -> None:
    name, production, _ = await organisation(app_client, uat=False)
    refused = await issue(app_client, production)
    assert_problem(refused, 409, "it has no UAT or demo client")
    assert name in refused.json()["detail"]

    lone = await new_client(app_client, environment="production")
    assert_problem(await issue(app_client, lone["id"]), 409, "of no organisation")


async def test_an_override_issues_it_and_the_audit_log_keeps_the_reason(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    _, production, _ = await organisation(app_client)
    blank = await issue(app_client, production, override_reason="   ")
    assert_problem(blank, 400)
    assert blank.json()["field"] == "override_reason"

    reason = "signed off by the partner's QA lead on the UAT call"
    issued = await issue(app_client, production, override_reason=reason)
    assert issued.status_code == 201, issued.text
    [entry] = await audit_entries(runtime, production, "client.go_live_overridden")
    assert entry.changes == {
        "kind": "partner_token",
        "credential_id": issued.json()["id"],
        "surfaces": ["partner"],
        "override_reason": reason,
    }
    assert entry.actor.startswith("admin")


async def test_a_rotation_or_a_further_credential_is_not_gated(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    _, production, _ = await organisation(app_client)
    first = await issue(app_client, production, override_reason="pilot launch")
    assert first.status_code == 201, first.text
    rotated = await app_client.post(
        f"/admin/clients/{production}/credentials/{first.json()['id']}/rotate", headers=ADMIN
    )
    assert rotated.status_code == 201, rotated.text
    assert (await issue(app_client, production)).status_code == 201
    assert len(await audit_entries(runtime, production, "client.go_live_overridden")) == 1


async def test_the_gate_asks_the_certification_function_and_issues_when_it_passes(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    _, production, uat = await organisation(app_client, "issue_vouchers", "loyalty.adhoc_reward")
    asked: list[tuple[str, str]] = []

    async def certified(session: object, client_id: str, surface: str) -> golive.Verdict:
        asked.append((client_id, surface))
        return golive.Verdict(passed=True, reason="every check passed", report_id=f"crt_{surface}")

    async with runtime.db.write_session() as session:
        issued = await clients.issue_credential(
            session,
            runtime.sealer,
            client_id=production,
            kind=clients.OAUTH_SECRET,
            certify=certified,
            actor=ACTOR,
        )
        await session.commit()
    # An OAuth secret of a client with both scopes serves both APIs: both are certified.
    assert asked == [(uat, "vouchers"), (uat, "loyalty")]
    [entry] = await audit_entries(runtime, production, "client.went_live")
    assert entry.changes["credential_id"] == issued.credential.id
    assert entry.changes["certified_by"] == {
        "vouchers": {"client_id": uat, "report_id": "crt_vouchers"},
        "loyalty": {"client_id": uat, "report_id": "crt_loyalty"},
    }


async def test_certification_is_the_clients_report_without_traffic_not_passed(
    runtime: Runtime,
) -> None:
    client_id, _, _ = await make_partner(runtime, environment="uat")
    async with runtime.db.session() as session:
        verdict = await golive.certification(session, client_id, "partner")
    assert not verdict.passed
    assert verdict.report_id is None
    assert verdict.reason.startswith(f"client {client_id} has not passed the partner checklist")
    assert "0 requests" in verdict.reason


@pytest.mark.parametrize(
    ("kind", "scopes", "surfaces"),
    [
        ("partner_token", [], ("partner",)),
        ("operator_key", [], ("operator",)),
        ("oauth_secret", ["read_catalogue"], ("vouchers",)),
        ("oauth_secret", ["loyalty.adhoc_reward"], ("loyalty",)),
        ("oauth_secret", [], ()),
    ],
)
def test_a_credential_kind_serves_the_surfaces_its_scopes_name(
    kind: str, scopes: list[str], surfaces: tuple[str, ...]
) -> None:
    assert golive.surfaces_of(kind, scopes) == surfaces


async def test_an_oauth_secret_without_a_surface_scope_is_refused_naming_the_scopes(
    app_client: httpx.AsyncClient,
) -> None:
    _, production, _ = await organisation(app_client, "rewards.issue")
    refused = await issue(app_client, production, "oauth_secret")
    assert_problem(refused, 400, "scopes")


async def test_a_deployment_pinned_to_production_does_not_gate(
    database_url: str, var_dir: Path
) -> None:
    settings = make_settings(database_url, var_dir, environment="production")
    async with app_on(settings) as pinned:
        client = await new_client(pinned, organization=unique("org"))
        assert client["environment"] == "production"
        issued = await issue(pinned, client["id"])
        assert issued.status_code == 201, issued.text


async def test_the_cli_refuses_then_issues_with_an_override_reason(
    app_client: httpx.AsyncClient, runtime: Runtime, database_url: str, var_dir: Path
) -> None:
    name, production, _ = await organisation(app_client)
    base = ("clients", "issue-credential", production, "--kind", "partner_token")
    refused = await run_cli(database_url, var_dir, *base)
    assert refused.exit_code == 1, refused.output
    assert refused.stderr.startswith("error: ") and name in refused.stderr
    issued = await run_cli(
        database_url, var_dir, *base, "--override-reason", "migrated from the old platform"
    )
    assert issued.exit_code == 0, issued.output
    [entry] = await audit_entries(runtime, production, "client.go_live_overridden")
    assert entry.changes["override_reason"] == "migrated from the old platform"
    assert entry.actor.startswith("cli:")


async def test_every_surface_a_credential_serves_must_be_certified(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    name, production, uat = await organisation(app_client, "issue_vouchers", "loyalty.adhoc_reward")

    async def vouchers_only(session: object, client_id: str, surface: str) -> golive.Verdict:
        if surface == "vouchers":
            return golive.Verdict(passed=True, reason="passed", report_id="crt_1")
        return golive.Verdict(passed=False, reason=f"{client_id} failed 2 loyalty checks")

    async with runtime.db.write_session() as session:
        with pytest.raises(golive.NotCertified) as refused:
            await clients.issue_credential(
                session,
                runtime.sealer,
                client_id=production,
                kind=clients.OAUTH_SECRET,
                certify=vouchers_only,
                actor=ACTOR,
            )
    assert "loyalty surface" in refused.value.message and name in refused.value.message
    assert f"{uat} failed 2 loyalty checks" in refused.value.message
