"""The error responses of every operation in the OpenAPI document.

Each surface renders any error that reaches the edge in its vendor's shape (``ErrorRenderer``):
validation errors are its 400 (never FastAPI's 422 ``HTTPValidationError``), and an unknown id is
its 404. Routes document the errors particular to them; this fills in, for every operation, the
ones its surface gives to any request (bad input, credentials, unknown resources, bodies too large
or of the wrong type, rate limits) with the surface's error schema and media type, and gives the
422 that FastAPI documents the surface's schema."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROBLEM: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "The field concerned, when there is one"},
    },
}

DESCRIPTIONS = {
    400: "Bad request: invalid parameters or body",
    401: "Missing or invalid credentials",
    403: "The credentials lack the operation's scope",
    404: "Unknown resource",
    409: "Conflict with the resource's current state",
    413: "Request body too large",
    415: "Unsupported Content-Type",
    422: "Idempotency key reused for another request, or an invalid state",
    429: "Rate limit exceeded",
}


@dataclass(frozen=True)
class ErrorDoc:
    """How a surface documents its errors: the schema, its media type, and the statuses any of
    its operations can answer with."""

    prefix: str
    schema: str
    media_type: str = "application/json"
    statuses: tuple[int, ...] = (400, 401, 403, 429)
    writes: tuple[int, ...] = (413, 415)
    lookups: tuple[int, ...] = (404,)


SURFACES = (
    ErrorDoc("/admin/", "Problem", "application/problem+json", (400, 401), (409, 413, 415)),
    ErrorDoc("/partner/", "PartnerError"),
    ErrorDoc("/v3/", "bestow__surfaces__vouchers__vouchers__ErrorOut"),
    ErrorDoc("/client/", "bestow__surfaces__loyalty__routes__ErrorOut"),
    ErrorDoc("/v1/", "EnvelopeOut"),
)


SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "partnerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "Partner API: a partner token, with X-ClientId and Accept-Version: v4.0",
    },
    "partnerClientId": {"type": "apiKey", "in": "header", "name": "X-ClientId"},
    "oauthBearer": {
        "type": "oauth2",
        "description": "Voucher and Loyalty APIs: a client-credentials access token (JWT)",
        "flows": {"clientCredentials": {"tokenUrl": "/oauth2/token", "scopes": {}}},
    },
    "clientBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "OAuth client authentication (client_secret_basic)",
    },
    "operatorId": {"type": "apiKey", "in": "header", "name": "X-AUTH-OPERATOR-ID"},
    "operatorHash": {
        "type": "apiKey",
        "in": "header",
        "name": "X-AUTH-REQUEST-HASH",
        "description": "SHA-256 of shared key + relative URL + raw body (docs/operator-api.md)",
    },
    "adminToken": {"type": "http", "scheme": "bearer", "description": "An admin token"},
}
SECURITY: tuple[tuple[str, list[dict[str, list[str]]]], ...] = (
    ("/partner/", [{"partnerToken": [], "partnerClientId": []}]),
    ("/v3/", [{"oauthBearer": []}]),
    ("/client/", [{"oauthBearer": []}]),
    ("/v1/", [{"operatorId": [], "operatorHash": []}]),
    ("/admin/", [{"adminToken": []}]),
    ("/oauth2/token", [{"clientBasic": []}, {}]),
)
"""Each surface's credentials; ``{}`` in a list means the credentials may be in the body."""


def secure(openapi: dict[str, Any]) -> dict[str, Any]:
    """Declare each surface's authentication scheme and require it on its operations."""
    openapi.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    for path, operations in openapi.get("paths", {}).items():
        required = next((need for prefix, need in SECURITY if path.startswith(prefix)), None)
        if required is None:
            continue
        for operation in operations.values():
            operation.setdefault("security", required)
    return openapi


def _surface(path: str) -> ErrorDoc | None:
    return next((s for s in SURFACES if path.startswith(s.prefix)), None)


def document(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add each surface's error responses to its operations in an OpenAPI document."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Problem", PROBLEM)
    for path, operations in openapi.get("paths", {}).items():
        surface = _surface(path)
        if surface is None or surface.schema not in schemas:
            continue
        reference = {"$ref": f"#/components/schemas/{surface.schema}"}
        content = {surface.media_type: {"schema": reference}}
        for method, operation in operations.items():
            statuses = set(surface.statuses)
            if method in ("post", "put", "patch"):
                statuses.update(surface.writes)
            if "{" in path:
                statuses.update(surface.lookups)
            if "422" in operation.get("responses", {}):
                statuses.add(422)
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses):
                response = responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
                documented = response.get("content", {}).get("application/json", {})
                if "content" not in response or _is_fastapi_validation(documented):
                    response["content"] = content
    # FastAPI's validation error schemas, now referenced by no operation.
    for name in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{name}'" not in str(openapi):
            schemas.pop(name, None)
    return openapi


def hoist_local_definitions(openapi: dict[str, Any]) -> dict[str, Any]:
    """Move the ``$defs`` of schemas embedded whole (a body a route reads itself, documented with
    its model's JSON schema) into ``components/schemas``: their ``#/$defs/...`` references are
    relative to the document's root, where viewers (ReDoc refuses the whole page) cannot find
    them."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            for name, schema in node.pop("$defs", {}).items():
                schemas.setdefault(name, walk(schema))
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node["$ref"] = "#/components/schemas/" + ref.removeprefix("#/$defs/")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        return node

    walk(openapi.get("paths", {}))
    return openapi


def _is_fastapi_validation(media: dict[str, Any]) -> bool:
    return bool(media.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"))
