"""``bestow clients catalogue list|assign|unassign``: the same assignments as the Admin API."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from bestow.deps import Runtime
from tests.lab.catalogue_helpers import run_cli
from tests.surfaces.partner.helpers import make_template, new_partner
from tests.vouchers.helpers import login, make_product


async def test_the_cli_assigns_lists_and_unassigns_what_the_voucher_api_then_shows(
    app_client: httpx.AsyncClient, runtime: Runtime, database_url: str, var_dir: Path
) -> None:
    product, other = await make_product(runtime), await make_product(runtime)
    client_id, headers = await login(app_client, runtime)

    async def cli(*args: str) -> object:
        result = await run_cli(database_url, var_dir, "clients", "catalogue", *args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if "--json" in args else result.stdout

    item = await cli("assign", client_id, "product", product.code, "--json")
    assert item["item_id"] == product.code  # type: ignore[index]
    listed = await app_client.get("/v3/products", headers=headers)
    assert {p["code"] for p in listed.json()} & {product.code, other.code} == {product.code}
    assert await cli("list", client_id, "--json") == {"data": [item]}
    assert product.code in str(await cli("list", client_id, "--kind", "product"))

    assert "no longer in the catalogue" in str(
        await cli("unassign", client_id, "product", product.code)
    )
    listed = await app_client.get("/v3/products", headers=headers)
    assert {product.code, other.code} <= {p["code"] for p in listed.json()}
    assert await cli("list", client_id, "--json") == {"data": []}


async def test_the_cli_refuses_a_template_of_a_merchant_the_client_may_not_act_for(
    runtime: Runtime, database_url: str, var_dir: Path
) -> None:
    partner, stranger = await new_partner(runtime), await new_partner(runtime)
    foreign = await make_template(runtime, stranger.merchant_id)
    result = await run_cli(
        database_url,
        var_dir,
        "clients",
        "catalogue",
        "assign",
        partner.client_id,
        "template",
        foreign.id,
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and "grant the merchant first" in result.stderr
    assert "Traceback" not in result.output
