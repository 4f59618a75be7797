"""``bestow certify``: judge a client's integration against its surface's checklist, from its
own traffic (``docs/certification.md``): open a run, let the integrator's test suite run,
close it and read the report; attest the items a person must confirm."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bestow.cli.common import AsJson, cli_actor, fail, print_json, read, show_list, write

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime
    from bestow.kit.db import WriteSession

app = typer.Typer(
    help="Certification: each surface's checklist judged from a client's own traffic.",
    no_args_is_help=True,
)

RUN_ENV = "BESTOW_CERTIFICATION_RUN"
"""Given to the command ``certify run`` runs: the run's id."""
SETTLE_SECONDS = 1.5
"""How long ``certify run`` waits after the command before closing: the servers write their
request log every 0.5 s (``bestow.lab.requestlog``)."""


class Surface(StrEnum):
    partner = "partner"
    vouchers = "vouchers"
    loyalty = "loyalty"
    operator = "operator"


SurfaceOption = Annotated[Surface, typer.Option(help="The surface certified")]
Markdown = Annotated[bool, typer.Option("--markdown", help="Print the report as Markdown")]
HtmlFile = Annotated[
    Path | None,
    typer.Option("--html", help="Write the report as an HTML page to send to a partner"),
]
RUN_COLUMNS = ("id", "surface", "state", "started_at", "closed_at", "passed", "fault_rule_ids")
STATUS_STYLE = {
    "pass": "green",
    "attested": "green",
    "fail": "red",
    "not_attested": "red",
    "not_exercised": "yellow",
}


def show_report(
    report: dict[str, Any], *, as_json: bool, markdown: bool, html: Path | None
) -> None:
    """The report as asked: an HTML file written (with any other form), then JSON, Markdown,
    or (without either) the HTML file's summary line or a table."""
    from bestow.lab.certification import render

    if html is not None:
        html.write_text(render.html(report), encoding="utf-8")
        typer.echo(f"wrote {html}", err=as_json or markdown)
    if as_json:
        print_json(report)
        return
    if markdown:
        typer.echo(render.markdown(report), nl=False)
        return
    if html is not None:
        typer.echo(render.summary_line(report))
        return
    section = None
    for item in report["items"]:
        if item["section"] != section:
            section = item["section"]
            typer.secho(f"\n{section}", bold=True)
        status = render.STATUS_WORDS[item["status"]]
        typer.secho(f"  {status:<14}", fg=STATUS_STYLE.get(item["status"]), nl=False)
        typer.echo(f"{item['id']}: {item['text']}")
        if item["status"] in ("fail", "not_exercised", "not_attested"):
            for evidence in item["evidence"][:3]:
                typer.echo(f"                  {render.evidence_text(evidence)}")
            if item.get("advice"):
                typer.echo(f"                  advice: {item['advice']}")
    typer.echo("")
    typer.secho(render.summary_line(report), bold=True)


def _exit_for(report: dict[str, Any]) -> None:
    if not report["passed"]:
        raise typer.Exit(1)


@app.command("checklist")
def checklist(surface: SurfaceOption, as_json: AsJson = False) -> None:
    """A surface's checklist: each item, its kind, and the faults a run with --faults makes."""
    from bestow.lab.certification.checklists import checklist_of
    from bestow.views.certification import checklist_view

    view = checklist_view(checklist_of(surface.value)).model_dump(mode="json")
    if as_json:
        print_json(view)
        return
    show_list(view["items"], ("id", "kind", "section", "text"), as_json=False, empty="no items")


@app.command("report")
def report(
    client_id: Annotated[str, typer.Argument(help="The client judged")],
    surface: SurfaceOption,
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601, UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time")] = None,
    run_id: Annotated[str | None, typer.Option("--run", help="A run's window")] = None,
    as_json: AsJson = False,
    markdown: Markdown = False,
    html: HtmlFile = None,
) -> None:
    """The client's report, judged now: over a run's window (--run, else its latest run's),
    or --since/--until (default: the last 30 days). Exits 1 when it does not pass."""
    from bestow.kit.timefmt import aware
    from bestow.lab.certification import runs

    bounds = {name: _time(value, name) for name, value in (("since", since), ("until", until))}

    async def work(_: Runtime, session: AsyncSession) -> dict[str, Any]:
        judged = await runs.report(
            session,
            client_id=client_id,
            surface=surface.value,
            since=aware(bounds["since"], "since"),
            until=aware(bounds["until"], "until"),
            run_id=run_id,
        )
        return judged.as_json()

    body = read(work)
    show_report(body, as_json=as_json, markdown=markdown, html=html)
    _exit_for(body)


def _time(value: str | None, name: str) -> Any:
    from datetime import datetime

    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--{name} takes an ISO 8601 time such as 2026-12-07T10:00:00Z, not {value!r}")


def _open(client_id: str, surface: Surface, faults: bool) -> dict[str, Any]:
    from bestow.lab.certification import runs
    from bestow.views.certification import run_view

    async def work(_: Runtime, session: WriteSession) -> dict[str, Any]:
        run = await runs.open_run(
            session,
            client_id=client_id,
            surface=surface.value,
            with_faults=faults,
            actor=cli_actor(),
        )
        return run_view(run).model_dump(mode="json")

    return write(work)


