"""Settings derived from others: what a deployment gets when it leaves them unset."""

from __future__ import annotations

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
    values = {"environment": environment, "require_idempotency_keys": setting}
    assert Settings.model_validate(values).requires_idempotency_keys is required
