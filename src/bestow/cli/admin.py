"""Administration commands: the same services as the Admin API, straight on the database."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the administration command groups to the main app."""
