"""Environments: each client is ``demo``, ``uat`` or ``production``, and every behaviour that
depends on the environment follows the calling client's, not the deployment's.

A deployment pinned with ``BESTOW_ENVIRONMENT`` holds clients of that environment only; an
unpinned one holds all three side by side (``docs/environments.md``)."""

from __future__ import annotations

from bestow.config import Environment
from bestow.kit.errors import Invalid

ENVIRONMENTS = tuple(e.value for e in Environment)


def is_production(environment: str) -> bool:
    return environment == Environment.PRODUCTION


def allows_hash_bypass(environment: str) -> bool:
    """The Operator API's ``X-Bypass-Hash-Check``: outside production only."""
    return not is_production(environment)


def allows_local_webhooks(environment: str) -> bool:
    """Webhook URLs on loopback or plain http: outside production only."""
    return not is_production(environment)


def is_billable(environment: str) -> bool:
    """Billing and the usage report count production only."""
    return is_production(environment)


def allows_faults(environment: str) -> bool:
    """Fault injection (rules and the ``X-Bestow-Fault`` header): never in production."""
    return not is_production(environment)


def for_new_client(pinned: Environment | None, asked: str | None) -> str:
    """The environment of a client being created: the one asked for, which a deployment
    ``pinned`` to one must match; unasked, the pin, else ``demo``."""
    if asked is None:
        return str(pinned or Environment.DEMO)
    asked = asked.strip().lower()
    if asked not in ENVIRONMENTS:
        raise Invalid(f"environment must be one of {', '.join(ENVIRONMENTS)}", field="environment")
    if pinned is not None and asked != pinned:
        raise Invalid(
            f"environment must be {pinned}: this deployment is pinned to {pinned} "
            f"(BESTOW_ENVIRONMENT), its clients are all {pinned}",
            field="environment",
        )
    return asked
