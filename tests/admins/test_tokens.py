"""Admin API tokens: made once and shown once, stored as digests, revoked for good, and checked
against the configured token before any stored one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bestow.admins import tokens
from bestow.kit.errors import Conflict, Invalid, NotFound
from bestow.kit.security import hash_secret
from bestow.models import AdminToken, AuditEntry
from bestow.runtime import Runtime
from tests.conftest import ACTOR, unique


async def _create(runtime: Runtime, name: str) -> tuple[AdminToken, str]:
    async with runtime.db.write_session() as session:
        made = await tokens.create_token(session, name=name, actor=ACTOR)
        await session.commit()
    return made


async def test_a_created_token_is_stored_as_its_digest_and_audited(runtime: Runtime) -> None:
    token, secret = await _create(runtime, unique("ops"))
    assert secret.startswith(tokens.PREFIX)
    async with runtime.db.session() as session:
        stored = await session.get(AdminToken, token.id)
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.target_id == token.id))
    assert stored is not None and stored.token_hash == hash_secret(secret)
    assert entry is not None and entry.action == "admin_token.created"


async def test_a_blank_or_long_name_is_refused(runtime: Runtime) -> None:
    async with runtime.db.write_session() as session:
        for name in ("  ", "x" * 101):
            with pytest.raises(Invalid):
                await tokens.create_token(session, name=name, actor=ACTOR)


async def test_a_stored_token_authenticates_as_its_name(runtime: Runtime) -> None:
    name = unique("ops")
    token, secret = await _create(runtime, name)
    identity = await tokens.authenticate(runtime.db, secret, configured="something-else")
    assert identity is not None
    assert identity.actor().name == f"admin:{name}"
    assert identity.client_id == f"admin:{token.id}"


async def test_the_configured_token_authenticates_as_env(runtime: Runtime) -> None:
    identity = await tokens.authenticate(runtime.db, "the-configured", configured="the-configured")
    assert identity is not None
    assert identity.actor("req").name == "admin:env"
    assert identity.client_id == "admin"


async def test_an_unknown_token_authenticates_as_nobody(runtime: Runtime) -> None:
    assert await tokens.authenticate(runtime.db, "bst_adm_unknown", configured=None) is None


async def test_a_revoked_token_no_longer_authenticates_and_revokes_once(runtime: Runtime) -> None:
    token, secret = await _create(runtime, unique("ops"))
    async with runtime.db.write_session() as session:
        await tokens.revoke_token(session, token_id=token.id, actor=ACTOR)
        await session.commit()
    assert await tokens.authenticate(runtime.db, secret, configured=None) is None
    async with runtime.db.write_session() as session:
        with pytest.raises(Conflict):
            await tokens.revoke_token(session, token_id=token.id, actor=ACTOR)
        with pytest.raises(NotFound):
            await tokens.revoke_token(session, token_id="adm_unknown", actor=ACTOR)


async def test_ensure_makes_a_token_only_while_none_is_stored(runtime: Runtime) -> None:
    async with runtime.db.write_session() as session:
        first = await tokens.ensure_token(session)
        await session.commit()
    async with runtime.db.write_session() as session:
        assert await tokens.ensure_token(session) is None
    if first is not None:
        assert await tokens.authenticate(runtime.db, first, configured=None) is not None
