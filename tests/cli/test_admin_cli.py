"""The administration CLI: end to end through ``.venv/bin/bestow`` in a subprocess for the main
flows, in process (Typer's runner) for the rest. Both on each test database."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bestow.deps import Runtime
from bestow.models import AdminToken
from tests.cli.helpers import CLI_ACTOR, Invoke, bestow, failed, new_merchant, ok
from tests.conftest import unique
from tests.members.csvdata import members_csv


def new_client(cli: Invoke, *args: str) -> dict[str, Any]:
    client: dict[str, Any] = ok(
        cli("clients", "create", "--name", unique("partner"), *args, "--json")
    )
    return client


def audit_actions(cli: Invoke, target_type: str, target_id: str) -> list[str]:
    entries = ok(
        cli("audit", "list", "--target-type", target_type, "--target-id", target_id, "--json")
    )["data"]
    assert all(entry["actor"] == CLI_ACTOR for entry in entries)
    return [entry["action"] for entry in entries]


# End to end, in a subprocess ----------------------------------------------------------------


@pytest.mark.slow
async def test_a_credential_issued_by_the_cli_authenticates_on_the_partner_api(
    cli_env: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    async def run(*args: str) -> Any:
        done = await asyncio.to_thread(bestow, cli_env, *args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    merchant = await run("merchants", "create", "--name", "Sub", "--handle", unique("sub"))
    client = await run("clients", "create", "--name", unique("sub"), "--scope", "rewards.issue")
    done = await asyncio.to_thread(
        bestow, cli_env, "clients", "grant", client["id"], merchant["id"]
    )
    assert done.returncode == 0, done.stderr
    issued = await run("clients", "issue-credential", client["id"], "--kind", "partner_token")

    response = await app_client.get(
        "/partner/merchants",
        headers={
            "Authorization": f"Bearer {issued['secret']}",
            "X-ClientId": client["id"],
            "Accept-Version": "v4.0",
        },
    )

    assert response.status_code == 200, response.text
    assert [m["id"] for m in response.json()["merchants"]] == [merchant["id"]]
    listed = await run("clients", "credentials", client["id"])
    assert [c["id"] for c in listed] == [issued["id"]]
    assert "secret" not in listed[0]


@pytest.mark.slow
async def test_an_admin_token_from_the_cli_opens_the_admin_api_until_revoked(
    cli_env: dict[str, str], app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    done = await asyncio.to_thread(bestow, cli_env, "admin-tokens", "create", "ops", "--json")
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    headers = {"Authorization": f"Bearer {created['token']}"}

    before = await app_client.get("/admin/clients", headers=headers)
    revoked = await asyncio.to_thread(bestow, cli_env, "admin-tokens", "revoke", created["id"])
    after = await app_client.get("/admin/clients", headers=headers)

    assert revoked.returncode == 0, revoked.stderr
    assert (before.status_code, after.status_code) == (200, 401)
    async with runtime.db.session() as session:
        stored = await session.scalar(select(AdminToken).where(AdminToken.id == created["id"]))
    assert stored is not None
    assert stored.token_hash == hashlib.sha256(created["token"].encode()).hexdigest()
    assert stored.revoked_at is not None


@pytest.mark.slow
def test_a_large_import_reports_bad_rows_and_writes_the_error_file(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    done = bestow(
        cli_env, "merchants", "create", "--name", "Big", "--handle", unique("big"), "--json"
    )
    merchant_id = json.loads(done.stdout)["id"]
    rows = members_csv(6_000).splitlines(keepends=True)
    rows.insert(101, "broken@,+14155550000,X1,A,B,active,pos-x\n")
    rows.append(rows[1])
    file = tmp_path / "members.csv"
    file.write_text("".join(rows), encoding="utf-8")
    errors = tmp_path / "errors.csv"

    done = bestow(
        cli_env,
        "members",
        "import",
        merchant_id,
        str(file),
        "--errors",
        str(errors),
        "--chunk-size",
        "2000",
        "--json",
    )

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["rows"], report["imported"], report["failed"]) == (6_002, 6_000, 2)
    assert report["errors"] == [
        {"line": 102, "reason": "invalid email"},
        {"line": 6_003, "reason": "email repeats line 2"},
    ]
    with errors.open(newline="") as handle:
        assert list(csv.reader(handle)) == [
            ["line", "reason"],
            ["102", "invalid email"],
            ["6003", "email repeats line 2"],
        ]
    assert "@example.com" not in done.stderr
    assert "+1415" not in done.stderr


@pytest.mark.slow
def test_a_failing_command_prints_one_line_and_exits_1(cli_env: dict[str, str]) -> None:
    done = bestow(cli_env, "clients", "show", "cli_unknown")

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == "error: client cli_unknown not found"


# Clients ------------------------------------------------------------------------------------


def test_clients_are_created_listed_shown_and_updated(cli: Invoke) -> None:
    created = new_client(
        cli, "--scope", "rewards.issue", "--scope", "read_vouchers", "--tier", "high"
    )
    merchant = new_merchant(cli)

    granted = cli("clients", "grant", created["id"], merchant["id"])
    shown = ok(cli("clients", "show", created["id"], "--json"))
    updated = ok(
        cli(
            "clients",
            "update",
            created["id"],
            "--name",
            "Renamed",
            "--status",
            "suspended",
            "--clear-scopes",
            "--json",
        )
    )
    listed = ok(cli("clients", "list", "--status", "suspended", "--limit", "500", "--json"))

    assert granted.exit_code == 0, granted.output
    assert created["scopes"] == ["read_vouchers", "rewards.issue"]
    assert created["rate_limit_tier"] == "high"
    assert shown["merchant_ids"] == [merchant["id"]]
    assert (updated["name"], updated["status"], updated["scopes"]) == ("Renamed", "suspended", [])
    assert created["id"] in [c["id"] for c in listed["data"]]
    assert audit_actions(cli, "client", created["id"]) == [
        "client.created",
        "client.merchant_granted",
        "client.updated",
    ]


def test_an_operator_client_gets_primary_and_secondary_shared_keys(cli: Invoke) -> None:
    operator_id = str(int.from_bytes(os.urandom(3), "big") + 1)
    created = new_client(cli, "--operator-id", operator_id, "--scope", "operator.campaigns")

    primary = ok(
        cli("clients", "issue-credential", created["id"], "--kind", "operator_key", "--json")
    )
    secondary = ok(
        cli(
            "clients",
            "issue-credential",
            created["id"],
            "--kind",
            "operator_key",
            "--label",
            "secondary",
            "--json",
        )
    )

    assert created["operator_id"] == int(operator_id)
    assert (primary["label"], secondary["label"]) == ("primary", "secondary")
    assert primary["secret"] != secondary["secret"]


def test_credentials_are_issued_rotated_and_revoked(cli: Invoke) -> None:
    client_id = new_client(cli)["id"]

    issued = ok(cli("clients", "issue-credential", client_id, "--kind", "oauth_secret", "--json"))
    rotated = ok(
        cli(
            "clients",
            "rotate-credential",
            client_id,
            issued["id"],
            "--grace-seconds",
            "300",
            "--json",
        )
    )
    revoked = ok(cli("clients", "revoke-credential", client_id, rotated["id"], "--json"))
    listed = ok(cli("clients", "credentials", client_id, "--json"))

    assert issued["secret"].startswith("bst_cs_")
    assert rotated["secret"] != issued["secret"] and rotated["kind"] == "oauth_secret"
    assert revoked["revoked_at"] is not None
    assert {c["id"]: c["revoked_at"] is not None for c in listed} == {
        issued["id"]: True,
        rotated["id"]: True,
    }
    assert all("secret" not in c for c in listed)
    assert audit_actions(cli, "client", client_id) == [
        "client.created",
        "credential.issued",
        "credential.revoked",
        "credential.issued",
        "credential.revoked",
    ]


def test_an_issued_secret_is_printed_once_in_plain_output(cli: Invoke) -> None:
    client_id = new_client(cli)["id"]

    result = cli("clients", "issue-credential", client_id, "--kind", "partner_token")
    listed = cli("clients", "credentials", client_id)

    assert result.exit_code == 0, result.output
    secret_lines = [line for line in result.stdout.splitlines() if "shown once" in line]
    assert len(secret_lines) == 1 and "bst_pt_" in secret_lines[0]
    secret = secret_lines[0].rsplit(" ", 1)[1]
    assert listed.exit_code == 0 and secret not in listed.stdout
    assert "partner_token" in listed.stdout


def test_a_merchant_grant_is_withdrawn(cli: Invoke) -> None:
    client_id = new_client(cli)["id"]
    merchant_id = new_merchant(cli)["id"]
    cli("clients", "grant", client_id, merchant_id)

    result = cli("clients", "ungrant", client_id, merchant_id)
    again = cli("clients", "ungrant", client_id, merchant_id)

    assert result.exit_code == 0, result.output
    assert ok(cli("clients", "show", client_id, "--json"))["merchant_ids"] == []
    assert "has no grant" in failed(again)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("clients", "create", "--name", "x", "--scope", "everything"),
            "unknown scopes: everything",
        ),
        (("clients", "create", "--name", "x", "--tier", "platinum"), "unknown rate-limit tier"),
        (("clients", "update", "cli_unknown", "--name", "x"), "client cli_unknown not found"),
        (("clients", "update", "cli_unknown"), "nothing to change"),
        (("clients", "credentials", "cli_unknown"), "client cli_unknown not found"),
        (("clients", "grant", "cli_unknown", "mer_unknown"), "client cli_unknown not found"),
        (("merchants", "show", "mer_unknown"), "merchant mer_unknown not found"),
        (("merchants", "update", "mer_unknown"), "nothing to change"),
        (("merchants", "create", "--name", "x", "--handle", "x y"), "handle is 2-100"),
        (("members", "status", "mbr_unknown", "inactive"), "member mbr_unknown not found"),
        (("members", "list", "mer_unknown"), "merchant mer_unknown not found"),
        (("admin-tokens", "revoke", "adm_unknown"), "admin token adm_unknown not found"),
        (("admin-tokens", "create", " "), "1-100 characters"),
    ],
)
def test_errors_print_a_clear_message_and_exit_1(
    cli: Invoke, args: tuple[str, ...], message: str
) -> None:
    assert message in failed(cli(*args))


def test_an_unknown_credential_kind_is_a_usage_error(cli: Invoke) -> None:
    result = cli("clients", "issue-credential", "cli_x", "--kind", "password")

    assert result.exit_code == 2
    assert "partner_token" in result.output


# Merchants ----------------------------------------------------------------------------------


def test_merchants_are_created_shown_listed_and_updated(cli: Invoke) -> None:
    merchant = new_merchant(cli, "--time-zone", "America/New_York", "--enrol-unknown-members")
    location = ok(
        cli(
            "merchants",
            "add-location",
            merchant["id"],
            "--name",
            "Pier 17",
            "--city",
            "New York",
            "--zip",
            "10038",
            "--json",
        )
    )
    unit = ok(cli("merchants", "add-business-unit", merchant["id"], "HARBOUR_NY", "--json"))

    shown = ok(cli("merchants", "show", merchant["id"], "--json"))
    updated = ok(
        cli(
            "merchants",
            "update",
            merchant["id"],
            "--name",
            "Renamed",
            "--time-zone",
            "Europe/London",
            "--no-enrol-unknown-members",
            "--json",
        )
    )
    listed = ok(cli("merchants", "list", "--limit", "500", "--json"))

    assert merchant["enrol_unknown_members"] is True
    assert (location["city"], location["zip"]) == ("New York", "10038")
    assert shown["locations"] == [location]
    assert shown["business_units"] == [unit]
    assert (updated["name"], updated["time_zone"], updated["enrol_unknown_members"]) == (
        "Renamed",
        "Europe/London",
        False,
    )
    assert merchant["id"] in [m["id"] for m in listed["data"]]
    assert audit_actions(cli, "merchant", merchant["id"]) == [
        "merchant.created",
        "merchant.updated",
    ]


def test_a_duplicate_handle_or_a_bad_time_zone_is_refused(cli: Invoke) -> None:
    merchant = new_merchant(cli)

    again = cli("merchants", "create", "--name", "x", "--handle", merchant["handle"])
    bad_zone = cli("merchants", "update", merchant["id"], "--time-zone", "Mars/Olympus")
    unit = cli("merchants", "add-business-unit", merchant["id"], "UNIT")
    unit_again = cli("merchants", "add-business-unit", merchant["id"], "UNIT")

    assert f"handle '{merchant['handle']}' is already taken" in failed(again)
    assert "unknown time zone 'Mars/Olympus'" in failed(bad_zone)
    assert unit.exit_code == 0
    assert "already exists" in failed(unit_again)


def test_plain_output_shows_one_field_per_line(cli: Invoke) -> None:
    handle = unique("plain")

    result = cli("merchants", "create", "--name", "Plain", "--handle", handle)
    listed = cli("merchants", "list", "--limit", "500")

    assert result.exit_code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert lines["handle"] == handle and lines["time_zone"] == "UTC"
    assert listed.stdout.splitlines()[0].split() == [
        "id",
        "name",
        "handle",
        "time_zone",
        "enrol_unknown_members",
    ]
    assert any(handle in line for line in listed.stdout.splitlines())


def test_lists_page_with_a_cursor(cli: Invoke) -> None:
    merchant_id = new_merchant(cli)["id"]
    for i in range(5):
        ok(cli("members", "create", merchant_id, "--loyalty-id", f"P{i}", "--json"))

    seen: list[str] = []
    cursor: list[str] = []
    while True:
        page = ok(cli("members", "list", merchant_id, "--limit", "2", *cursor, "--json"))
        seen += [m["loyalty_id"] for m in page["data"]]
        if page["next_cursor"] is None:
            break
        cursor = ["--cursor", page["next_cursor"]]

    assert sorted(seen) == [f"P{i}" for i in range(5)]
    assert len(seen) == len(set(seen))


# Members ------------------------------------------------------------------------------------


def test_members_are_created_listed_and_deactivated(cli: Invoke) -> None:
    merchant_id = new_merchant(cli)["id"]

    member = ok(
        cli(
            "members",
            "create",
            merchant_id,
            "--email",
            "Ann@Example.com",
            "--phone",
            "+1 415 555 0100",
            "--first-name",
            "Ann",
            "--external",
            "pos=P-1",
            "--json",
        )
    )
    inactive = ok(cli("members", "status", member["id"], "inactive", "--json"))
    listed = ok(cli("members", "list", merchant_id, "--status", "inactive", "--json"))
    shown = ok(cli("members", "show", member["id"], "--json"))

    assert (member["email"], member["phone"], member["first_name"]) == (
        "ann@example.com",
        "+14155550100",
        "Ann",
    )
    assert inactive["status"] == "inactive"
    assert [m["id"] for m in listed["data"]] == [member["id"]]
    assert shown == inactive
    assert audit_actions(cli, "member", member["id"]) == ["member.created", "member.status_changed"]


def test_a_member_needs_good_identifiers(cli: Invoke) -> None:
    merchant_id = new_merchant(cli)["id"]
    ok(cli("members", "create", merchant_id, "--email", "a@example.com", "--json"))

    assert "already has that email" in failed(
        cli("members", "create", merchant_id, "--email", "A@example.com")
    )
    assert "E.164" in failed(cli("members", "create", merchant_id, "--phone", "4155550100"))
    assert "at least an email" in failed(cli("members", "create", merchant_id))
    assert "NAMESPACE=VALUE" in failed(
        cli("members", "create", merchant_id, "--loyalty-id", "L", "--external", "pos")
    )


def test_a_small_import_prints_a_summary_and_the_refused_lines(cli: Invoke, tmp_path: Path) -> None:
    merchant_id = new_merchant(cli)["id"]
    file = tmp_path / "members.csv"
    file.write_text("email,phone\na@example.com,+14155550100\nnope,\na@example.com,\n")

    result = cli("members", "import", merchant_id, str(file))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"imported 1 of 3 rows into merchant {merchant_id}; 2 refused",
        "  line 3: invalid email",
        "  line 4: email repeats line 2",
    ]
    assert audit_actions(cli, "merchant", merchant_id)[-1] == "members.imported"


def test_an_import_with_an_unknown_column_imports_nothing(cli: Invoke, tmp_path: Path) -> None:
    merchant_id = new_merchant(cli)["id"]
    file = tmp_path / "members.csv"
    file.write_text("email,shoe_size\na@example.com,44\n")

    message = failed(cli("members", "import", merchant_id, str(file)))

    assert "unknown columns: shoe_size" in message
    assert ok(cli("members", "list", merchant_id, "--json"))["data"] == []


def test_an_import_of_a_missing_or_binary_file_is_refused(cli: Invoke, tmp_path: Path) -> None:
    merchant_id = new_merchant(cli)["id"]
    binary = tmp_path / "members.xlsx"
    binary.write_bytes(b"PK\x03\x04\xff\xfe")

    assert "cannot read" in failed(cli("members", "import", merchant_id, str(tmp_path / "no.csv")))
    assert "not UTF-8 text" in failed(cli("members", "import", merchant_id, str(binary)))


# Admin tokens and audit ---------------------------------------------------------------------


def test_admin_tokens_are_listed_without_their_secret_and_revoked_once(cli: Invoke) -> None:
    created = ok(cli("admin-tokens", "create", "ci", "--json"))

    listed = cli("admin-tokens", "list", "--json")
    revoked = ok(cli("admin-tokens", "revoke", created["id"], "--json"))
    again = cli("admin-tokens", "revoke", created["id"])

    assert created["token"].startswith("bst_adm_")
    assert created["token"] not in listed.stdout
    assert created["id"] in [t["id"] for t in ok(listed)]
    assert revoked["revoked_at"] is not None
    assert "already revoked" in failed(again)
    assert audit_actions(cli, "admin_token", created["id"]) == [
        "admin_token.created",
        "admin_token.revoked",
    ]


def test_audit_list_shows_the_latest_entries_oldest_first(cli: Invoke) -> None:
    merchant_id = new_merchant(cli)["id"]
    for name in ("A", "B", "C"):
        ok(cli("merchants", "update", merchant_id, "--name", name, "--json"))

    latest = ok(cli("audit", "list", "--target-id", merchant_id, "--limit", "2", "--json"))["data"]
    plain = cli("audit", "list", "--target-type", "merchant", "--target-id", merchant_id)

    assert [e["changes"]["name"] for e in latest] == ["B", "C"]
    assert plain.exit_code == 0 and plain.stdout.count("merchant.updated") == 3
