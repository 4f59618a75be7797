"""``bestow certify``, run as a real process against a live ``bestow serve`` on each test
database: the checklist, runs opened and closed by hand or around an integrator's script (its
window, its faults scheduled then removed, its exit code), the report in every format,
attestations and the errors a person meets (an unknown client, a bad time, a production
client)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from bestow.deps import Runtime
from bestow.lab.certification.checklists import checklist_of
from tests.cli.helpers import bestow
from tests.fixtures.deployment import Serving
from tests.surfaces.partner.helpers import Partner, new_partner

pytestmark = pytest.mark.slow  # a live server and the CLI in its own processes

DEMO_ITEM = "partner.submission.demo"

SCRIPT = """
import json, os, sys

import httpx

base, token = os.environ["CERT_BASE_URL"], os.environ["CERT_TOKEN"]
client = os.environ["CERT_CLIENT"]
headers = {
    "Authorization": f"Bearer {token}",
    "X-ClientId": client,
    "Accept-Version": "v4.0",
    "User-Agent": "certification-cli-test/1.0",
}
print("the integration suite speaks on standard output")
seen = []
with httpx.Client(base_url=base, timeout=10) as http:
    for _ in range(2):
        answer = http.get("/partner/merchants", headers=headers)
        seen.append({"id": answer.headers["x-request-id"], "status": answer.status_code})
    if os.environ.get("CERT_CARELESS"):
        bare = {k: v for k, v in headers.items() if k != "Accept-Version"}
        answer = http.get("/partner/merchants", headers=bare)
        seen.append({"id": answer.headers["x-request-id"], "status": answer.status_code, "bare": 1})
    if os.environ.get("CERT_ISSUE"):
        answer = http.post(
            "/partner/campaigns/issue",
            json={
                "merchant_id": os.environ["CERT_MERCHANT"],
                "campaign_id": "cmp_missing",
                "identifiers": [{"type": "email", "value": "someone@example.com"}],
            },
            headers={**headers, "X-Idempotency-Key": "cert-cli-1"},
        )
        seen.append({"id": answer.headers["x-request-id"], "status": answer.status_code})
with open(os.environ["CERT_OUT"], "w") as out:
    json.dump({"run": os.environ.get("BESTOW_CERTIFICATION_RUN"), "requests": seen}, out)
sys.exit(int(os.environ.get("CERT_EXIT", "0")))
"""


@pytest.fixture
async def partner(runtime: Runtime) -> Partner:
    return await new_partner(runtime, environment="uat")


def cli(served: Serving, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return bestow({**served.env, **env}, "certify", *args)


def ok_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def refused(done: subprocess.CompletedProcess[str]) -> str:
    """The message of a command that failed as it should: exit 1, a clear line, no traceback."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: "), done.stderr
    return done.stderr


def report_exit(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """A report printed as JSON by a command whose exit status follows ``passed``."""
    assert "Traceback" not in done.stderr, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == (0 if report["passed"] else 1), (done.returncode, done.stderr)
    return report


def item(report: dict[str, Any], item_id: str) -> dict[str, Any]:
    [found] = [i for i in report["items"] if i["id"] == item_id]
    return found


def evidence_ids(found: dict[str, Any]) -> list[str]:
    return [e["request_id"] for e in found["evidence"] if "request_id" in e]


def script_env(served: Serving, partner: Partner, out: Path, **extra: str) -> dict[str, str]:
    return {
        "CERT_BASE_URL": served.server.base_url,
        "CERT_TOKEN": partner.token,
        "CERT_CLIENT": partner.client_id,
        "CERT_MERCHANT": partner.merchant_id,
        "CERT_OUT": str(out),
        **extra,
    }


def script(tmp_path: Path) -> list[str]:
    path = tmp_path / "integration_suite.py"
    path.write_text(SCRIPT)
    return [sys.executable, str(path)]


def requests_of(served: Serving, client_id: str) -> list[dict[str, Any]]:
    done = bestow(served.env, "requests", "list", "--client", client_id, "--json")
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)["data"]
    return rows


