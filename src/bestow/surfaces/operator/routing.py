"""The Operator API's router, its envelope's model and the errors every route documents.

Every route also answers with a trailing slash: the request hash is computed over the URL with
trailing slashes trimmed, so clients may send either form; a redirect from one to the other would
make them send a POST twice. The slash form is left out of the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field


class EnvelopeOut(BaseModel):
    message: str = Field(description='"OK", or what went wrong')
    data: Any = Field(description="The result; {} when there is none")
    responseCode: str = Field(description="OK, ValidationError, Unauthorized, NotFound, ...")


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": EnvelopeOut, "description": "ValidationError, with the rule in message"},
    401: {"model": EnvelopeOut, "description": "Unauthorized: missing or wrong hash"},
    403: {"model": EnvelopeOut, "description": "Forbidden: lacks the operator.campaigns scope"},
    404: {"model": EnvelopeOut, "description": "NotFound"},
    429: {"model": EnvelopeOut, "description": "RateLimited"},
}


def conflict(description: str) -> dict[int | str, dict[str, Any]]:
    """The 409 a route documents beside ``ERRORS``."""
    return {409: {"model": EnvelopeOut, "description": description}}


class OperatorRouter(APIRouter):
    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().add_api_route(path, endpoint, **kwargs)
        if not path.endswith("/"):
            super().add_api_route(path + "/", endpoint, **{**kwargs, "include_in_schema": False})


def router() -> OperatorRouter:
    """A router for Operator API routes under ``/v1``."""
    return OperatorRouter(prefix="/v1", tags=["Operator API"], responses=ERRORS)
