"""``bestow-client`` (and ``examples/certification_flow.py``) in their own processes, against a
real ``bestow serve`` and a real ``bestow worker`` seeded with ``bestow demo --json``."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from tests.fixtures.deployment import Deployment

from bestow_client.cli import read_identifiers

REPOSITORY = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("bestow-client")
EXAMPLE = REPOSITORY / "examples" / "certification_flow.py"
TIMEOUT_SECONDS = 120
BIG_LINES = 25_000
BAD_PHONES = ["12345", "999", "+44 12", "0000", "1-800-NOPE"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BESTOW_")}
    env.update(extra)
    return env


def demo_file(deployment: Deployment) -> Path:
    """The demo's credentials in a file, for ``--demo-json``."""
    path = deployment.root / "demo.json"
    if not path.exists():
        path.write_text(deployment.demo_json)
    return path


def cli(
    deployment: Deployment | None, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = (
        ["--base-url", deployment.server.base_url, "--demo-json", str(demo_file(deployment))]
        if deployment
        else []
    )
    done = subprocess.run(
        [str(CLI), *args, *base],
        env=clean_env(**(env or {})),
        capture_output=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    # Decoded by hand: text mode would turn the progress bar's carriage returns into newlines.
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def ok(run: subprocess.CompletedProcess[str], deployment: Deployment | None = None) -> str:
    logs = deployment.logs() if deployment else ""
    assert run.returncode == 0, f"{run.args}\n{run.stdout}\n{run.stderr}\n{logs}"
    return run.stdout


def new_campaign(deployment: Deployment, name: str) -> dict[str, Any]:
    out = ok(
        cli(deployment, "campaigns", "create", "--name", name, "--control", "--json"), deployment
    )
    campaign: dict[str, Any] = json.loads(out)
    return campaign


# --- without a server ---------------------------------------------------------------------------


def test_the_csv_reader_takes_a_named_column_or_the_first_cell() -> None:
    text = "name,email,phone\nAda,ada@example.com,\nBob,,+14155550123\n\n,,\n"
    reader = csv.reader(io.StringIO(text))
    assert list(read_identifiers(iter(reader), lambda: reader.line_num)) == [
        (2, "ada@example.com"),
        (3, "+14155550123"),
    ]
    reader = csv.reader(io.StringIO("a@example.com\n\n 4155550123 \n"))
    assert list(read_identifiers(iter(reader), lambda: reader.line_num)) == [
        (1, "a@example.com"),
        (3, "4155550123"),
    ]


def test_missing_credentials_are_a_usage_error() -> None:
    run = cli(None, "discover", env={"BESTOW_BASE_URL": "http://127.0.0.1:9"})
    assert run.returncode == 2
    assert "BESTOW_PARTNER_CLIENT_ID" in run.stderr


def test_webhooks_listen_verifies_a_signed_post_and_refuses_a_tampered_one() -> None:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    other = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    listener = subprocess.Popen(
        [
            *(str(CLI), "webhooks", "listen", "--port", "0", "--count", "1"),
            *("--secret", other, "--secret", secret),
        ],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert listener.stderr is not None
        first = listener.stderr.readline()
        assert first.startswith("listening on http://127.0.0.1:"), first
        url = first.split()[2]
        body = json.dumps(
            {
                "event": "reward.issued",
                "timestamp": "2026-11-22T06:11:25Z",
                "data": {"reward_id": "rwd_1"},
            }
        )
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": "evt_cli_test_1",
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign("evt_cli_test_1", now, body),
        }
        tampered = httpx.post(url, content=body.replace("rwd_1", "rwd_2"), headers=headers)
        assert tampered.status_code == 401
        signed = httpx.post(url, content=body, headers=headers)
        assert signed.status_code == 200, signed.text
        out, err = listener.communicate(timeout=20)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait(timeout=10)
    assert listener.returncode == 0, err
    assert out.strip() == "reward.issued evt_cli_test_1"
    assert "refused evt_cli_test_1" in err


# --- against a server and a worker --------------------------------------------------------------


@pytest.mark.slow
def test_discover_lists_merchants_and_their_templates(deployment: Deployment) -> None:
    found = json.loads(ok(cli(deployment, "discover", "--json"), deployment))
    partner = deployment.demo["partner"]
    [merchant] = found["merchants"]
    assert merchant["id"] == partner["merchant_id"]
    assert {t["id"] for t in merchant["reward_templates"]} == set(partner["template_ids"])
    human = ok(cli(deployment, "discover"), deployment)
    assert human.splitlines()[0].startswith(f"merchant {partner['merchant_id']} ")
    assert f"  template {partner['template_id']} " in human


@pytest.mark.slow
def test_campaigns_create_makes_a_treatment_and_a_control(deployment: Deployment) -> None:
    campaign = new_campaign(deployment, "CLI test campaign")
    assert campaign["id"]
    variants = {v["name"]: v for v in campaign["variants"]}
    assert set(variants) == {"Treatment", "Control"}
    assert variants["Treatment"]["reward_template_id"] == deployment.demo["partner"]["template_id"]
    assert variants["Control"].get("reward_template_id") is None
    human = ok(cli(deployment, "campaigns", "create", "--name", "Plain", "--days", "7"), deployment)
    assert human.startswith("campaign ")
    assert "variant" in human and "Control" not in human


@pytest.mark.slow
def test_vouchers_points_and_operator_commands(deployment: Deployment) -> None:
    products = json.loads(ok(cli(deployment, "vouchers", "products", "--json"), deployment))
    fixed = next(p for p in products["products"] if not p["is_open_value"] and p["in_stock"])
    issued = ok(cli(deployment, "vouchers", "issue", fixed["code"], "--quantity", "2"), deployment)
    lines = issued.splitlines()
    assert len(lines) == 2 and all(line.startswith("voucher ") for line in lines), issued
    voucher_id = lines[0].split()[1]
    shown = ok(cli(deployment, "vouchers", "show", voucher_id), deployment)
    assert shown.startswith(f"voucher {voucher_id} ")

    awarded = ok(cli(deployment, "points", "award", "--amount", "5"), deployment)
    assert awarded.startswith("awarded 5 points: transaction "), awarded

    created = json.loads(
        ok(
            cli(deployment, "operator", "campaigns", "create", "--name", "CLI", "--json"),
            deployment,
        )
    )
    assert created["status"] == "Active"
    listed = ok(cli(deployment, "operator", "campaigns", "list"), deployment)
    assert f"campaign {created['id']} CLI Active" in listed
    cancelled = ok(cli(deployment, "operator", "campaigns", "cancel", created["id"]), deployment)
    assert cancelled.startswith(f"campaign {created['id']} CLI Cancelled")


@pytest.mark.slow
def test_issue_a_small_file_then_show_and_revoke_the_job(
    deployment: Deployment, tmp_path: Path
) -> None:
    members = deployment.demo["partner"]["members"]
    campaign = new_campaign(deployment, "CLI small issue")
    source = tmp_path / "small.csv"
    source.write_text(
        "name,email,phone\n"
        f"A,{members[0]['email']},\n"
        f"B,,{members[1]['phone'].removeprefix('+1')}\n"
        "C,ghost@example.org,\n"
    )
    out = ok(
        cli(
            deployment,
            "issue",
            "--campaign",
            campaign["id"],
            "--variant",
            "treatment",
            "--file",
            str(source),
            "--default-region",
            "US",
            "--json",
        ),
        deployment,
    )
    result = json.loads(out)
    [job] = result["jobs"]
    assert (job["state"], job["success_count"], job["failure_count"]) == ("completed", 2, 1)
    with Path(result["failures_file"]).open() as written:
        failures = list(csv.DictReader(written))
    assert [(f["line"], f["identifier"], f["reason"]) for f in failures] == [
        ("4", "ghost@example.org", "User not found")
    ]

    shown = ok(cli(deployment, "jobs", "show", job["id"]), deployment)
    assert shown.startswith(f"job {job['id']} completed: 3/3 processed (100%), 2 succeeded")
    assert "failure #2 (email): User not found" in shown
    as_json = json.loads(ok(cli(deployment, "jobs", "show", job["id"], "--json"), deployment))
    assert as_json["summary"]["success_count"] == 2

    revoked = ok(cli(deployment, "jobs", "revoke", job["id"], "--wait"), deployment)
    assert revoked.startswith(f"job {job['id']} revoked")
    again = cli(deployment, "jobs", "revoke", job["id"])
    assert again.returncode == 1
    assert "UnprocessableEntityError: 422 INVALID_STATE" in again.stderr
    missing = cli(deployment, "jobs", "show", "ijb_doesnotexist")
    assert missing.returncode == 1 and "NotFoundError: 404" in missing.stderr


@pytest.mark.slow
def test_issue_25000_lines_in_three_jobs_with_every_failure_written(
    deployment: Deployment, tmp_path: Path
) -> None:
    members = deployment.demo["partner"]["members"]
    emails = [m["email"] for m in members[:5]]
    phones = [m["phone"] for m in members[5:10]]
    # Demo members spread across the three jobs (emails, and phones written without +1 as a
    # person would), bad phones here and there, unknown emails everywhere else.
    special: dict[int, str] = {}
    for n, email in enumerate(emails):
        special[1 + n * 5_000] = email
    for n, phone in enumerate(phones):
        digits = phone.removeprefix("+1")
        special[2_500 + n * 5_000] = f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    for n, bad in enumerate(BAD_PHONES):
        special[7 + n * 4_999] = bad
    lines = [special.get(n, f"nobody{n}@unknown.example.org") for n in range(1, BIG_LINES + 1)]
    source = tmp_path / "recipients.csv"
    source.write_text("\n".join(lines) + "\n")
    failures_csv = tmp_path / "failures.csv"
    campaign = new_campaign(deployment, "CLI 25k issue")

    started = time.monotonic()
    run = cli(
        deployment,
        "issue",
        "--campaign",
        campaign["id"],
        "--variant",
        "Treatment",
        "--file",
        str(source),
        "--default-region",
        "US",
        "--failures",
        str(failures_csv),
    )
    elapsed = time.monotonic() - started
    out = ok(run, deployment)
    print(f"25k issue: {elapsed:.1f} s on {deployment.database_url.split(':')[0]}")

    assert out.startswith("3 jobs, 24,995 identifiers sent, 5 refused before sending"), out
    assert "10 rewarded, 24,990 failures" in out
    assert "[##############################] 24,995/24,995 100%  jobs 3/3 done" in run.stderr
    assert "\r[" in run.stderr  # redrawn in place
    with failures_csv.open() as written:
        rows = list(csv.DictReader(written))
    assert len(rows) == 24_990
    client_side = [r for r in rows if not r["job_id"]]
    assert [(int(r["line"]), r["identifier"]) for r in client_side] == [
        (7 + n * 4_999, bad) for n, bad in enumerate(BAD_PHONES)
    ]
    assert all("not a" in r["reason"] and "phone number" in r["reason"] for r in client_side)
    server_side = [r for r in rows if r["job_id"]]
    assert len({r["job_id"] for r in server_side}) == 3
    assert all(r["reason"] == "User not found" for r in server_side)
    for row in server_side:
        assert lines[int(row["line"]) - 1] == row["identifier"]
        assert row["identifier"].startswith("nobody")
    demo_values = {*emails, *phones, *special.values()} - set(BAD_PHONES)
    assert not demo_values & {r["identifier"] for r in rows}
    assert elapsed < 60


@pytest.mark.slow
def test_the_certification_flow_example_passes(deployment: Deployment) -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "--demo-json",
            "-",
            "--base-url",
            deployment.server.base_url,
        ],
        input=deployment.demo_json,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    out = ok(run, deployment)
    print(out)  # the demo, shown with -s
    assert "[FAIL]" not in out
    for step in (
        "Discovery",
        "Campaign creation",
        "Issuance",
        "Monitoring",
        "Error handling",
        "Revocation",
    ):
        assert step in out, step
    assert "NotFoundError" in out
    assert "UnprocessableEntityError" in out
    assert "InvalidPhoneNumber" in out
    assert "User not found" in out
    assert out.splitlines()[-1].startswith("Certification flow: PASS")
