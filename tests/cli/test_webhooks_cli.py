"""``bestow webhooks``: endpoints, secrets, deliveries of real sends and replays, in process with
Typer's runner (and ``create --json`` once as a real subprocess, a contract outside tests rely on).
On each test database."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner, Result

from bestow.cli.main import app
from bestow.config import Settings, get_settings
from bestow.deps import Runtime
from bestow.models import WebhookDelivery, WebhookEndpoint
from tests.cli.helpers import CLI_ACTOR, bestow, failed, ok
from tests.conftest import unique
from tests.fixtures.receiver import Received, Receiver
from tests.webhooks.helpers import dispatching, emit, poll

T = TypeVar("T")
Invoke = Callable[..., Result]

ENDPOINT_COLUMNS = ["id", "client_id", "url", "enabled", "event_types", "max_attempts"]
ATTEMPT_COLUMNS = [
    "created_at",
    "event_id",
    "attempt",
    "origin",
    "success",
    "status_code",
    "latency_ms",
    "error",
]
DELIVERY_COLUMNS = [
    "event_id",
    "event_type",
    "state",
    "attempt_count",
    "next_attempt_at",
    "last_status_code",
    "last_error",
]
URL = "http://127.0.0.1:9/hooks"
"""An endpoint URL for tests that never send (nothing listens on the discard port)."""


@pytest.fixture
def cli_env(database_url: str, var_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "BESTOW_DATABASE_URL": database_url,
        "BESTOW_SECRET_KEY": "test-secret-key-GtBMkZLOobCcQmeVCcWtFLRRYQxBN0wpRbSqPwddtpA",
        "BESTOW_VAR_DIR": str(var_dir),
    }
    env.pop("BESTOW_ADMIN_TOKEN", None)
    env.pop("BESTOW_WEBHOOK_SECRET_OVERLAP_SECONDS", None)
    return env


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Iterator[Invoke]:
    """Run a command in this process; settings are read afresh from the test environment (with
    ``env`` added)."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        get_settings.cache_clear()
        try:
            return runner.invoke(
                app, list(args), env={**cli_env, **(env or {})}, catch_exceptions=False
            )
        finally:
            get_settings.cache_clear()

    yield invoke


def new_client(cli: Invoke) -> str:
    client_id: str = ok(cli("clients", "create", "--name", unique("hooks"), "--json"))["id"]
    return client_id


def create(cli: Invoke, client_id: str, *args: str, url: str = URL) -> dict[str, Any]:
    created: dict[str, Any] = ok(
        cli("webhooks", "create", "--client-id", client_id, "--url", url, *args, "--json")
    )
    return created


def audit_actions(cli: Invoke, endpoint_id: str) -> list[str]:
    result = cli(
        "audit",
        "list",
        "--target-type",
        "webhook_endpoint",
        "--target-id",
        endpoint_id,
        "--limit",
        "500",
        "--json",
    )
    entries = ok(result)["data"]
    assert all(entry["actor"] == CLI_ACTOR for entry in entries)
    assert "whsec_" not in result.stdout
    return [entry["action"] for entry in entries]


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def table(result: Result) -> list[list[str]]:
    """The rows of a printed table, split on whitespace (header first)."""
    assert result.exit_code == 0, result.output
    return [line.split() for line in result.stdout.splitlines() if line.strip()]


# Real deliveries ----------------------------------------------------------------------------


async def delivery_states(runtime: Runtime, endpoint_id: str) -> dict[str, tuple[str, int]]:
    """Each delivery of the endpoint: event id -> (state, attempt_count)."""
    async with runtime.db.session() as session:
        rows = await session.execute(
            select(
                WebhookDelivery.event_id, WebhookDelivery.state, WebhookDelivery.attempt_count
            ).where(WebhookDelivery.endpoint_id == endpoint_id)
        )
        return {event_id: (state, count) for event_id, state, count in rows}


async def dispatch_until(
    runtime: Runtime, settings: Settings, endpoint_id: str, expected: dict[str, tuple[str, int]]
) -> None:
    """Run a dispatcher until the endpoint's deliveries are in the ``expected`` states."""

    async def reached() -> bool:
        return await delivery_states(runtime, endpoint_id) == expected

    async with dispatching(runtime, settings):
        await poll(reached, f"deliveries of {endpoint_id} in states {expected}")


