"""Settings derived from others: what a deployment gets when it leaves them unset."""

from __future__ import annotations

import secrets

import pytest

from bestow.config import Settings


@pytest.mark.parametrize(
    ("environment", "setting", "required"),
    [
        ("production", None, True),
        ("uat", None, False),
        ("sandbox", None, False),
        ("production", False, False),
        ("sandbox", True, True),
    ],
)
def test_keys_are_required_by_default_in_production_only(
    environment: str, setting: bool | None, required: bool
) -> None:
    # Production refuses to start without strong secrets; these keep that rule out of the way.
    strong = {"secret_key": secrets.token_urlsafe(32), "admin_token": secrets.token_urlsafe(32)}
    values = {"environment": environment, "require_idempotency_keys": setting, **strong}
    settings = Settings.model_validate(values)
    assert settings.requires_idempotency_keys(str(settings.environment)) is required
