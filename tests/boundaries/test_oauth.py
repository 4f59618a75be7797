"""Boundaries of the OAuth token endpoint: the form's fields and the Basic credentials."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.boundaries.engine import (
    BOUNDARY_SETTINGS,
    Field,
    Operation,
    Request,
    cases,
    check,
    check_every_value,
    once,
    values_for,
    whole_cases,
)
from tests.oauth.helpers import VOUCHER_SCOPES, oauth_client
from tests.security.world import World


async def token(world: World) -> Request:
    async def make() -> str:
        client_id, secret, _ = await oauth_client(world.runtime, VOUCHER_SCOPES, tier="unlimited")
        world.secrets["boundaries.oauth"] = secret
        return client_id

    client_id = await once(world, "boundaries.oauth.client_id", make)
    body = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": world.secrets["boundaries.oauth"],
        "scope": "read_catalogue",
    }
    return Request(body=body)


async def basic(world: World) -> Request:
    """The form without credentials: they are to come in the ``Authorization`` header."""
    return Request(body={"grant_type": "client_credentials"})


TOKEN = Operation("POST", "/oauth2/token", token)
TOKEN_BASIC = Operation("POST", "/oauth2/token", basic)
BASIC = Field("header", ("Authorization",), "string")


@pytest.mark.parametrize(("operation", "target"), cases([TOKEN]))
@BOUNDARY_SETTINGS
@given(data=st.data())
async def test_oauth_field(
    world: World, operation: Operation, target: Field, data: st.DataObject
) -> None:
    await check(world, operation, target, data.draw(values_for(target), label=str(target)))


@pytest.mark.parametrize(
    ("operation", "target"),
    [*whole_cases([TOKEN]), pytest.param(TOKEN_BASIC, BASIC, id=f"{TOKEN} {BASIC}")],
)
async def test_oauth_whole(world: World, operation: Operation, target: Field) -> None:
    await check_every_value(world, operation, target)