async def give_up(runtime: Runtime, endpoint_id: str) -> None:
    """Fail the endpoint's pending deliveries, so no later dispatcher sends to a receiver gone."""
    async with runtime.db.write_session() as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.state == "pending")
            .values(state="failed", last_error="given up by the test")
        )
        await session.commit()


# The JSON contract, in a subprocess ---------------------------------------------------------


@pytest.mark.slow
async def test_create_json_prints_the_id_and_the_secret_in_a_real_process(
    cli_env: dict[str, str], cli: Invoke, runtime: Runtime
) -> None:
    client_id = await asyncio.to_thread(new_client, cli)

    done = await asyncio.to_thread(
        bestow,
        cli_env,
        "webhooks",
        "create",
        "--client-id",
        client_id,
        "--url",
        "https://hooks.example.com/bestow",
        "--events",
        "reward.issued,reward_batch.completed",
        "--json",
    )

    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert created["id"].startswith("ep_")
    assert created["secret"].startswith("whsec_")
    assert created["client_id"] == client_id
    assert created["event_types"] == ["reward.issued", "reward_batch.completed"]
    async with runtime.db.session() as session:
        row = await session.get(WebhookEndpoint, created["id"])
        assert row is not None
    assert runtime.sealer.unseal(row.sealed_secret) == created["secret"]
    shown = await asyncio.to_thread(cli, "webhooks", "show", created["id"], "--json")
    assert created["secret"] not in shown.stdout
    assert ok(shown) == {k: v for k, v in created.items() if k != "secret"}


# Endpoints ----------------------------------------------------------------------------------


def test_endpoints_are_created_listed_shown_and_updated(cli: Invoke) -> None:
    client_id = new_client(cli)
    other_id = new_client(cli)
    created = create(
        cli,
        client_id,
        "--events",
        "reward_batch.completed, reward.issued",
        "--description",
        "Orders",
        "--max-attempts",
        "3",
        "--header",
        "X-Api-Key: k-1",
    )
    second = create(cli, client_id, "--disabled")
    create(cli, other_id)

    listed = ok(cli("webhooks", "list", "--client-id", client_id, "--json"))
    shown = ok(cli("webhooks", "show", created["id"], "--json"))
    all_types = ok(cli("webhooks", "update", created["id"], "--events", "", "--json"))
    headers = ok(
        cli(
            "webhooks",
            "update",
            created["id"],
            "--header",
            "X-A: 1",
            "--header",
            "X-B:  two words ",
            "--json",
        )
    )
    cleared = ok(cli("webhooks", "update", created["id"], "--clear-headers", "--json"))
    moved = ok(
        cli(
            "webhooks",
            "update",
            created["id"],
            "--url",
            "https://other.example.com/h",
            "--max-attempts",
            "1",
            "--description",
            "Renamed",
            "--json",
        )
    )

    secret = created.pop("secret")
    assert secret.startswith("whsec_")
    assert created["event_types"] == ["reward.issued", "reward_batch.completed"]
    assert (created["description"], created["max_attempts"]) == ("Orders", 3)
    assert created["headers"] == {"X-Api-Key": "k-1"}
    assert (second["enabled"], second["disabled_reason"]) == (False, "disabled by an operator")
    assert [e["id"] for e in listed["data"]] == sorted([created["id"], second["id"]])
    assert listed["next_cursor"] is None
    assert secret not in json.dumps(listed) and secret not in json.dumps(shown)
    assert shown == created
    assert all_types["event_types"] == []
    assert (all_types["headers"], all_types["description"]) == ({"X-Api-Key": "k-1"}, "Orders")
    assert headers["headers"] == {"X-A": "1", "X-B": "two words"}
    assert headers["event_types"] == [] and headers["max_attempts"] == 3
    assert cleared["headers"] == {}
    assert (moved["url"], moved["max_attempts"], moved["description"]) == (
        "https://other.example.com/h",
        1,
        "Renamed",
    )
    assert moved["headers"] == {} and moved["event_types"] == []
    assert (
        audit_actions(cli, created["id"])
        == ["webhook_endpoint.created"] + ["webhook_endpoint.updated"] * 4
    )


