"""The client credentials grant's rules (RFC 6749 section 4.4): which grant types are served and
which scopes a token may carry. Its refusals are domain errors; ``surfaces.oauth.errors`` gives
each its RFC 6749 code (``invalid_request``, ``unsupported_grant_type``, ``invalid_scope``)."""

from __future__ import annotations

from collections.abc import Iterable

from bestow.kit.errors import Invalid

CLIENT_CREDENTIALS = "client_credentials"


class UnsupportedGrantType(Invalid):
    """A grant type other than the client credentials grant."""


class InvalidScope(Invalid):
    """A requested scope the client does not hold."""


def check_grant_type(grant_type: str | None) -> None:
    if not grant_type:
        raise Invalid("grant_type is required", field="grant_type")
    if grant_type != CLIENT_CREDENTIALS:
        raise UnsupportedGrantType("Only client_credentials is supported", field="grant_type")


def granted_scopes(requested: list[str], held: Iterable[str]) -> list[str]:
    """The scopes of the token: those requested, all the client's when it names none."""
    held = set(held)
    if not_held := sorted(set(requested) - held):
        raise InvalidScope(
            f"Scopes not granted to this client: {' '.join(not_held)}", field="scope"
        )
    return requested or sorted(held)
