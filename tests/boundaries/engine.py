"""The boundary checks: every field of every write operation of the OpenAPI document, given
values at and past its boundaries, on a real application and database.

Each surface's module says how to make one valid request of each of its write operations
(``Operation.prepare``, on real objects so that path ids exist); the fields to break are read
from the document, so a new field or operation is checked (or fails the coverage test) without
anyone listing it. A request is checked for: no 5xx, the surface's error shape when refused, and
no row written by a refused request."""

from __future__ import annotations

import os
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, Phase, settings
from sqlalchemy import DateTime, String, cast, func, literal, select, union_all

import bestow.models  # noqa: F401 (registers every table)
from bestow.kit.db import Base
from tests.boundaries import values
from tests.fuzz.document import document as fuzzed_document
from tests.operator.helpers import headers as operator_headers
from tests.security.world import ADMIN, SURFACES, World, error_shape

EXAMPLES = int(os.environ.get("BESTOW_BOUNDARY_EXAMPLES", "5"))
"""Examples per field: the catalogue is sampled, so a field meets different values on each
database; ``BESTOW_BOUNDARY_EXAMPLES`` raises it for a longer run."""

BOUNDARY_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)
"""Reproducible (derandomized, no example database) and bounded; a failure is reported as
found, not shrunk (shrinking replays hundreds of requests)."""

UNFINGERPRINTED = {"idempotency_records", "request_log"}
"""A refused request sent with an idempotency key stores its answer for replay, and every
request of a client is recorded in the request log (refusals too), by design."""

WRITE_METHODS = ("post", "put", "patch", "delete")

OAUTH_ERRORS = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
}
"""RFC 6749, section 5.2."""


@dataclass
class Request:
    """One valid request of an operation: path parameters, body, query and extra headers."""

    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