def test_an_endpoint_is_disabled_and_enabled(cli: Invoke) -> None:
    endpoint_id = create(cli, new_client(cli))["id"]

    disabled = ok(cli("webhooks", "disable", endpoint_id, "--json"))
    enabled = ok(cli("webhooks", "enable", endpoint_id, "--json"))

    assert (disabled["enabled"], disabled["disabled_reason"]) == (False, "disabled by an operator")
    assert (enabled["enabled"], enabled["disabled_reason"], enabled["failing_since"]) == (
        True,
        None,
        None,
    )
    assert (
        audit_actions(cli, endpoint_id)
        == ["webhook_endpoint.created"] + ["webhook_endpoint.updated"] * 2
    )


def test_plain_output_prints_the_secret_once_and_lists_a_table(cli: Invoke) -> None:
    client_id = new_client(cli)

    result = cli("webhooks", "create", "--client-id", client_id, "--url", URL)
    listed = cli("webhooks", "list", "--client-id", client_id)
    empty = cli("webhooks", "list", "--client-id", "cli_nobody")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    secret_lines = [line for line in lines if "shown once" in line]
    assert len(secret_lines) == 1
    secret = secret_lines[0].rsplit(" ", 1)[1]
    assert secret.startswith("whsec_")
    assert "whsec_" not in "\n".join(line for line in lines if "shown once" not in line)
    fields = {
        key: value.strip()
        for key, _, value in (line.partition(" ") for line in lines if "shown once" not in line)
    }
    endpoint_id = fields["id"]
    assert (fields["url"], fields["client_id"], fields["enabled"]) == (URL, client_id, "True")
    assert (fields["description"], fields["event_types"], fields["headers"]) == ("", "-", "-")
    shown = cli("webhooks", "show", endpoint_id)
    assert shown.exit_code == 0 and secret not in shown.stdout and endpoint_id in shown.stdout
    rows = table(listed)
    assert rows[0] == ENDPOINT_COLUMNS
    assert [row[0] for row in rows[1:]] == [endpoint_id]
    assert secret not in listed.stdout
    assert (empty.exit_code, empty.stdout, empty.stderr) == (0, "", "no webhook endpoints\n")


def test_endpoints_are_listed_page_by_page(cli: Invoke) -> None:
    client_id = new_client(cli)
    made = [create(cli, client_id)["id"] for _ in range(3)]

    seen: list[str] = []
    cursor: list[str] = []
    while True:
        page = ok(
            cli("webhooks", "list", "--client-id", client_id, "--limit", "2", *cursor, "--json")
        )
        seen += [e["id"] for e in page["data"]]
        if page["next_cursor"] is None:
            break
        cursor = ["--cursor", page["next_cursor"]]

    assert seen == sorted(made)


def test_a_rotated_secret_is_new_and_the_old_one_overlaps(cli: Invoke) -> None:
    created = create(cli, new_client(cli))
    endpoint_id = created["id"]

    before = datetime.now(UTC)
    rotated = ok(cli("webhooks", "rotate-secret", endpoint_id, "--overlap", "60", "--json"))
    after = datetime.now(UTC)
    default = ok(cli("webhooks", "rotate-secret", endpoint_id, "--json"))
    configured = ok(
        cli(
            "webhooks",
            "rotate-secret",
            endpoint_id,
            "--json",
            env={"BESTOW_WEBHOOK_SECRET_OVERLAP_SECONDS": "4321"},
        )
    )
    at_once = ok(cli("webhooks", "rotate-secret", endpoint_id, "--overlap", "0", "--json"))
    plain = cli("webhooks", "rotate-secret", endpoint_id, "--overlap", "5")

    secrets = [created["secret"], rotated["secret"], default["secret"], configured["secret"]]
    assert all(s.startswith("whsec_") for s in secrets)
    assert len({*secrets, at_once["secret"]}) == 5
    expires = at(rotated["previous_secret_expires_at"])
    assert before + timedelta(seconds=59) <= expires <= after + timedelta(seconds=61)
    assert at(default["previous_secret_expires_at"]) - expires > timedelta(hours=23)
    assert at(configured["previous_secret_expires_at"]) - expires > timedelta(seconds=4200)
    assert at(configured["previous_secret_expires_at"]) - expires < timedelta(seconds=4300)
    assert at_once["previous_secret_expires_at"] is None
    assert plain.exit_code == 0, plain.output
    assert len([line for line in plain.stdout.splitlines() if "whsec_" in line]) == 1
    assert (
        audit_actions(cli, endpoint_id)
        == ["webhook_endpoint.created"] + ["webhook_endpoint.secret_rotated"] * 5
    )


