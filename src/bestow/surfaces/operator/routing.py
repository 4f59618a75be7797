"""The Operator API's router: every route also answers with a trailing slash.

The request hash is computed over the URL with trailing slashes trimmed, so clients may send
either form; a redirect from one to the other would make them send a POST twice. The slash form
is left out of the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter


class OperatorRouter(APIRouter):
    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().add_api_route(path, endpoint, **kwargs)
        if not path.endswith("/"):
            super().add_api_route(path + "/", endpoint, **{**kwargs, "include_in_schema": False})
