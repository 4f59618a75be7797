"""``bestow products``: the voucher catalogue, through the same service as the Admin API."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bestow.cli.common import AsJson, cli_actor, dump, fail, read, show, show_list, write

# The service, the models and the views are imported by the commands that use them (see
# cli.common).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime
    from bestow.kit.db import WriteSession
    from bestow.models import Product

app = typer.Typer(help="Voucher catalogue products.", no_args_is_help=True)

COLUMNS = ("code", "name", "type", "currency", "face_value", "item_quantity", "stock", "state")

ValidityDays = Annotated[
    int | None, typer.Option(help="Vouchers expire this many days after issue")
]
ValidUntil = Annotated[
    str | None, typer.Option(help="Vouchers expire at this ISO 8601 time (with a zone)")
]


def _out(product: Product) -> dict[str, Any]:
    from bestow.views.products import ProductOut, product_out

    return dump(ProductOut, product_out(product))


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        fail(f"--valid-until is not an ISO 8601 time: {value}")


@app.command("create")
def create(
    code: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option()],
    value_based: Annotated[
        bool, typer.Option("--value-based/--product-based", help="value or items")
    ] = True,
    open_value: Annotated[
        bool, typer.Option("--open-value", help="face value chosen at issuance")
    ] = False,
    status_available: Annotated[
        bool, typer.Option("--status-available/--no-status-available")
    ] = True,
    multiple_use: Annotated[
        bool, typer.Option("--multiple-use", help="a gift card, usable several times")
    ] = False,
    currency: Annotated[str, typer.Option(help="ISO 4217, for value-based products")] = "SGD",
    face_value: Annotated[int | None, typer.Option(help="cents, for fixed value")] = None,
    min_face_value: Annotated[int | None, typer.Option(help="cents, for open value")] = None,
    max_face_value: Annotated[int | None, typer.Option(help="cents, for open value")] = None,
    quantity: Annotated[int | None, typer.Option(help="items, for product-based")] = None,
    validity_days: ValidityDays = None,
    valid_until: ValidUntil = None,
    stock: Annotated[
        int | None, typer.Option(help="vouchers left to issue (none: unlimited)")
    ] = None,
    description: Annotated[str, typer.Option()] = "",
    terms: Annotated[str, typer.Option()] = "",
    image_url: Annotated[str | None, typer.Option()] = None,
    as_json: AsJson = False,
) -> None:
    """Add a product to the catalogue (active at once)."""
    from bestow.vouchers import products as service

    until = _when(valid_until)

    async def work(_: Runtime, session: WriteSession) -> dict[str, Any]:
        product = await service.create_product(
            session,
            code=code,
            name=name,
            is_value_based=value_based,
            is_open_value=open_value,
            is_status_available=status_available,
            is_multiple_use=multiple_use,
            actor=cli_actor(),
            description=description,
            currency=currency.upper(),
            face_value=face_value,
            min_face_value=min_face_value,
            max_face_value=max_face_value,
            item_quantity=quantity,
            validity_days=validity_days,
            valid_until=until,
            stock=stock,
            terms=terms,
            image_url=image_url,
        )
        return _out(product)

    show(write(work), as_json)


@app.command("list")
def list_products(
    state: Annotated[str | None, typer.Option(help="active or archived (default: both)")] = None,
    as_json: AsJson = False,
) -> None:
    """The catalogue's products, by code."""
    from bestow.models import Product
    from bestow.vouchers import products as service

    if state is not None and state not in service.STATES:
        fail("--state is active or archived")

    async def work(_: Runtime, session: AsyncSession) -> list[dict[str, Any]]:
        rows = await session.scalars(service.query(state=state).order_by(Product.code))
        return [_out(p) for p in rows]

    show_list(read(work), COLUMNS, as_json=as_json, empty="no products", paginated=False)


@app.command("show")
def show_product(code: str, as_json: AsJson = False) -> None:
    """One product, active or archived."""
    from bestow.vouchers import products as service

    async def work(_: Runtime, session: AsyncSession) -> dict[str, Any]:
        return _out(await service.get_product(session, code))

    show(read(work), as_json)


def _update(code: str, changes: dict[str, Any], as_json: bool) -> None:
    from bestow.vouchers import products as service

    async def work(_: Runtime, session: WriteSession) -> dict[str, Any]:
        product = await service.update_product(session, code=code, actor=cli_actor(), **changes)
        return _out(product)

    show(write(work), as_json)


@app.command("update")
def update(
    code: str,
    name: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    terms: Annotated[str | None, typer.Option()] = None,
    image_url: Annotated[str | None, typer.Option()] = None,
    stock: Annotated[int | None, typer.Option(help="vouchers left to issue")] = None,
    unlimited_stock: Annotated[
        bool, typer.Option("--unlimited-stock", help="remove the stock limit")
    ] = False,
    validity_days: ValidityDays = None,
    valid_until: ValidUntil = None,
    as_json: AsJson = False,
) -> None:
    """Change a product's texts, image, stock or the validity of vouchers issued from now on."""
    if stock is not None and unlimited_stock:
        fail("give --stock or --unlimited-stock, not both")
    changes: dict[str, Any] = {
        key: value
        for key, value in {
            "name": name,
            "description": description,
            "terms": terms,
            "image_url": image_url,
            "stock": stock,
            "validity_days": validity_days,
            "valid_until": _when(valid_until),
        }.items()
        if value is not None
    }
    if unlimited_stock:
        changes["stock"] = None
    if not changes:
        fail("nothing to change")
    _update(code, changes, as_json)


@app.command("archive")
def archive(code: str, as_json: AsJson = False) -> None:
    """Archive a product: the Voucher API no longer offers it; issued vouchers keep it."""
    _update(code, {"state": "archived"}, as_json)


@app.command("activate")
def activate(code: str, as_json: AsJson = False) -> None:
    """Offer an archived product again."""
    _update(code, {"state": "active"}, as_json)