def _close(client_id: str, run_id: str) -> dict[str, Any]:
    from bestow.lab.certification import runs
    from bestow.views.certification import run_view

    async def work(_: Runtime, session: WriteSession) -> dict[str, Any]:
        run, _report = await runs.close_run(
            session, client_id=client_id, run_id=run_id, actor=cli_actor()
        )
        return run_view(run).model_dump(mode="json")

    return write(work)


FaultsOption = Annotated[
    bool,
    typer.Option(
        "--faults",
        help="Schedule the faults the checklist needs (429s, a lost answer, a partial failure)",
    ),
]


@app.command("open")
def open_(
    client_id: Annotated[str, typer.Argument(help="A demo or UAT client")],
    surface: SurfaceOption,
    faults: FaultsOption = False,
    as_json: AsJson = False,
) -> None:
    """Open a run (a window on the client's traffic); close it once its test suite has run."""
    run = _open(client_id, surface, faults)
    if as_json:
        print_json(run)
        return
    typer.echo(run["id"])
    if run["fault_rule_ids"]:
        typer.echo(f"faults scheduled: {', '.join(run['fault_rule_ids'])}", err=True)


@app.command("close")
def close(
    client_id: Annotated[str, typer.Argument(help="The run's client")],
    run_id: Annotated[str, typer.Argument(help="The run")],
    as_json: AsJson = False,
    markdown: Markdown = False,
    html: HtmlFile = None,
) -> None:
    """Close a run (its faults removed) and print its report. Exits 1 when it does not pass."""
    time.sleep(SETTLE_SECONDS)
    run = _close(client_id, run_id)
    show_report(run["report"], as_json=as_json, markdown=markdown, html=html)
    _exit_for(run["report"])


@app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run_(
    ctx: typer.Context,
    client_id: Annotated[str, typer.Option("--client", help="A demo or UAT client")],
    surface: SurfaceOption,
    faults: FaultsOption = False,
    as_json: AsJson = False,
    markdown: Markdown = False,
    html: HtmlFile = None,
) -> None:
    """Open a run, run the integrator's test suite (the command after --), close the run and
    print the report. The command gets the run's id in BESTOW_CERTIFICATION_RUN (and, with
    --json or --markdown, standard error for its output). Exits 1 when the report does not
    pass (or the command failed), 0 when it passes."""
    command = list(ctx.args)
    if not command:
        fail("give the integrator's test command after --: bestow certify run ... -- pytest")
    run = _open(client_id, surface, faults)
    typer.echo(f"run {run['id']} opened on {surface.value}", err=True)
    env = {**os.environ, RUN_ENV: run["id"]}
    # With --json or --markdown, standard output holds the report alone: the command's own
    # output (a test runner's) goes to standard error.
    output = sys.stderr if as_json or markdown else None
    try:
        code = subprocess.call(command, env=env, stdout=output)  # noqa: S603 (the operator's own command)
    except OSError as exc:
        code = 127
        typer.secho(f"error: could not run {command[0]}: {exc}", fg=typer.colors.RED, err=True)
    except KeyboardInterrupt:
        code = 130
    time.sleep(SETTLE_SECONDS)
    closed = _close(client_id, run["id"])
    if code != 0:
        typer.secho(f"the command exited {code}", fg=typer.colors.YELLOW, err=True)
    show_report(closed["report"], as_json=as_json, markdown=markdown, html=html)
    _exit_for(closed["report"])
    if code != 0:
        raise typer.Exit(1)


@app.command("runs")
def runs_list(
    client_id: Annotated[str, typer.Argument(help="A client")],
    surface: Annotated[Surface | None, typer.Option(help="Only this surface")] = None,
    as_json: AsJson = False,
) -> None:
    """A client's certification runs, newest first."""
    from bestow.lab.certification import runs
    from bestow.views.certification import run_view

    async def work(_: Runtime, session: AsyncSession) -> list[dict[str, Any]]:
        found = await runs.list_runs(
            session, client_id=client_id, surface=surface.value if surface else None
        )
        return [run_view(r, with_report=False).model_dump(mode="json") for r in found]

    show_list(read(work), RUN_COLUMNS, as_json=as_json, empty="no certification runs")


@app.command("attest")
def attest(
    client_id: Annotated[str, typer.Argument(help="A client")],
    item_id: Annotated[str, typer.Argument(help="An attested item: partner.submission.demo")],
    note: Annotated[str, typer.Option(help="What was checked, and by whom")],
    as_json: AsJson = False,
) -> None:
    """Attest an item a person must confirm (audited)."""
    from bestow.lab.certification import runs
    from bestow.views.certification import attestation_view

    async def work(_: Runtime, session: WriteSession) -> dict[str, Any]:
        made = await runs.attest(
            session, client_id=client_id, item_id=item_id, note=note, actor=cli_actor()
        )
        return attestation_view(made).model_dump(mode="json")

    made = write(work)
    if as_json:
        print_json(made)
        return
    typer.echo(f"attested {made['item_id']} for {made['client_id']}")


@app.command("withdraw")
def withdraw(
    client_id: Annotated[str, typer.Argument(help="A client")],
    item_id: Annotated[str, typer.Argument(help="An attested item")],
) -> None:
    """Withdraw an attestation (audited)."""
    from bestow.lab.certification import runs

    async def work(_: Runtime, session: WriteSession) -> None:
        await runs.withdraw(session, client_id=client_id, item_id=item_id, actor=cli_actor())

    write(work)
    typer.echo(f"withdrew {item_id} for {client_id}")
