"""``bestow merchants``: merchants, their locations and business units, through the same domain
calls as the Admin API (one transaction per command, audited as ``cli:<user>``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from bestow.cli.common import (
    AsJson,
    Cursor,
    Limit,
    cli_actor,
    dump,
    fail,
    print_json,
    read,
    show,
    show_page,
    switch,
    write,
)

# The domain, the models and the views are imported by the commands that use them (see cli.common).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime
    from bestow.kit.db import WriteSession
    from bestow.kit.pagination import CursorPage
    from bestow.models import BusinessUnit, Location, Merchant

app = typer.Typer(help="Merchants, their locations and business units.", no_args_is_help=True)

MERCHANT_COLUMNS = ("id", "name", "handle", "time_zone", "enrol_unknown_members")


@app.command("create")
def merchants_create(
    name: Annotated[str, typer.Option(help="Display name")],
    handle: Annotated[str, typer.Option(help="Unique, 2-100 lowercase letters, digits, - or _")],
    time_zone: Annotated[str, typer.Option(help="IANA time zone, e.g. America/New_York")] = "UTC",
    enrol_unknown_members: Annotated[
        bool,
        typer.Option(
            "--enrol-unknown-members",
            help="Enrol unknown identifiers on issuance instead of reporting User not found",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Create a merchant (a brand or programme)."""
    from bestow.merchants import service as merchants
    from bestow.views.merchants import MerchantOut

    async def work(_: Runtime, session: WriteSession) -> Merchant:
        return await merchants.create_merchant(
            session,
            name=name,
            handle=handle,
            time_zone=time_zone,
            enrol_unknown_members=enrol_unknown_members,
            actor=cli_actor(),
        )

    show(dump(MerchantOut, write(work)), as_json)


@app.command("list")
def merchants_list(limit: Limit = 100, cursor: Cursor = None, as_json: AsJson = False) -> None:
    """List merchants, oldest first."""
    from bestow.merchants import service as merchants
    from bestow.views.merchants import MerchantOut

    async def work(_: Runtime, session: AsyncSession) -> CursorPage[Merchant]:
        return await merchants.list_merchants(session, cursor=cursor, limit=limit)

    show_page(read(work), MerchantOut, MERCHANT_COLUMNS, as_json=as_json, empty="no merchants")


@app.command("show")
def merchants_show(merchant_id: str, as_json: AsJson = False) -> None:
    """One merchant, its locations and business units."""
    from bestow.merchants import service as merchants
    from bestow.models import BusinessUnit, Location
    from bestow.views.merchants import BusinessUnitOut, LocationOut, MerchantOut

    async def work(_: Runtime, session: AsyncSession) -> dict[str, Any]:
        merchant = await merchants.get_merchant(session, merchant_id)
        locations = await session.scalars(
            merchants.locations_query(merchant_ids=[merchant_id]).order_by(Location.id)
        )
        units = await session.scalars(
            merchants.business_units_query(merchant_id=merchant_id).order_by(BusinessUnit.id)
        )
        return {
            **dump(MerchantOut, merchant),
            "locations": [dump(LocationOut, location) for location in locations],
            "business_units": [dump(BusinessUnitOut, unit) for unit in units],
        }

    data = read(work)
    if as_json:
        print_json(data)
        return
    locations, units = data.pop("locations"), data.pop("business_units")
    show(data, as_json=False)
    typer.echo("locations:")
    for location in locations:
        typer.echo(f"  {location['id']}  {location['name']}")
    typer.echo("business units:")
    for unit in units:
        typer.echo(f"  {unit['id']}  {unit['name']}")


@app.command("update")
def merchants_update(
    merchant_id: str,
    name: Annotated[str | None, typer.Option(help="New display name")] = None,
    time_zone: Annotated[str | None, typer.Option(help="IANA time zone")] = None,
    enrol_unknown_members: Annotated[
        bool | None,
        switch(
            "--enrol-unknown-members/--no-enrol-unknown-members",
            "Enrol unknown identifiers on issuance, or report User not found",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Change a merchant's name, time zone or enrolment option."""
    from bestow.merchants import service as merchants
    from bestow.views.merchants import MerchantOut

    if name is None and time_zone is None and enrol_unknown_members is None:
        fail("nothing to change: give --name, --time-zone or --[no-]enrol-unknown-members")

    async def work(_: Runtime, session: WriteSession) -> Merchant:
        return await merchants.update_merchant(
            session,
            merchant_id=merchant_id,
            actor=cli_actor(),
            name=name,
            time_zone=time_zone,
            enrol_unknown_members=enrol_unknown_members,
        )

    show(dump(MerchantOut, write(work)), as_json)


@app.command("add-location")
def merchants_add_location(
    merchant_id: str,
    name: Annotated[str, typer.Option(help="Display name")],
    street: Annotated[str, typer.Option()] = "",
    city: Annotated[str, typer.Option()] = "",
    state: Annotated[str, typer.Option()] = "",
    zip_code: Annotated[str, typer.Option("--zip")] = "",
    phone: Annotated[str, typer.Option()] = "",
    as_json: AsJson = False,
) -> None:
    """Add a location to a merchant."""
    from bestow.merchants import service as merchants
    from bestow.views.merchants import LocationOut

    async def work(_: Runtime, session: WriteSession) -> Location:
        return await merchants.create_location(
            session,
            merchant_id=merchant_id,
            name=name,
            street=street,
            city=city,
            state=state,
            zip=zip_code,
            phone=phone,
            actor=cli_actor(),
        )

    show(dump(LocationOut, write(work)), as_json)


@app.command("add-business-unit")
def merchants_add_business_unit(merchant_id: str, name: str, as_json: AsJson = False) -> None:
    """Add a business unit to a merchant."""
    from bestow.merchants import service as merchants
    from bestow.views.merchants import BusinessUnitOut

    async def work(_: Runtime, session: WriteSession) -> BusinessUnit:
        return await merchants.create_business_unit(
            session, merchant_id=merchant_id, name=name, actor=cli_actor()
        )

    show(dump(BusinessUnitOut, write(work)), as_json)
