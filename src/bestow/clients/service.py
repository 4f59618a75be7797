"""Clients: integrating partners, their credentials of every kind, scopes, tiers and grants."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.audit import service as audit
from bestow.clients import repository as repo

# Re-exported: the surfaces, the demo and the tests name the kinds through the service.
from bestow.clients.kinds import CREDENTIAL_KINDS as CREDENTIAL_KINDS
from bestow.clients.kinds import OAUTH_SECRET as OAUTH_SECRET
from bestow.clients.kinds import OPERATOR_KEY as OPERATOR_KEY
from bestow.clients.kinds import PARTNER_TOKEN as PARTNER_TOKEN
from bestow.clients.scopes import SCOPES
from bestow.config import Environment
from bestow.kit.actor import Actor
from bestow.kit.db import WriteSession, utcnow
from bestow.kit.errors import Conflict, Invalid, NotFound
from bestow.kit.pagination import CursorPage, cursor_paginate
from bestow.kit.security import Sealer, generate_secret, hash_secret, matches
from bestow.lab import environments, golive
from bestow.models import Client, Credential

OPERATOR_SLOTS = ("primary", "secondary")


@dataclass(frozen=True)
class IssuedSecret:
    """A credential and its secret, which is shown this once and never again."""

    credential: Credential
    secret: str


@dataclass(frozen=True)
class AuthenticatedClient:
    id: str
    name: str
    scopes: frozenset[str]
    rate_limit_tier: str
    operator_id: int | None = None
    credential_id: str | None = None
    environment: str = "demo"
    """``demo``, ``uat`` or ``production``: what the client's requests are subject to."""
    extra: dict[str, str] = field(default_factory=dict)


def _check_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise Invalid(f"unknown scopes: {', '.join(unknown)}", field="scopes")
    return sorted(set(scopes))


def is_active(credential: Credential, now: datetime) -> bool:
    if credential.revoked_at is not None and credential.revoked_at <= now:
        return False
    return credential.expires_at is None or credential.expires_at > now


async def get_client(session: AsyncSession, client_id: str) -> Client:
    client = await repo.get(session, client_id)
    if client is None:
        raise NotFound(f"client {client_id} not found")
    return client


def list_query(
    *,
    status: str | None = None,
    environment: str | None = None,
    organization: str | None = None,
) -> Select[Client]:
    stmt = select(Client)
    if status:
        stmt = stmt.where(Client.status == status)
    if environment:
        stmt = stmt.where(Client.environment == environment)
    if organization:
        stmt = stmt.where(Client.organization == organization)
    return stmt


async def list_clients(
    session: AsyncSession,
    *,
    status: str | None = None,
    environment: str | None = None,
    organization: str | None = None,
    cursor: str | None,
    limit: int,
) -> CursorPage[Client]:
    query = list_query(status=status, environment=environment, organization=organization)
    return await cursor_paginate(session, query, Client.id, cursor=cursor, limit=limit)


async def create_client(
    session: WriteSession,
    *,
    name: str,
    scopes: list[str],
    rate_limit_tier: str,
    known_tiers: list[str],
    operator_id: int | None = None,
    environment: str | None = None,
    organization: str | None = None,
    pinned: Environment | None = None,
    actor: Actor,
) -> Client:
    """Create a client of ``environment`` (unset: the deployment's ``pinned`` one, else
    ``demo``), in the partner ``organization`` if given."""
    if not name.strip():
        raise Invalid("name must not be blank", field="name")
    if rate_limit_tier not in known_tiers:
        raise Invalid(f"unknown rate-limit tier {rate_limit_tier!r}", field="rate_limit_tier")
    if operator_id is not None:
        if operator_id <= 0:
            raise Invalid("operator_id must be a positive integer", field="operator_id")
        if await repo.by_operator_id(session, operator_id):
            raise Conflict(f"operator id {operator_id} is already taken")
    if organization is not None and not organization.strip():
        raise Invalid("organization must not be blank", field="organization")
    client = Client(
        name=name.strip(),
        scopes=_check_scopes(scopes),
        rate_limit_tier=rate_limit_tier,
        operator_id=operator_id,
        status="active",
        environment=environments.for_new_client(pinned, environment),
        organization=organization.strip() if organization else None,
    )
    session.add(client)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="client.created",
        target_type="client",
        target_id=client.id,
        changes={
            "name": client.name,
            "scopes": client.scopes,
            "tier": rate_limit_tier,
            "environment": client.environment,
            "organization": client.organization,
        },
    )
    return client