def test_a_deleted_endpoint_is_gone(cli: Invoke) -> None:
    client_id = new_client(cli)
    endpoint_id = create(cli, client_id)["id"]

    deleted = cli("webhooks", "delete", endpoint_id)
    shown = cli("webhooks", "show", endpoint_id)
    again = cli("webhooks", "delete", endpoint_id)

    assert deleted.exit_code == 0, deleted.output
    assert deleted.stdout == f"deleted {endpoint_id}\n"
    assert f"webhook endpoint {endpoint_id} not found" in failed(shown)
    assert f"webhook endpoint {endpoint_id} not found" in failed(again)
    assert ok(cli("webhooks", "list", "--client-id", client_id, "--json"))["data"] == []
    assert audit_actions(cli, endpoint_id) == [
        "webhook_endpoint.created",
        "webhook_endpoint.deleted",
    ]


def test_the_event_types_are_listed(cli: Invoke) -> None:
    listed = ok(cli("webhooks", "event-types", "--json"))
    plain = cli("webhooks", "event-types")

    by_name = {e["name"]: e for e in listed}
    assert {
        name: (by_name[name]["surface"], by_name[name]["extension"])
        for name in (
            "reward.issued",
            "reward_batch.completed",
            "reward.revoked",
            "reward_batch.revoked",
        )
    } == {
        "reward.issued": ("partner", False),
        "reward_batch.completed": ("partner", False),
        "reward.revoked": ("partner", True),
        "reward_batch.revoked": ("partner", True),
    }
    assert all(e["description"] for e in listed)
    rows = table(plain)
    assert rows[0] == ["name", "surface", "extension", "description"]
    assert {row[0] for row in rows[1:]} == set(by_name)


# Deliveries and replays ---------------------------------------------------------------------