def partner_get(served: Serving, partner: Partner, *drop: str) -> str:
    """``GET /partner/merchants`` on the live server, without the ``drop`` headers; its id."""
    headers = {k: v for k, v in partner.headers(**{"User-Agent": "cli/1"}).items() if k not in drop}
    answer = httpx.get(f"{served.server.base_url}/partner/merchants", headers=headers, timeout=10)
    request_id: str = answer.headers["x-request-id"]
    return request_id


def test_checklist_lists_every_partner_item_and_the_faults_of_a_run(served: Serving) -> None:
    expected = checklist_of("partner")

    listed = ok_json(cli(served, "checklist", "--surface", "partner", "--json"))

    assert [i["id"] for i in listed["items"]] == [i.id for i in expected.items]
    assert [i["kind"] for i in listed["items"]] == [i.kind for i in expected.items]
    assert item(listed, "partner.headers.accept_version")["text"] == (
        "All requests include `Accept-Version: v4.0` header"
    )
    assert {f["kind"] for f in listed["faults"]} == {f.kind for f in expected.faults}
    table = cli(served, "checklist", "--surface", "partner")
    assert table.returncode == 0, table.stderr
    for found in expected.items:
        assert found.id in table.stdout
    unknown = cli(served, "checklist", "--surface", "bingo")
    assert unknown.returncode == 2 and "bingo" in unknown.stderr


def test_run_judges_the_scripts_requests_with_its_faults_then_removes_them(
    served: Serving, partner: Partner, tmp_path: Path
) -> None:
    out = tmp_path / "seen.json"
    env = script_env(served, partner, out, CERT_CARELESS="1", CERT_ISSUE="1")

    done = cli(
        served,
        "run",
        "--client",
        partner.client_id,
        "--surface",
        "partner",
        "--faults",
        "--json",
        "--",
        *script(tmp_path),
        **env,
    )

    report = report_exit(done)  # standard output holds the report alone
    assert "the integration suite speaks on standard output" in done.stderr
    assert done.returncode == 1  # the careless request fails Accept-Version
    seen = json.loads(out.read_text())
    run_id = seen["run"]
    assert run_id and f"run {run_id} opened on partner" in done.stderr
    assert report["window"]["run_id"] == run_id
    assert report["window"]["source"] == "run"
    ids = [r["id"] for r in seen["requests"]]
    assert report["window"]["requests"] == len(ids) == 4
    version = item(report, "partner.headers.accept_version")
    assert version["status"] == "fail"
    assert evidence_ids(version) == [r["id"] for r in seen["requests"] if r.get("bare")]
    assert evidence_ids(item(report, "partner.headers.client_id")) == [ids[0], ids[-1]]
    # The run's first fault (a 429 on issue) met the script's issue; the log says so.
    assert seen["requests"][-1]["status"] == 429
    logged = {r["request_id"]: r for r in requests_of(served, partner.client_id)}
    assert set(logged) == set(ids)
    assert logged[ids[-1]]["fault"] == "rate_limit"
    # Closed: its fault rules (made when it opened) are gone, the run stored with its verdict.
    runs = ok_json(cli(served, "runs", partner.client_id, "--json"))["data"]
    assert [(r["id"], r["state"], r["passed"]) for r in runs] == [(run_id, "closed", False)]
    assert len(runs[0]["fault_rule_ids"]) == len(checklist_of("partner").faults)
    left = bestow(served.env, "faults", "list", partner.client_id, "--json")
    assert left.returncode == 0, left.stderr
    assert json.loads(left.stdout)["data"] == []