async def update_client(
    session: WriteSession,
    *,
    client_id: str,
    actor: Actor,
    known_tiers: list[str],
    name: str | None = None,
    scopes: list[str] | None = None,
    rate_limit_tier: str | None = None,
    status: str | None = None,
    organization: str | None = None,
) -> Client:
    """Change what may change; a client's environment never does (its data is of it)."""
    client = await get_client(session, client_id)
    changes: dict[str, object] = {}
    if organization is not None:
        if not organization.strip():
            raise Invalid("organization must not be blank", field="organization")
        client.organization = changes["organization"] = organization.strip()
    if name is not None:
        if not name.strip():
            raise Invalid("name must not be blank", field="name")
        client.name = changes["name"] = name.strip()
    if scopes is not None:
        client.scopes = _check_scopes(scopes)
        changes["scopes"] = client.scopes
    if rate_limit_tier is not None:
        if rate_limit_tier not in known_tiers:
            raise Invalid(f"unknown rate-limit tier {rate_limit_tier!r}", field="rate_limit_tier")
        client.rate_limit_tier = changes["rate_limit_tier"] = rate_limit_tier
    if status is not None:
        if status not in ("active", "suspended"):
            raise Invalid("status must be active or suspended", field="status")
        client.status = changes["status"] = status
    audit.record(
        session,
        actor=actor,
        action="client.updated",
        target_type="client",
        target_id=client.id,
        changes=changes,
    )
    return client


def _new_secret(kind: str) -> str:
    prefix = {PARTNER_TOKEN: "bst_pt_", OAUTH_SECRET: "bst_cs_", OPERATOR_KEY: ""}[kind]
    return generate_secret(prefix)


async def issue_credential(
    session: WriteSession,
    sealer: Sealer,
    *,
    client_id: str,
    kind: str,
    actor: Actor,
    label: str = "",
    expires_at: datetime | None = None,
    override_reason: str | None = None,
    pinned: Environment | None = None,
    certify: golive.Certifier = golive.certification,
) -> IssuedSecret:
    """Create a credential. Operator keys go in the ``primary`` or ``secondary`` slot; issuing into
    a slot that is taken revokes the key that held it.

    A production client's first credential of a kind, in a deployment not ``pinned`` to one
    environment, passes the go-live gate (``lab.golive``): a UAT or demo client of its
    organisation certified by ``certify``, or an admin's ``override_reason``, audited."""
    client = await get_client(session, client_id)
    if kind not in CREDENTIAL_KINDS:
        raise Invalid(f"kind must be one of {', '.join(CREDENTIAL_KINDS)}", field="kind")
    clearance = None
    if await golive.is_gated(session, client=client, kind=kind, pinned=pinned):
        clearance = await golive.clear(
            session, client=client, kind=kind, override_reason=override_reason, certify=certify
        )
    now = utcnow()
    if kind == OPERATOR_KEY:
        if client.operator_id is None:
            raise Invalid("the client has no operator id; set one before issuing shared keys")
        label = label or "primary"
        if label not in OPERATOR_SLOTS:
            raise Invalid("an operator key's label is primary or secondary", field="label")
        for held in await repo.credentials(session, client_id, OPERATOR_KEY):
            if held.label == label and is_active(held, now):
                held.revoked_at = now
    secret = _new_secret(kind)
    credential = Credential(
        client_id=client_id,
        kind=kind,
        label=label,
        hint=secret[-4:],
        expires_at=expires_at,
        created_at=now,
    )
    if kind == OPERATOR_KEY:
        credential.sealed_secret = sealer.seal(secret)
    else:
        credential.secret_hash = hash_secret(secret)
    session.add(credential)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="credential.issued",
        target_type="client",
        target_id=client_id,
        changes={"credential_id": credential.id, "kind": kind, "label": label},
    )
    if clearance is not None:
        golive.record(
            session,
            client_id=client_id,
            kind=kind,
            credential_id=credential.id,
            clearance=clearance,
            actor=actor,
        )
    return IssuedSecret(credential, secret)


async def _credential(session: AsyncSession, client_id: str, credential_id: str) -> Credential:
    credential = await session.get(Credential, credential_id)
    if credential is None or credential.client_id != client_id:
        raise NotFound(f"credential {credential_id} not found")
    return credential


async def revoke_credential(
    session: WriteSession,
    *,
    client_id: str,
    credential_id: str,
    actor: Actor,
    grace_seconds: int = 0,
) -> Credential:
    credential = await _credential(session, client_id, credential_id)
    if credential.revoked_at is not None:
        raise Conflict("credential already revoked")
    credential.revoked_at = utcnow() + timedelta(seconds=max(0, grace_seconds))
    audit.record(
        session,
        actor=actor,
        action="credential.revoked",
        target_type="client",
        target_id=client_id,
        changes={"credential_id": credential_id, "grace_seconds": grace_seconds},
    )
    return credential


