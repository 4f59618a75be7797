"""``bestow-client`` (and ``examples/certification_flow.py``) in their own processes, against a
real ``bestow serve`` and a real ``bestow worker`` seeded with ``bestow demo --json``."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from tests.fixtures.deployment import Deployment

from bestow_client.cli import BASE_URL, Context, build_parser, read_identifiers
from bestow_client.client import DEFAULT_BASE_URL, Bestow

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


def bare_cli(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI exactly as a user types it: no option added."""
    done = subprocess.run(
        [str(CLI), *args],
        env=clean_env(**(env or {})),
        capture_output=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


@dataclass
class Recorded:
    method: str
    path: str
    headers: list[tuple[str, str]]


@contextmanager
def recording_proxy(upstream: str) -> Iterator[tuple[str, list[Recorded]]]:
    """A real HTTP server on a free local port that records each request's headers, as any
    proxy's access log would, and forwards the request to ``upstream``; its URL and records."""
    records: list[Recorded] = []
    forward = httpx.Client(base_url=upstream, timeout=60.0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def relay(self) -> None:
            records.append(Recorded(self.command, self.path, list(self.headers.items())))
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hop = {"host", "connection", "content-length", "transfer-encoding"}
            answer = forward.request(
                self.command,
                self.path,
                content=body,
                headers=[(k, v) for k, v in self.headers.items() if k.lower() not in hop],
            )
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in hop | {"content-encoding"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay

        def log_message(self, format: str, *log_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", records
    finally:
        server.shutdown()
        server.server_close()
        forward.close()


def demo_secrets(demo: Any) -> set[str]:
    """Every credential in the demo document: tokens, client secrets and shared keys."""
    found: set[str] = set()
    if isinstance(demo, dict):
        for key, value in demo.items():
            secret_name = any(word in key for word in ("token", "secret", "shared_key"))
            if secret_name and isinstance(value, str) and key != "token_url":
                found.add(value)
            found |= demo_secrets(value)
    elif isinstance(demo, list):
        for value in demo:
            found |= demo_secrets(value)
    return found


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


def resolved_base_url(argv: list[str], demo: dict[str, Any]) -> str:
    args = build_parser().parse_args(argv)
    ctx = Context(args, demo, io.StringIO(), io.StringIO())
    with ctx.client() as bestow:
        return bestow.config.base_url


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        ("http://flag.test:1", "http://env.test:2", "http://flag.test:1"),
        (None, "http://env.test:2", "http://env.test:2"),
        (None, None, DEFAULT_BASE_URL),
    ],
    ids=["flag", "env", "default"],
)
def test_the_base_url_comes_from_the_flag_else_the_environment_else_the_default(
    flag: str | None,
    env: str | None,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BESTOW_BASE_URL", raising=False)
    if env:
        monkeypatch.setenv("BESTOW_BASE_URL", env)
    demo = {"partner": {"client_id": "cli_1", "access_token": "bst_pt_secret"}}
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(demo))
    base = ["--base-url", flag] if flag else []
    # With and without a demo document, before and after the command.
    assert resolved_base_url([*base, "discover"], {}) == expected
    assert resolved_base_url(["discover", *base, "--demo-json", str(path)], demo) == expected
    assert resolved_base_url(["--demo-json", str(path), "discover", *base], demo) == expected


def test_the_demo_document_is_never_a_setting_itself(tmp_path: Path) -> None:
    """The demo has no base URL or app name: they must not resolve to the document."""
    demo = {"admin": {"token": "bst_adm_secret"}, "base_url": {"nested": "object"}}
    args = build_parser().parse_args(["discover"])
    ctx = Context(args, demo, io.StringIO(), io.StringIO())
    assert ctx.value(BASE_URL) == DEFAULT_BASE_URL
    with ctx.client() as bestow:
        assert bestow.config.user_agent.startswith("bestow-client-cli bestow-client/")
        assert "bst_adm_secret" not in bestow.config.user_agent


def test_the_sdk_refuses_a_base_url_or_app_name_that_cannot_be_one() -> None:
    with pytest.raises(ValueError, match="base_url must start with http"):
        Bestow(base_url="127.0.0.1:8000")
    with pytest.raises(ValueError, match="app_name must be at most 100 printable ASCII"):
        Bestow(base_url=DEFAULT_BASE_URL, app_name=json.dumps({"admin": {"token": "x" * 200}}))
    with pytest.raises(ValueError, match="app_name"):
        Bestow(base_url=DEFAULT_BASE_URL, app_name="acme\r\nX-Injected: 1")


def test_credential_options_are_listed_once_and_accepted_anywhere() -> None:
    main_help = ok(bare_cli("--help"))
    assert main_help.count("--operator-shared-key") == 2  # the usage line and its description
    assert "env BESTOW_PARTNER_ACCESS_TOKEN" in main_help
    for command in (["issue"], ["jobs", "show"], ["operator", "bets", "place"]):
        sub_help = ok(bare_cli(*command, "--help"))
        assert "--access-token" not in sub_help, command
        assert "listed once, by `bestow-client --help`" in " ".join(sub_help.split())
    # Still accepted after the command, as before.
    run = bare_cli(
        "discover", "--client-id", "cli_x", env={"BESTOW_BASE_URL": "http://127.0.0.1:9"}
    )
    assert run.returncode == 2 and "BESTOW_PARTNER_ACCESS_TOKEN" in run.stderr


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
    every = tmp_path / "every-failure.csv"
    watched = ok(cli(deployment, "jobs", "watch", job["id"], "--failures-csv", str(every)))
    assert f"1 failures written to {every}" in watched
    with every.open() as written:
        assert [
            (f["job_id"], f["identifier_index"], f["identifier_type"], f["reason"])
            for f in csv.DictReader(written)
        ] == [(job["id"], "2", "email", "User not found")]

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

    # jobs show writes every failure of a job, thousands of them, not the 20 it prints.
    first_job = server_side[0]["job_id"]
    job_csv = tmp_path / "job.csv"
    shown = ok(cli(deployment, "jobs", "show", first_job, "--failures-csv", str(job_csv)))
    assert "  ... " in shown  # the printout is cut short
    with job_csv.open() as written:
        job_rows = list(csv.DictReader(written))
    expected = [r for r in server_side if r["job_id"] == first_job]
    assert len(job_rows) == len(expected) > 8_000
    assert [int(r["identifier_index"]) for r in job_rows] == sorted(
        int(r["identifier_index"]) for r in expected
    )


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


USER_AGENT = re.compile(r"^bestow-client-cli bestow-client/\d+\.\d+\.\d+ \(python-httpx\)$")
CREDENTIAL_HEADERS = {"authorization", "x-auth-request-hash"}


@pytest.mark.slow
def test_with_only_demo_json_the_cli_sends_its_name_and_no_credential_outside_auth_headers(
    deployment: Deployment, tmp_path: Path
) -> None:
    """Every surface through a recording proxy: the base URL from the environment, every
    credential from ``--demo-json``, as the examples do."""
    secrets_ = demo_secrets(deployment.demo)
    assert len(secrets_) >= 6  # admin, partner, vouchers, loyalty and operator credentials
    demo = str(demo_file(deployment))
    members = deployment.demo["partner"]["members"]
    source = tmp_path / "one.csv"
    source.write_text(f"{members[2]['email']}\n")
    with recording_proxy(deployment.server.base_url) as (url, records):
        ok(bare_cli("--base-url", url, "discover", "--demo-json", demo), deployment)
        env = {"BESTOW_BASE_URL": url}
        ok(bare_cli("discover", "--demo-json", demo, env=env), deployment)
        campaign = ok(
            bare_cli(
                "campaigns", "create", "--name", "Headers", "-q", "--demo-json", demo, env=env
            ),
            deployment,
        ).strip()
        ok(
            bare_cli(
                *("issue", "--campaign", campaign, "--variant", "Treatment"),
                *("--file", str(source), "--no-progress", "--demo-json", demo),
                env=env,
            ),
            deployment,
        )
        ok(bare_cli("vouchers", "products", "--demo-json", demo, env=env), deployment)
        ok(bare_cli("points", "award", "--amount", "1", "--demo-json", demo, env=env), deployment)
        ok(bare_cli("operator", "campaigns", "list", "--demo-json", demo, env=env), deployment)
    surfaces = {r.path.split("/")[1].split("?")[0] for r in records}
    assert {"partner", "v3", "oauth2", "client", "v1"} <= surfaces, surfaces
    for record in records:
        headers = {name.lower(): value for name, value in record.headers}
        assert USER_AGENT.match(headers["user-agent"]), headers["user-agent"][:200]
        for name, value in record.headers:
            if name.lower() in CREDENTIAL_HEADERS:
                continue
            leaked = [s for s in secrets_ if s in value]
            assert not leaked, f"{record.method} {record.path}: {name} carries a credential"
        outside = sum(len(v) for n, v in record.headers if n.lower() not in CREDENTIAL_HEADERS)
        assert outside < 1024, f"{record.method} {record.path}: {outside} bytes of headers"


@pytest.mark.slow
def test_issuing_the_same_file_again_says_it_was_a_replay(
    deployment: Deployment, tmp_path: Path
) -> None:
    members = deployment.demo["partner"]["members"]
    campaign = new_campaign(deployment, "CLI replay")
    source = tmp_path / "again.csv"
    source.write_text(f"{members[3]['email']}\n{members[4]['email']}\n")
    args = ("issue", "--campaign", campaign["id"], "--variant", "Treatment", "--file", str(source))
    first = ok(cli(deployment, *args), deployment)
    assert "replayed" not in first
    again = ok(cli(deployment, *args), deployment)
    assert "(replayed)" in again
    assert "replayed: all jobs answered from an earlier identical request" in again
    as_json = json.loads(ok(cli(deployment, *args, "--json"), deployment))
    assert as_json["replayed"] is True
    assert [j["replayed"] for j in as_json["jobs"]] == [True]
    assert as_json["success_count"] == 2  # the first run's, not issued again
    anew = json.loads(ok(cli(deployment, *args, "--idempotency-key", "fresh-1", "--json")))
    assert anew["replayed"] is False


@pytest.mark.slow
def test_operator_rewards_enrollments_bulk_and_bets_commands(
    deployment: Deployment, tmp_path: Path
) -> None:
    def run(*args: str) -> str:
        return ok(cli(deployment, "operator", *args), deployment)

    campaign = run("campaigns", "create", "--name", "CLI rewards", "-q").strip()
    assert run("campaigns", "show", campaign).startswith(f"campaign {campaign} CLI rewards Active")
    reward = json.loads(
        run(
            *("rewards", "create", "--campaign", campaign, "--name", "Three spins"),
            *("--bet-value", "0.50", "--bet-count", "3", "--json"),
        )
    )
    assert (reward["status"], reward["freeBetDetails"]["betCount"]) == ("Active", 3)
    listed = run("rewards", "list", "--campaign", campaign)
    assert listed.startswith(f"reward {reward['id']} Three spins Active Fixed: 3 bets of 0.5 EUR")
    ranged = run(
        *("rewards", "create", "--campaign", campaign, "--name", "Pick", "--product", "demo-slots"),
        *("--min-bet-value", "0.10", "--max-bet-value", "1", "--min-bet-count", "1"),
        *("--max-bet-count", "5", "--end", "2099-01-01T00:00:00+00:00"),
    )
    assert "Ranged: 1-5 bets of 0.1-1.0 EUR on demo-slots" in ranged, ranged
    half = cli(deployment, "operator", "rewards", "create", "--name", "x", "--bet-value", "1")
    assert half.returncode == 2 and "needs --bet-value and --bet-count" in half.stderr

    enrollment = run(
        "enrollments", "create", "player-cli-1", "--reward", reward["id"], "-q"
    ).strip()
    shown = run("enrollments", "show", enrollment)
    assert shown == f"enrollment {enrollment} player player-cli-1 New: 3/3 bets of 0.5 EUR left\n"
    product = deployment.demo["operator"]["products"][0]
    bet = run("bets", "place", enrollment, "--bet-id", "bet-cli-1")
    assert bet.startswith("bet bet-cli-1 (") and f"on {product}: 0.5, 2 left" in bet
    again = run("bets", "place", enrollment, "--bet-id", "bet-cli-1")
    assert again == bet  # idempotent by its betId
    assert run("bets", "list", enrollment).count("bet bet-cli-1 ") == 1

    players = tmp_path / "players.csv"
    players.write_text("player_id\n" + "".join(f"bulk-cli-{n}\n" for n in range(20)))
    bulk = json.loads(
        run(
            *("bulk", "create", "--reward", reward["id"], "--file", str(players)),
            *("--player", "player-cli-1", "--wait", "--json"),
        )
    )
    assert (bulk["status"], bulk["enrolledCount"], bulk["existingCount"]) == ("Completed", 20, 1)
    assert run("bulk", "show", bulk["id"], "--reward", reward["id"]).startswith(
        f"bulk {bulk['id']} Completed: 21/21 processed, 20 enrolled, 1 existing, 0 failed"
    )
    everyone = run("enrollments", "list", "--reward", reward["id"], "-q").split()
    assert len(everyone) == 21 and enrollment in everyone
    mine = run("enrollments", "list", "--player", "player-cli-1")
    assert mine.startswith(f"enrollment {enrollment} player player-cli-1 Active: 2/3")

    cancelled = run("enrollments", "cancel", everyone[-1])
    assert " Cancelled: " in cancelled
    assert " Cancelled Fixed" in run("rewards", "cancel", reward["id"])
    assert f"campaign {campaign} CLI rewards Cancelled" in run("campaigns", "cancel", campaign)