def test_run_exit_status_follows_the_report_and_the_command(
    served: Serving, partner: Partner, tmp_path: Path
) -> None:
    attested = cli(served, "attest", partner.client_id, DEMO_ITEM, "--note", "demo call held")
    assert attested.returncode == 0, attested.stderr
    out = tmp_path / "seen.json"
    env = script_env(served, partner, out)
    args = ("run", "--client", partner.client_id, "--surface", "partner", "--json", "--")

    done = cli(served, *args, *script(tmp_path), **env)

    report = report_exit(done)  # 0 exactly when every item holds
    seen = json.loads(out.read_text())
    assert report["window"]["requests"] == 2
    for header in ("authorization", "client_id", "accept_version", "user_agent"):
        found = item(report, f"partner.headers.{header}")
        assert found["status"] == "pass", found
        assert evidence_ids(found) == [r["id"] for r in seen["requests"]]
    assert item(report, DEMO_ITEM)["status"] == "attested"
    # The script failing fails the run, whatever the report says.
    failing = cli(served, *args, *script(tmp_path), **env, CERT_EXIT="3")
    assert failing.returncode == 1, failing.stderr
    assert "the command exited 3" in failing.stderr
    assert json.loads(failing.stdout)["window"]["requests"] == 2
    nothing = cli(served, "run", "--client", partner.client_id, "--surface", "partner")
    assert "give the integrator's test command after --" in refused(nothing)


def test_open_then_close_judges_the_requests_between(served: Serving, partner: Partner) -> None:
    before = partner_get(served, partner)
    opened = cli(served, "open", partner.client_id, "--surface", "partner")
    assert opened.returncode == 0, opened.stderr
    run_id = opened.stdout.strip()
    again = cli(served, "open", partner.client_id, "--surface", "partner")
    assert f"run {run_id}" in refused(again) and "still open" in again.stderr
    inside = partner_get(served, partner)
    bare = partner_get(served, partner, "X-ClientId")

    closed = cli(served, "close", partner.client_id, run_id, "--json")

    report = report_exit(closed)
    assert report["passed"] is False
    assert report["window"]["run_id"] == run_id
    found = item(report, "partner.headers.client_id")
    assert before not in evidence_ids(found)
    if found["status"] == "fail":  # a request without X-ClientId may not be the client's
        assert evidence_ids(found) == [bare]
    else:
        assert evidence_ids(found) == [inside]
    twice = cli(served, "close", partner.client_id, run_id)
    assert "already closed" in refused(twice)
    listed = cli(served, "runs", partner.client_id)
    assert listed.returncode == 0 and run_id in listed.stdout and "closed" in listed.stdout


def test_report_in_json_markdown_html_and_as_a_table(
    served: Serving, partner: Partner, tmp_path: Path
) -> None:
    first = partner_get(served, partner)
    offending = partner_get(served, partner, "Accept-Version")
    base = ("report", partner.client_id, "--surface", "partner")

    report = report_exit(cli(served, *base, "--json"))

    assert report["client_id"] == partner.client_id
    assert report["window"]["source"] == "retention"
    assert report["window"]["requests"] == 2
    assert evidence_ids(item(report, "partner.headers.accept_version")) == [offending]
    assert evidence_ids(item(report, "partner.headers.authorization")) == [first, offending]
    markdown = cli(served, *base, "--markdown")
    assert markdown.returncode == 1, markdown.stderr
    assert markdown.stdout.startswith("# Certification report: ")
    assert "**Not passed.**" in markdown.stdout
    assert f"request {offending}" in markdown.stdout
    assert "`partner.headers.accept_version`" in markdown.stdout
    page = tmp_path / "report.html"
    html = cli(served, *base, "--html", str(page))
    assert html.returncode == 1, html.stderr
    assert f"wrote {page}" in html.stdout
    assert f"partner: NOT PASSED ({len(report['items'])} items" in html.stdout
    written = page.read_text(encoding="utf-8")
    assert written.startswith("<!doctype html>")
    assert written.rstrip().endswith("</html>")
    lowered = written.lower()
    for outside in ("<script", "<link", "src=", "@import", "url("):
        assert outside not in lowered, outside
    assert "All requests include `Accept-Version: v4.0` header" in written
    assert offending in written
    # --html beside --json: the page is written and the JSON alone is on stdout.
    both = tmp_path / "both.html"
    with_json = report_exit(cli(served, *base, "--json", "--html", str(both)))
    assert with_json["items"] == report["items"]
    assert both.read_text(encoding="utf-8").startswith("<!doctype html>")
    table = cli(served, *base)
    assert table.returncode == 1, table.stderr
    assert "FAIL" in table.stdout and "partner.headers.accept_version" in table.stdout
    assert f"request {offending}" in table.stdout
    assert "partner: NOT PASSED" in table.stdout
    # A window asked for: nothing before the requests.
    empty = report_exit(cli(served, *base, "--until", "2020-01-01T00:00:00Z", "--json"))
    assert empty["window"]["requests"] == 0
    assert empty["window"]["source"] == "given"


