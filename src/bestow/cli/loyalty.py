"""``bestow loyalty``: ad hoc reward definitions, a client's ad hoc reward feature and a member's
points, through the same services as the Admin API.

Business units, which an ad hoc reward names, are a merchant's: ``bestow merchants
add-business-unit`` adds one and ``bestow merchants show`` lists them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from bestow.cli.common import (
    AsJson,
    cli_actor,
    fail,
    print_json,
    print_table,
    read,
    show,
    show_list,
    switch,
    write,
)

# The services, the models and the views are imported by the commands that use them (see
# cli.common).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime
    from bestow.kit.db import WriteSession
    from bestow.models import LoyaltyReward

app = typer.Typer(
    help="Loyalty programmes: ad hoc rewards, the ad hoc feature, members' points.",
    no_args_is_help=True,
)
rewards_app = typer.Typer(help="Ad hoc reward definitions of a programme.", no_args_is_help=True)
app.add_typer(rewards_app, name="rewards")

REWARD_COLUMNS = ("id", "merchant_id", "reward_id", "name", "max_per_transaction", "enabled")
TRANSACTION_COLUMNS = (
    "created_at",
    "amount",
    "balance_after",
    "reward_id",
    "business_unit",
    "channel",
    "external_reference_id",
    "id",
)

MaxPoints = Annotated[
    int, typer.Option("--max", min=1, help="Most points one award or deduction moves")
]


def _reward(reward: LoyaltyReward) -> dict[str, Any]:
    from bestow.views.loyalty import loyalty_reward

    return loyalty_reward(reward).model_dump(mode="json")


@rewards_app.command("create")
def rewards_create(
    merchant_id: Annotated[str, typer.Argument(help="The programme's merchant")],
    reward_id: Annotated[str, typer.Option(help="What the Loyalty API's rewardId names")],
    name: Annotated[str, typer.Option(help="Display name")],
    max_points: MaxPoints,
    disabled: Annotated[
        bool, typer.Option("--disabled", help="Define it disabled (an invalid rewardId for now)")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Define an ad hoc reward in a merchant's programme."""
    from bestow.loyalty import rewards

    async def work(_: Runtime, session: WriteSession) -> dict[str, Any]:
        reward = await rewards.create_reward(
            session,
            merchant_id=merchant_id,
            reward_id=reward_id,
            name=name,
            max_per_transaction=max_points,
            enabled=not disabled,
            actor=cli_actor(),
        )
        return _reward(reward)

    show(write(work), as_json)


@rewards_app.command("list")
def rewards_list(
    merchant_id: Annotated[str | None, typer.Option(help="Only this merchant's")] = None,
    as_json: AsJson = False,
) -> None:
    """Ad hoc reward definitions, enabled and disabled, by merchant and reward id."""
    from bestow.loyalty import rewards
    from bestow.merchants import service as merchants
    from bestow.models import LoyaltyReward

    async def work(_: Runtime, session: AsyncSession) -> list[dict[str, Any]]:
        if merchant_id:
            await merchants.get_merchant(session, merchant_id)
        rows = await session.scalars(
            rewards.query(merchant_id=merchant_id).order_by(
                LoyaltyReward.merchant_id, LoyaltyReward.reward_id
            )
        )
        return [_reward(r) for r in rows]

    show_list(
        read(work), REWARD_COLUMNS, as_json=as_json, empty="no loyalty rewards", paginated=False
    )


@rewards_app.command("show")
def rewards_show(
    id: Annotated[str, typer.Argument(help="lrw_...")], as_json: AsJson = False
) -> None:
    """One reward definition."""
    from bestow.loyalty import rewards

    async def work(_: Runtime, session: AsyncSession) -> dict[str, Any]:
        return _reward(await rewards.get_reward(session, id))

    show(read(work), as_json)


@rewards_app.command("update")
def rewards_update(
    id: Annotated[str, typer.Argument(help="lrw_...")],
    name: Annotated[str | None, typer.Option(help="New display name")] = None,
    max_points: Annotated[
        int | None, typer.Option("--max", min=1, help="New per-transaction maximum")
    ] = None,
    enabled: Annotated[
        bool | None, switch("--enable/--disable", "A disabled reward is an invalid rewardId")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Rename a reward, change its per-transaction maximum, enable or disable it."""
    from bestow.loyalty import rewards

    changes: dict[str, Any] = {
        key: value
        for key, value in {
            "name": name,
            "max_per_transaction": max_points,
            "enabled": enabled,
        }.items()
        if value is not None
    }
    if not changes:
        fail("nothing to change: give --name, --max, --enable or --disable")

    async def work(_: Runtime, session: WriteSession) -> dict[str, Any]:
        return _reward(await rewards.update_reward(session, id=id, actor=cli_actor(), **changes))

    show(write(work), as_json)


@app.command("adhoc-feature")
def adhoc_feature(
    client_id: str,
    enabled: Annotated[
        bool | None,
        switch("--enable/--disable", "Turn the feature on or off (neither: show it)"),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Whether a client may issue ad hoc rewards through the Loyalty API; turn it on or off."""
    from bestow.clients import service as clients
    from bestow.loyalty import rewards
    from bestow.views.loyalty import adhoc_feature as feature_view

    async def change(_: Runtime, session: WriteSession) -> bool:
        assert enabled is not None
        await rewards.set_adhoc_feature(
            session, client_id=client_id, enabled=enabled, actor=cli_actor()
        )
        return enabled

    async def look(_: Runtime, session: AsyncSession) -> bool:
        return (await clients.get_client(session, client_id)).adhoc_reward_enabled

    state = read(look) if enabled is None else write(change)
    show(feature_view(client_id, enabled=state).model_dump(mode="json"), as_json)


@app.command("balance")
def balance(
    member_id: str,
    limit: Annotated[int, typer.Option(min=1, max=200, help="Latest transactions shown")] = 20,
    as_json: AsJson = False,
) -> None:
    """A member's points balance and latest transactions, newest first."""
    from bestow.loyalty import ledger
    from bestow.views.loyalty import member_points

    async def work(_: Runtime, session: AsyncSession) -> dict[str, Any]:
        points = await ledger.member_points(session, member_id, limit=limit)
        return member_points(points).model_dump(mode="json")

    data = read(work)
    if as_json:
        print_json(data)
        return
    transactions = data.pop("transactions")
    show(data, as_json=False)
    typer.echo("transactions:")
    print_table(transactions, TRANSACTION_COLUMNS, empty="  none")
