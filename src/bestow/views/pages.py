"""One page of a cursor-paginated list, as the Admin API and the CLI print it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from bestow.kit.pagination import CursorPage

T = TypeVar("T")


class ListOut(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


def listing(page: CursorPage[Any], view: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """A page as ``{"data": [...], "next_cursor": ...}``, each item through ``view`` if given
    (the Admin API's ``response_model`` then validates the items it is handed)."""
    items = page.items if view is None else [view(item) for item in page.items]
    return {"data": items, "next_cursor": page.next_cursor}