def test_attest_withdraw_and_runs(served: Serving, partner: Partner) -> None:
    assert "no certification runs" in cli(served, "runs", partner.client_id).stderr
    made = ok_json(
        cli(served, "attest", partner.client_id, DEMO_ITEM, "--note", "walked through", "--json")
    )
    assert (made["client_id"], made["item_id"]) == (partner.client_id, DEMO_ITEM)
    base = ("report", partner.client_id, "--surface", "partner", "--json")
    found = item(report_exit(cli(served, *base)), DEMO_ITEM)
    assert found["status"] == "attested"
    assert "walked through" in found["evidence"][0]["note"]
    automatic = cli(
        served, "attest", partner.client_id, "partner.headers.authorization", "--note", "x"
    )
    assert "judged from traffic" in refused(automatic)

    withdrawn = cli(served, "withdraw", partner.client_id, DEMO_ITEM)

    assert withdrawn.returncode == 0, withdrawn.stderr
    assert f"withdrew {DEMO_ITEM}" in withdrawn.stdout
    assert item(report_exit(cli(served, *base)), DEMO_ITEM)["status"] == "not_attested"
    assert "is not attested" in refused(cli(served, "withdraw", partner.client_id, DEMO_ITEM))
    unknown_item = cli(served, "attest", partner.client_id, "partner.nope", "--note", "x")
    assert "partner.nope" in refused(unknown_item)


def test_errors_are_one_clear_line(served: Serving, partner: Partner) -> None:
    unknown = cli(served, "report", "cli_missing", "--surface", "partner")
    assert "cli_missing" in refused(unknown)
    assert "cli_missing" in refused(cli(served, "runs", "cli_missing"))
    assert "cli_missing" in refused(cli(served, "open", "cli_missing", "--surface", "partner"))
    bad_since = cli(served, "report", partner.client_id, "--surface", "partner", "--since", "soon")
    assert "--since takes an ISO 8601 time" in refused(bad_since)
    backwards = cli(
        served,
        "report",
        partner.client_id,
        "--surface",
        "partner",
        "--since",
        "2026-01-02T00:00:00Z",
        "--until",
        "2026-01-01T00:00:00Z",
    )
    assert "since must be before until" in refused(backwards)
    unknown_run = cli(served, "report", partner.client_id, "--surface", "partner", "--run", "x")
    assert "no certification run x" in refused(unknown_run)


async def test_a_production_client_is_not_certified(
    served: Serving, runtime: Runtime, tmp_path: Path
) -> None:
    production = await new_partner(runtime, environment="production")
    opened = cli(served, "open", production.client_id, "--surface", "partner")
    assert "a production client is not certified" in refused(opened)
    out = tmp_path / "seen.json"

    ran = cli(
        served,
        "run",
        "--client",
        production.client_id,
        "--surface",
        "partner",
        "--faults",
        "--",
        *script(tmp_path),
        **script_env(served, production, out),
    )

    assert "a production client is not certified" in refused(ran)
    assert not out.exists()  # refused before the script ran
    assert "no certification runs" in cli(served, "runs", production.client_id).stderr
