"""The kinds of client credential.

A module of its own, importing only the standard library, so that the CLI offers the kinds as the
choices of ``--kind`` without importing the clients service (and with it the models).
"""

from __future__ import annotations

from enum import StrEnum


class CredentialKind(StrEnum):
    partner_token = "partner_token"  # noqa: S105 (a kind name, not a secret)
    oauth_secret = "oauth_secret"  # noqa: S105
    operator_key = "operator_key"


# Plain strings, as stored in ``Credential.kind``.
PARTNER_TOKEN: str = CredentialKind.partner_token.value
OAUTH_SECRET: str = CredentialKind.oauth_secret.value
OPERATOR_KEY: str = CredentialKind.operator_key.value
CREDENTIAL_KINDS = tuple(kind.value for kind in CredentialKind)
