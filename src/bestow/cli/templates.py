"""``bestow templates``: reward templates, through the same service as the Admin API."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bestow.cli.common import AsJson, cli_actor, read, show, show_list, write

# The domain and the models are imported by the commands that use them (see cli.common).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bestow.deps import Runtime
    from bestow.kit.db import WriteSession
    from bestow.models import RewardTemplate

app = typer.Typer(help="Reward templates.", no_args_is_help=True)

COLUMNS = ("id", "name", "kind", "state", "type", "subtype")


def _out(t: RewardTemplate) -> dict[str, Any]:
    return {
        "id": t.id,
        "merchant_id": t.merchant_id,
        "kind": t.kind,
        "state": t.state,
        "name": t.name,
        "type": t.type,
        "subtype": t.subtype,
        "discount": t.discount,
        "config": t.config,
    }


def _config(text: str) -> dict[str, Any]:
    try:
        config = json.loads(text)
    except json.JSONDecodeError:
        config = None
    if not isinstance(config, dict):
        raise typer.BadParameter("--config must be a JSON object")
    return config


@app.command("create")
def create(
    merchant_id: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option()],
    kind: Annotated[str, typer.Option()] = "discount",
    discount_type: Annotated[
        str | None, typer.Option(help="amount, percent or free_item (kind discount)")
    ] = None,
    discount_value: Annotated[int | None, typer.Option(help="cents or percent")] = None,
    description: Annotated[str, typer.Option()] = "",
    fine_print: Annotated[str, typer.Option()] = "",
    config: Annotated[
        str,
        typer.Option(
            help='kind-specific settings, as JSON; kind voucher: {"product_code": "...",'
            ' "face_value": cents (open-value products only)}'
        ),
    ] = "{}",
    publish: Annotated[bool, typer.Option("--publish", help="publish at once")] = False,
    as_json: AsJson = False,
) -> None:
    """Create a reward template (a draft unless --publish)."""
    from bestow.rewards import templates as service

    # The discount kind needs --discount-type (the service refuses it without); others have none.
    discount = (
        None
        if discount_type is None and discount_value is None
        else {"type": discount_type, "value": discount_value}
    )
    kind_config = _config(config)

    async def work(_: Runtime, session: WriteSession) -> RewardTemplate:
        return await service.create_template(
            session,
            merchant_id=merchant_id,
            kind=kind,
            name=name,
            actor=cli_actor(),
            description=description,
            fine_print=fine_print,
            discount=discount,
            config=kind_config,
            publish=publish,
        )

    show(_out(write(work)), as_json)


def _set_state(template_id: str, state: str, as_json: bool) -> None:
    from bestow.rewards import templates as service

    async def work(_: Runtime, session: WriteSession) -> RewardTemplate:
        return await service.set_state(
            session, template_id=template_id, state=state, actor=cli_actor()
        )

    show(_out(write(work)), as_json)


@app.command("publish")
def publish(template_id: str, as_json: AsJson = False) -> None:
    """Publish a template."""
    _set_state(template_id, "published", as_json)


@app.command("unpublish")
def unpublish(template_id: str, as_json: AsJson = False) -> None:
    """Unpublish a template."""
    _set_state(template_id, "unpublished", as_json)


@app.command("list")
def list_templates(merchant_id: str, as_json: AsJson = False) -> None:
    """A merchant's templates."""
    from bestow.models import RewardTemplate
    from bestow.rewards import templates as service

    async def work(_: Runtime, session: AsyncSession) -> list[RewardTemplate]:
        stmt = service.query(merchant_id=merchant_id).order_by(RewardTemplate.id)
        return list(await session.scalars(stmt))

    rows = [_out(t) for t in read(work)]
    show_list(rows, COLUMNS, as_json=as_json, empty="no templates", paginated=False)