async def test_deliveries_of_real_sends_are_shown_and_replayed(
    cli: Invoke, runtime: Runtime, settings: Settings
) -> None:
    async def run(*args: str) -> Result:
        return await asyncio.to_thread(cli, "webhooks", *args)

    client_id = await asyncio.to_thread(new_client, cli)
    failing: set[str] = set()

    def respond(request: Received) -> tuple[int, bytes] | None:
        return (500, b"down") if request.headers["webhook-id"] in failing else None

    async with Receiver() as receiver:
        receiver.respond = respond
        created = ok(
            await run(
                "create",
                "--client-id",
                client_id,
                "--url",
                receiver.url,
                "--max-attempts",
                "1",
                "--json",
            )
        )
        endpoint_id = created["id"]
        good = await emit(runtime, client_id)
        bad = await emit(runtime, client_id)
        failing.add(bad)
        await dispatch_until(
            runtime, settings, endpoint_id, {good: ("succeeded", 1), bad: ("failed", 1)}
        )

        attempts = ok(await run("deliveries", endpoint_id, "--json"))
        attempts_table = await run("deliveries", endpoint_id)
        failed_only = ok(
            await run("deliveries", endpoint_id, "--by-event", "--state", "failed", "--json")
        )
        by_event_table = await run("deliveries", endpoint_id, "--by-event")
        good_only = ok(await run("deliveries", endpoint_id, "--event", good, "--json"))

        future = ok(await run("replay", endpoint_id, "--since", "2999-01-01T00:00:00Z", "--json"))
        one = ok(await run("replay", endpoint_id, "--event", bad, "--json"))
        await dispatch_until(
            runtime, settings, endpoint_id, {good: ("succeeded", 1), bad: ("failed", 2)}
        )
        since_date = await run("replay", endpoint_id, "--since", "2026-01-01T00:00:00Z")
        await dispatch_until(
            runtime, settings, endpoint_id, {good: ("succeeded", 1), bad: ("failed", 3)}
        )
        failing.clear()
        since_hour = await run("replay", endpoint_id, "--since", "1h")
        await dispatch_until(
            runtime, settings, endpoint_id, {good: ("succeeded", 1), bad: ("succeeded", 4)}
        )
        delivered_again = await run("replay", endpoint_id, "--event", good)
        await dispatch_until(
            runtime, settings, endpoint_id, {good: ("succeeded", 2), bad: ("succeeded", 4)}
        )
        history = ok(await run("deliveries", endpoint_id, "--event", bad, "--json"))
        await give_up(runtime, endpoint_id)

    assert {a["event_id"]: (a["success"], a["status_code"]) for a in attempts["data"]} == {
        good: (True, 200),
        bad: (False, 500),
    }
    assert attempts["next_cursor"] is None
    [failure] = [a for a in attempts["data"] if a["event_id"] == bad]
    assert (failure["attempt"], failure["origin"], failure["error"]) == (1, "schedule", "HTTP 500")
    assert failure["response_excerpt"] == "down"
    rows = table(attempts_table)
    assert rows[0] == ATTEMPT_COLUMNS
    assert sorted(row[1] for row in rows[1:]) == sorted([good, bad])
    [bad_row] = [row for row in rows[1:] if row[1] == bad]
    assert bad_row[2:6] == ["1", "schedule", "False", "500"]
    assert bad_row[-2:] == ["HTTP", "500"]
    [delivery] = failed_only["data"]
    assert (delivery["event_id"], delivery["state"], delivery["event_type"]) == (
        bad,
        "failed",
        "reward.issued",
    )
    assert (delivery["attempt_count"], delivery["last_status_code"]) == (1, 500)
    assert (delivery["last_error"], delivery["next_attempt_at"]) == ("HTTP 500", None)
    rows = table(by_event_table)
    assert rows[0] == DELIVERY_COLUMNS
    assert {row[0]: row[2] for row in rows[1:]} == {good: "succeeded", bad: "failed"}
    assert [a["event_id"] for a in good_only["data"]] == [good]

    assert future == {"replayed": 0}
    assert one == {"replayed": 1}
    assert since_date.exit_code == 0 and since_date.stdout == "replayed 1 delivery\n"
    assert since_hour.exit_code == 0 and since_hour.stdout == "replayed 1 delivery\n"
    assert delivered_again.exit_code == 0 and delivered_again.stdout == "replayed 1 delivery\n"
    assert [(a["attempt"], a["origin"], a["success"]) for a in history["data"]] == [
        (1, "schedule", False),
        (2, "replay", False),
        (3, "replay", False),
        (4, "replay", True),
    ]
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert sorted(ids) == sorted([good, good] + [bad] * 4)
    actions = await asyncio.to_thread(audit_actions, cli, endpoint_id)
    assert actions == ["webhook_endpoint.created"] + ["webhook_endpoint.replayed"] * 5


def test_deliveries_of_an_endpoint_without_sends_are_empty(cli: Invoke) -> None:
    endpoint_id = create(cli, new_client(cli))["id"]

    attempts = cli("webhooks", "deliveries", endpoint_id)
    by_event = cli("webhooks", "deliveries", endpoint_id, "--by-event", "--json")

    assert (attempts.exit_code, attempts.stdout, attempts.stderr) == (0, "", "no attempts\n")
    assert ok(by_event) == {"data": [], "next_cursor": None}


# Errors -------------------------------------------------------------------------------------


def test_replay_needs_an_event_or_a_valid_time(cli: Invoke) -> None:
    client_id = new_client(cli)
    endpoint_id = create(cli, client_id)["id"]
    disabled_id = create(cli, client_id, "--disabled")["id"]

    neither = cli("webhooks", "replay", endpoint_id)
    both = cli("webhooks", "replay", endpoint_id, "--event", "evt_x", "--since", "1h")
    bad_since = cli("webhooks", "replay", endpoint_id, "--since", "yesterday")
    bad_unit = cli("webhooks", "replay", endpoint_id, "--since", "2w")
    unknown_event = cli("webhooks", "replay", endpoint_id, "--event", "evt_unknown")
    disabled = cli("webhooks", "replay", disabled_id, "--since", "1d")

    assert "give either an event id or a time" in failed(neither)
    assert "give either an event id or a time" in failed(both)
    assert "--since takes an ISO 8601 time or a duration" in failed(bad_since)
    assert "'yesterday'" in bad_since.stderr
    assert "--since takes an ISO 8601 time or a duration" in failed(bad_unit)
    assert "event evt_unknown not found" in failed(unknown_event)
    assert "enable it before replaying" in failed(disabled)
    assert audit_actions(cli, endpoint_id) == ["webhook_endpoint.created"]


