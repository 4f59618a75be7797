"""``bestow audit``: the audit trail of admin actions, whoever made them (Admin API or CLI)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from bestow.cli.common import AsJson, dump, print_json, print_table, read

# The domain, the models and the views are imported by the commands that use them (see cli.common).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime
    from bestow.models import AuditEntry

app = typer.Typer(help="The audit trail of admin actions.", no_args_is_help=True)

AUDIT_COLUMNS = ("created_at", "actor", "action", "target_type", "target_id", "changes")


@app.command("list")
def audit_list(
    target_type: Annotated[str | None, typer.Option(help="e.g. client, merchant, member")] = None,
    target_id: Annotated[str | None, typer.Option(help="The id of the target")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many of the latest")] = 50,
    as_json: AsJson = False,
) -> None:
    """The latest audit entries, oldest of them first."""
    from bestow.audit import service as audit
    from bestow.views.audit import AuditOut

    async def work(_: Runtime, session: AsyncSession) -> list[AuditEntry]:
        return await audit.latest_entries(
            session, target_type=target_type, target_id=target_id, limit=limit
        )

    rows = [dump(AuditOut, entry) for entry in read(work)]
    if as_json:
        print_json({"data": rows})
        return
    print_table(rows, AUDIT_COLUMNS, "no audit entries")
