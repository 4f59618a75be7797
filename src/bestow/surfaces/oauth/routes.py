"""``POST /oauth2/token``: the client credentials grant (RFC 6749 section 4.4).

The client authenticates with its id and an OAuth secret, by HTTP Basic (RFC 6749 2.3.1) or in the
form body, and gets a bearer token for the Voucher and Loyalty APIs with the scopes it asked for
(all of its scopes when it names none).
"""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import parse_qsl, unquote_plus

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from bestow.clients import service as clients
from bestow.deps import ReadSessionDep, RuntimeDep
from bestow.kit.errors import Invalid, Unauthenticated
from bestow.kit.responses import JSONResponse
from bestow.oauth import grant, tokens
from bestow.surfaces import auth_throttle
from bestow.surfaces.common import identify
from bestow.surfaces.oauth.errors import BASIC, NO_STORE

router = APIRouter(tags=["OAuth 2.0"])

FORM = "application/x-www-form-urlencoded"
MAX_FIELD = 1000


class TokenOut(BaseModel):
    access_token: str = Field(description="A JWT; send it as `Authorization: Bearer <token>`")
    token_type: str = Field(description="Always `Bearer`")
    expires_in: int = Field(description="Seconds the token is valid (3600 by default)")
    scope: str = Field(description="The scopes granted, space-separated")


class OAuthErrorOut(BaseModel):
    error: str = Field(
        description="invalid_request, invalid_client, unsupported_grant_type or invalid_scope"
    )
    error_description: str


async def _parameters(request: Request) -> dict[str, str]:
    """The request's parameters: a form (the standard) or a JSON object; a repeated or overlong
    parameter is refused."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = await request.body()
    if media == FORM:
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError) as exc:
            raise Invalid("The form body could not be read") from exc
    elif media == "application/json":
        try:
            data = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError as exc:
            raise Invalid("The body is not valid JSON") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise Invalid("The body must be an object of strings")
        pairs = list(data.items())
    else:
        raise Invalid(f"Content-Type must be {FORM}")
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        raise Invalid("A parameter is repeated")
    if any(len(value) > MAX_FIELD for _, value in pairs):
        raise Invalid("A parameter is too long")
    return dict(pairs)


def _credentials(request: Request, params: dict[str, str]) -> tuple[str, str, bool]:
    """(client id, secret, whether HTTP Basic was used)."""
    header = request.headers.get("authorization", "")
    in_body = "client_id" in params or "client_secret" in params
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            raise Unauthenticated("Use HTTP Basic or the form body", scheme=BASIC)
        if in_body:
            raise Invalid("Send the client credentials one way only")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except ValueError as exc:  # not base64 (or not ASCII at all), or not UTF-8 inside
            raise Unauthenticated("Malformed Basic credentials", scheme=BASIC) from exc
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise Unauthenticated("Malformed Basic credentials", scheme=BASIC)
        return unquote_plus(client_id), unquote_plus(secret), True
    client_id, secret = params.get("client_id", ""), params.get("client_secret", "")
    if not client_id or not secret:
        raise Unauthenticated("Client authentication is required")
    return client_id, secret, False


@router.post(
    "/oauth2/token",
    response_model=TokenOut,
    responses={400: {"model": OAuthErrorOut}, 401: {"model": OAuthErrorOut}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                FORM: {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "scope": {"type": "string"},
                            "client_id": {"type": "string"},
                            "client_secret": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def token(request: Request, runtime: RuntimeDep, session: ReadSessionDep) -> JSONResponse:
    """Exchange client credentials for an access token (OAuth 2.0 client credentials grant)."""
    params = await _parameters(request)
    grant.check_grant_type(params.get("grant_type"))
    client_id, secret, basic = _credentials(request, params)
    await auth_throttle.check(request, client_id)
    client = await clients.authenticate_secret(
        session, client_id=client_id, secret=secret, kind=clients.OAUTH_SECRET
    )
    if client is None:
        await auth_throttle.failed(request, client_id)
        raise Unauthenticated("Client authentication failed", scheme=BASIC if basic else None)
    # Recorded in the request log; faults are for the surfaces' own requests (docs/faults.md).
    await identify(request, client, with_faults=False)
    scopes = grant.granted_scopes(params.get("scope", "").split(), client.scopes)
    settings = runtime.settings
    signed, issued = tokens.issue(
        runtime.token_key,
        client_id=client.id,
        credential_id=client.credential_id or "",
        scopes=scopes,
        issuer=settings.oauth_issuer,
        lifetime=timedelta(seconds=settings.oauth_token_seconds),
    )
    body = {
        "access_token": signed,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": " ".join(issued.scopes),
    }
    return JSONResponse(body, headers=NO_STORE)