async def rotate_credential(
    session: WriteSession,
    sealer: Sealer,
    *,
    client_id: str,
    credential_id: str,
    actor: Actor,
    grace_seconds: int = 0,
) -> IssuedSecret:
    """Issue a replacement of the same kind and label; the old one stops working after the grace."""
    old = await _credential(session, client_id, credential_id)
    if not is_active(old, utcnow()):
        raise Conflict("only an active credential can be rotated")
    if old.kind == OPERATOR_KEY:
        # The other slot keeps working; this slot gets the new key at once.
        return await issue_credential(
            session, sealer, client_id=client_id, kind=old.kind, label=old.label, actor=actor
        )
    await revoke_credential(
        session,
        client_id=client_id,
        credential_id=credential_id,
        actor=actor,
        grace_seconds=grace_seconds,
    )
    return await issue_credential(
        session, sealer, client_id=client_id, kind=old.kind, label=old.label, actor=actor
    )


async def grant_merchant(
    session: WriteSession, *, client_id: str, merchant_id: str, actor: Actor
) -> None:
    await get_client(session, client_id)
    if not await repo.merchant_exists(session, merchant_id):
        raise NotFound(f"merchant {merchant_id} not found")
    if await repo.grant(session, client_id, merchant_id):
        audit.record(
            session,
            actor=actor,
            action="client.merchant_granted",
            target_type="client",
            target_id=client_id,
            changes={"merchant_id": merchant_id},
        )


async def revoke_merchant(
    session: WriteSession, *, client_id: str, merchant_id: str, actor: Actor
) -> None:
    await get_client(session, client_id)
    if not await repo.ungrant(session, client_id, merchant_id):
        raise NotFound(f"client {client_id} has no grant for merchant {merchant_id}")
    audit.record(
        session,
        actor=actor,
        action="client.merchant_revoked",
        target_type="client",
        target_id=client_id,
        changes={"merchant_id": merchant_id},
    )


async def granted_merchant_ids(session: AsyncSession, client_id: str) -> list[str]:
    return await repo.granted_merchant_ids(session, client_id)


async def credentials(session: AsyncSession, client_id: str) -> list[Credential]:
    await get_client(session, client_id)
    return list(await repo.credentials(session, client_id))


def _authenticated(client: Client, credential: Credential) -> AuthenticatedClient:
    return AuthenticatedClient(
        id=client.id,
        name=client.name,
        scopes=frozenset(client.scopes),
        rate_limit_tier=client.rate_limit_tier,
        operator_id=client.operator_id,
        credential_id=credential.id,
        environment=client.environment,
    )


DECOY_DIGEST = hash_secret("bestow-decoy-secret")
"""What a presented secret is compared with when its client has no credential to compare it with:
an unknown client id then costs the same reads and the same hash as a known one with a wrong
secret, so timing does not tell which client ids exist."""


async def authenticate_secret(
    session: AsyncSession, *, client_id: str, secret: str, kind: str
) -> AuthenticatedClient | None:
    """The client, if ``secret`` is one of its active credentials of ``kind``; else ``None``.

    Every candidate is compared in constant time, so timing tells nothing about which failed;
    an unknown or suspended client reads and compares as much as a known one (``DECOY_DIGEST``).
    """
    client = await repo.get(session, client_id)
    held = await repo.credentials(session, client_id, kind)
    now = utcnow()
    found: Credential | None = None
    candidates: list[tuple[Credential | None, str]] = [
        (c, c.secret_hash) for c in held if c.secret_hash
    ] or [(None, DECOY_DIGEST)]
    for credential, digest in candidates:
        if matches(secret, digest) and credential is not None and is_active(credential, now):
            found = credential
    if client is None or client.status != "active" or found is None:
        return None
    return _authenticated(client, found)


async def credential_in_force(
    session: AsyncSession, *, client_id: str, credential_id: str, kind: str
) -> AuthenticatedClient | None:
    """The client, if it is active and ``credential_id`` is one of its active credentials of
    ``kind``: what an access token minted with that credential still stands on."""
    client = await repo.get(session, client_id)
    if client is None or client.status != "active":
        return None
    credential = await session.get(Credential, credential_id)
    if (
        credential is None
        or credential.client_id != client_id
        or credential.kind != kind
        or not is_active(credential, utcnow())
    ):
        return None
    return _authenticated(client, credential)


async def operator_keys(
    session: AsyncSession, sealer: Sealer, *, operator_id: int
) -> tuple[AuthenticatedClient | None, list[str]]:
    """An operator client and its active shared keys (primary first), for request-hash checks.

    An unknown or suspended operator, or one without an active key, is ``(None, [decoy])``: the
    same reads, one key opened and one hash to compute, so timing does not tell which operator
    ids exist. The decoy key matches no request (the client is ``None``)."""
    client = await repo.by_operator_id(session, operator_id)
    now = utcnow()
    held = await repo.credentials(session, client.id if client else "", OPERATOR_KEY)
    active = [c for c in held if c.sealed_secret and is_active(c, now)]
    active.sort(key=lambda c: OPERATOR_SLOTS.index(c.label) if c.label in OPERATOR_SLOTS else 9)
    if client is None or client.status != "active" or not active:
        return None, [sealer.unseal(sealer.decoy)]
    return _authenticated(client, active[0]), [sealer.unseal(c.sealed_secret or "") for c in active]
