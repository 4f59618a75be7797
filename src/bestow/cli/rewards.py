"""``bestow rewards``: issued rewards of every surface, newest first, through the same domain call
as ``GET /admin/rewards``."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from bestow.cli.common import AsJson, Cursor, Limit, read, show_page

# The domain, the models and the views are imported by the commands that use them (see cli.common).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime
    from bestow.kit.pagination import CursorPage
    from bestow.models import IssuedReward

app = typer.Typer(help="Issued rewards, of every surface.", no_args_is_help=True)


class RewardState(StrEnum):
    active = "active"
    revoked = "revoked"


@app.command("list")
def rewards_list(
    member: Annotated[str | None, typer.Option("--member", help="A member id")] = None,
    campaign: Annotated[str | None, typer.Option("--campaign", help="A campaign id")] = None,
    job: Annotated[str | None, typer.Option("--job", help="An issuance job id")] = None,
    state: Annotated[RewardState | None, typer.Option(help="Only rewards in this state")] = None,
    client: Annotated[str | None, typer.Option("--client", help="A client id")] = None,
    merchant: Annotated[str | None, typer.Option("--merchant", help="A merchant id")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    as_json: AsJson = False,
) -> None:
    """Issued rewards, newest first; with --json, as GET /admin/rewards answers."""
    from bestow.issuance import rewards
    from bestow.views.rewards import COLUMNS, IssuedRewardOut

    filters = rewards.RewardFilters(
        member_id=member,
        campaign_id=campaign,
        job_id=job,
        state=state.value if state else None,
        client_id=client,
        merchant_id=merchant,
    )

    async def work(_: Runtime, session: AsyncSession) -> CursorPage[IssuedReward]:
        return await rewards.list_rewards(session, filters, cursor=cursor, limit=limit)

    show_page(read(work), IssuedRewardOut, COLUMNS, as_json=as_json, empty="no rewards")