Prepare = Callable[[World], Awaitable[Request]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    prepare: Prepare
    undocumented: tuple[tuple[str, str], ...] = ()
    """Members of a body read by hand, which the document does not describe: (name, kind)."""
    media: str = "application/json"

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def surface(self) -> str:
        return next(s for p, s in SURFACES.items() if self.path.startswith(p))


@dataclass(frozen=True)
class Field:
    """Where a value goes: ``body`` (a path of keys and list indexes), ``path``, ``query``,
    ``header``, or the whole body (``whole``) or an unknown member added to it (``extra``)."""

    where: str
    name: tuple[str | int, ...]
    kind: str
    date_like: bool = False

    def __str__(self) -> str:
        dotted = ".".join(str(part) for part in self.name) or "<body>"
        return f"{self.where}:{dotted}" if self.where != "body" else dotted


DATE_WORDS = ("time", "_at", "until", "since", "date", "from", "_to", "expir")


def _date_like(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in DATE_WORDS)


class Schemas:
    """Reads fields out of the OpenAPI document, resolving ``$ref`` (to the components or to a
    schema's own ``$defs``) and ``anyOf`` with null."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in schema and seen < 20:
            ref = schema["$ref"]
            if ref.startswith("#/$defs/"):
                schema = root.get("$defs", {})[ref.rsplit("/", 1)[1]]
            else:
                schema = self.document["components"]["schemas"][ref.rsplit("/", 1)[1]]
            seen += 1
        options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
        if options:
            return self.resolve(options[0], root) if len(options) == 1 else {"anyOf": options}
        return schema

    def kind(self, schema: dict[str, Any]) -> str:
        if schema.get("format") == "date-time":
            return "date-time"
        kinds = {o.get("type") for o in schema.get("anyOf", [])} - {None}
        if kinds:
            return "number" if {"number", "integer"} & kinds else "any"
        return str(schema.get("type", "any"))

    def fields(
        self, schema: dict[str, Any], root: dict[str, Any], prefix: tuple[str | int, ...] = ()
    ) -> Iterator[Field]:
        schema = self.resolve(schema, root)
        for name, sub in schema.get("properties", {}).items():
            resolved = self.resolve(sub, root)
            path = (*prefix, name)
            yield Field("body", path, self.kind(resolved), _date_like(name))
            if len(path) < 4:
                yield from self.nested(resolved, root, path)

    def nested(
        self, schema: dict[str, Any], root: dict[str, Any], path: tuple[str | int, ...]
    ) -> Iterator[Field]:
        if schema.get("properties"):
            yield from self.fields(schema, root, path)
        elif schema.get("type") == "array":
            items = self.resolve(schema.get("items", {}), root)
            if items.get("properties"):
                yield from self.fields(items, root, (*path, 0))
            else:
                yield Field("body", (*path, 0), self.kind(items), _date_like(str(path[-1])))


def document() -> dict[str, Any]:
    """The OpenAPI document the fuzzing reads (built once per process)."""
    return fuzzed_document()


def write_operations() -> list[tuple[str, str]]:
    """Every (METHOD, path) of the document that writes, on a surface."""
    return [
        (method.upper(), path)
        for path, operations in document()["paths"].items()
        for method in operations
        if method in WRITE_METHODS and any(path.startswith(p) for p in SURFACES)
    ]


CREDENTIAL_HEADERS = {
    "authorization",
    "x-clientid",
    "accept-version",
    "x-auth-operator-id",
    "x-auth-request-hash",
}


def fields_of(operation: Operation) -> list[Field]:
    """The fields of an operation from the document, with the members of a body read by hand
    that the document does not describe, the whole body and an unknown member."""
    entry = document()["paths"][operation.path][operation.method.lower()]
    schemas = Schemas(document())
    found: list[Field] = []
    for parameter in entry.get("parameters", []):
        where = parameter["in"]
        if where == "header" and parameter["name"].lower() in CREDENTIAL_HEADERS:
            continue
        kind = "string" if where in ("path", "header") else schemas.kind(parameter["schema"])
        found.append(Field(where, (parameter["name"],), kind, _date_like(parameter["name"])))
    content = entry.get("requestBody", {}).get("content", {})
    for media, described in content.items():
        if media in ("application/json", "application/x-www-form-urlencoded"):
            schema = described["schema"]
            found.extend(schemas.fields(schema, schema))
    for name, kind in operation.undocumented:
        found.append(Field("body", tuple(name.split(".")), kind, _date_like(name)))
    if operation.media == "text/csv":
        found.append(Field("whole", (), "csv"))
    elif content or operation.undocumented:
        found += [Field("whole", (), "body"), Field("extra", (), "any")]
    return found


def with_value(body: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """A copy of ``body`` with ``value`` at ``path`` (containers made where missing)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        items = list(body) if isinstance(body, list) and body else [{} if rest else None]
        items[0] = with_value(items[0], rest, value)
        return items
    mapping = dict(body) if isinstance(body, dict) else {}
    mapping[head] = with_value(mapping.get(head, {} if rest else None), rest, value)
    return mapping


def apply(request: Request, target: Field, value: Any) -> Request:
    """The request with ``value`` in the field ``target``."""
    name = str(target.name[0]) if target.name else ""
    if target.where == "body":
        return Request(
            request.params,
            with_value(request.body, target.name, value),
            request.query,
            request.headers,
        )
    if target.where == "whole":
        return Request(request.params, value, request.query, request.headers)
    if target.where == "extra":
        body = dict(request.body) if isinstance(request.body, dict) else {}
        body["unexpectedField"] = value
        return Request(request.params, body, request.query, request.headers)
    text = values.form_text(value)
    if target.where == "path":
        return Request({**request.params, name: text}, request.body, request.query, request.headers)
    if target.where == "query":
        return Request(request.params, request.body, {**request.query, name: text}, request.headers)
    return Request(request.params, request.body, request.query, {**request.headers, name: text})


def url_of(operation: Operation, request: Request) -> str:
    url = operation.path
    for name, value in request.params.items():
        url = url.replace("{" + name + "}", quote(value, safe=""))
    if request.query:
        url += "?" + "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in request.query.items())
    return url


def _header_safe(headers: dict[str, str]) -> dict[str, bytes]:
    """Header values as bytes: a value httpx would refuse (control characters) is sent as the
    bytes a careless client would send, or dropped when no HTTP server could receive it."""
    sent = {}
    for name, value in headers.items():
        raw = value.encode("utf-8", "surrogatepass")
        if any(b in raw for b in b"\r\n\x00"):
            continue
        sent[name] = raw
    return sent


async def send(world: World, operation: Operation, request: Request) -> httpx.Response:
    url = url_of(operation, request)
    surface = operation.surface
    if surface == "oauth":
        return await _send_oauth(world, url, request)
    if operation.media == "text/csv":
        content = str(request.body).encode("utf-8", "surrogatepass")
    else:
        content = b"" if request.body is None else values.encode(request.body)
    headers: dict[str, Any] = {"Content-Type": operation.media}
    if surface == "operator":
        headers = operator_headers(world.operator_a, url, content)
    elif surface == "partner":
        headers.update(world.partner_a.headers())
    elif surface == "vouchers":
        headers.update(world.voucher_a[2])
    elif surface == "loyalty":
        headers.update(world.loyalty_a.headers)
    elif surface == "admin":
        headers.update(ADMIN)
    headers.update(_header_safe(request.headers))
    return await world.http.request(operation.method, url, content=content, headers=headers)


async def _send_oauth(world: World, url: str, request: Request) -> httpx.Response:
    headers: dict[str, bytes] = _header_safe(request.headers)
    if isinstance(request.body, dict):
        form = "&".join(
            f"{quote(str(k))}={quote(values.form_text(v).encode('utf-8', 'surrogatepass'))}"
            for k, v in request.body.items()
        )
        content = form.encode()
        content_type = "application/x-www-form-urlencoded"
    else:
        content = b"" if request.body is None else values.encode(request.body)
        content_type = "application/json"
    return await world.http.post(
        url, content=content, headers={"Content-Type": content_type.encode(), **headers}
    )


_FINGERPRINT: Any = None


def _fingerprint_query() -> Any:
    global _FINGERPRINT
    if _FINGERPRINT is None:
        parts = []
        for table in Base.metadata.sorted_tables:
            if table.name in UNFINGERPRINTED:
                continue
            moments = [c for c in table.c if c.type._type_affinity is DateTime]
            changed: Any = literal("", String)
            for column in moments:
                changed = changed + func.coalesce(cast(func.max(column), String), "-") + "|"
            parts.append(
                select(
                    literal(table.name).label("t"), func.count().label("n"), changed.label("u")
                ).select_from(table)
            )
        _FINGERPRINT = union_all(*parts)
    return _FINGERPRINT


async def fingerprint(world: World) -> dict[str, tuple[int, Any]]:
    """Each table's row count and the latest value of each of its date-time columns
    (``updated_at``, ``revoked_at``, ``cancelled_at``, ...): a refused request that inserted,
    deleted or changed the state of a row changes it."""
    async with world.runtime.db.session() as session:
        rows = (await session.execute(_fingerprint_query())).all()
    return {str(t): (int(n), u) for t, n, u in rows}


def _summary(exc: BaseException) -> str:
    """The exception and the application's frames that raised it, as escaped text."""
    frames = [
        f"{frame.filename.rsplit('/src/', 1)[-1]}:{frame.lineno} {frame.name}"
        for frame in traceback.extract_tb(exc.__traceback__)
        if "/bestow/" in frame.filename
    ][-3:]
    text = f"{type(exc).__name__}: {exc} at {' < '.join(reversed(frames))}"
    return text.encode("ascii", "backslashreplace").decode()


async def check(world: World, operation: Operation, target: Field, value: Any) -> None:
    """Send the operation with ``value`` in ``target`` and check the answer."""
    request = apply(await operation.prepare(world), target, value)
    before = await fingerprint(world)
    try:
        response = await send(world, operation, request)
    except Exception as exc:
        # Not chained: the exception's own text may hold the value sent (a lone surrogate),
        # which pytest-xdist cannot carry between processes.
        raise AssertionError(
            f"{operation} {target}={value!r}: the application raised {_summary(exc)}"
        ) from None
    status = response.status_code
    where = f"{operation} {target}={value!r}: {status} {response.text[:300]}"
    assert status < 500, where
    if status < 400:
        return
    try:
        error_shape(operation.surface, response)
        if operation.surface == "vouchers":
            code = response.json()["code"]
            assert len(code) == 7 and code[3] == "-" and code.startswith(str(status)), code
        if operation.surface == "oauth":
            assert response.json()["error"] in OAUTH_ERRORS, response.text
    except (AssertionError, KeyError, ValueError) as exc:
        raise AssertionError(f"not the {operation.surface} error shape: {where}") from exc
    after = await fingerprint(world)
    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
    assert not changed, f"a refused request wrote rows {changed}: {where}"


def _enumerated(target: Field) -> list[Any] | None:
    """The few values of a field that is checked with every one of them, or None."""
    if target.where == "whole":
        return values.CSV_BODIES if target.kind == "csv" else values.BODIES
    if target.where == "header" and str(target.name[0]).lower() == "authorization":
        return values.AUTHORIZATIONS
    return None


def cases(operations: list[Operation]) -> list[Any]:
    """One test case per field of each operation, named after both."""
    return [
        pytest.param(operation, target, id=f"{operation} {target}")
        for operation in operations
        for target in fields_of(operation)
        if _enumerated(target) is None
    ]


def whole_cases(operations: list[Operation]) -> list[Any]:
    """One test case per operation whose body is sent whole with each of a few values."""
    return [
        pytest.param(operation, target, id=f"{operation} {target}")
        for operation in operations
        for target in fields_of(operation)
        if _enumerated(target) is not None
    ]


def values_for(target: Field) -> Any:
    return values.values_for(target.kind, date_like=target.date_like)


async def check_every_value(world: World, operation: Operation, target: Field) -> None:
    """``check`` with each of the field's few values, all of them every run."""
    for value in _enumerated(target) or []:
        await check(world, operation, target, value)


async def once(world: World, name: str, make: Callable[[], Awaitable[str]]) -> str:
    """An object made the first time it is asked for in this world, by id."""
    if name not in world.objects:
        world.objects[name] = await make()
    return world.objects[name]