ERRORS: list[tuple[tuple[str, ...], str]] = [
    (
        ("create", "--client-id", "cli_unknown", "--url", URL),
        "client cli_unknown not found",
    ),
    (
        ("create", "--client-id", "{client}", "--url", "ftp://hooks.example.com/x"),
        "url must be an absolute http or https URL",
    ),
    (
        ("create", "--client-id", "{client}", "--url", "hooks.example.com"),
        "url must be an absolute http or https URL",
    ),
    (
        ("create", "--client-id", "{client}", "--url", URL, "--events", "reward.exploded"),
        "unknown event types: reward.exploded",
    ),
    (
        ("create", "--client-id", "{client}", "--url", URL, "--header", "Webhook-Id: x"),
        "set by Bestow itself",
    ),
    (
        ("create", "--client-id", "{client}", "--url", URL, "--header", "no-colon"),
        "a header is 'Name: value'",
    ),
    (("update", "{endpoint}", "--url", "ftp://x.example.com/"), "absolute http or https"),
    (("update", "{endpoint}", "--events", "reward.exploded"), "unknown event types"),
    (("rotate-secret", "{endpoint}", "--overlap", "604801"), "between 0 seconds and 7 days"),
    (("show", "ep_unknown"), "webhook endpoint ep_unknown not found"),
    (("update", "ep_unknown", "--description", "x"), "webhook endpoint ep_unknown not found"),
    (("enable", "ep_unknown"), "webhook endpoint ep_unknown not found"),
    (("delete", "ep_unknown"), "webhook endpoint ep_unknown not found"),
    (("rotate-secret", "ep_unknown"), "webhook endpoint ep_unknown not found"),
    (("deliveries", "ep_unknown"), "webhook endpoint ep_unknown not found"),
    (("replay", "ep_unknown", "--since", "1h"), "webhook endpoint ep_unknown not found"),
]


def test_errors_print_one_line_and_exit_1(cli: Invoke) -> None:
    client_id = new_client(cli)
    endpoint = create(cli, client_id)
    endpoint.pop("secret")

    for args, message in ERRORS:
        filled = [a.format(client=client_id, endpoint=endpoint["id"]) for a in args]
        error = failed(cli("webhooks", *filled))
        assert message in error, (args, error)
        assert error.count("\n") == 1, error

    assert ok(cli("webhooks", "list", "--client-id", client_id, "--json"))["data"] == [endpoint]
    assert audit_actions(cli, endpoint["id"]) == ["webhook_endpoint.created"]


def test_max_attempts_out_of_range_is_a_usage_error(cli: Invoke) -> None:
    client_id = new_client(cli)

    for value in ("0", "9"):
        result = cli(
            "webhooks", "create", "--client-id", client_id, "--url", URL, "--max-attempts", value
        )
        assert result.exit_code == 2, result.output
        assert "max-attempts" in result.output
    assert ok(cli("webhooks", "list", "--client-id", client_id, "--json"))["data"] == []


def test_an_update_with_nothing_to_change_is_refused(cli: Invoke) -> None:
    endpoint_id = create(cli, new_client(cli))["id"]

    result = cli("webhooks", "update", endpoint_id)

    assert "nothing to change" in failed(result)
    assert audit_actions(cli, endpoint_id) == ["webhook_endpoint.created"]


def test_headers_and_clear_headers_contradict_each_other(cli: Invoke) -> None:
    endpoint = create(cli, new_client(cli), "--header", "X-A: 1")

    result = cli("webhooks", "update", endpoint["id"], "--header", "X-B: 2", "--clear-headers")

    assert "contradict" in failed(result)
    assert ok(cli("webhooks", "show", endpoint["id"], "--json"))["headers"] == {"X-A": "1"}
