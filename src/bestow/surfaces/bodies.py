"""One declaration per request body: it validates, in the vendor's words, and documents the route.

The Loyalty, Operator and Voucher APIs refuse a bad body with their vendor's own messages, field by
field in a set order, which pydantic's validation errors would not give. A body is therefore a
``Body`` model whose fields each carry a ``Read``: the function that turns the raw JSON value into
the field's value or raises ``Invalid`` worded as the vendor words it. ``Model.read(data)`` runs the
readers in declaration order (after refusing fields the model does not name, or after reading
them where the vendor names its own fields' faults first: ``unknown_fields_last``), then ``check``
for rules across fields; the same model is the route's OpenAPI ``requestBody``
(``Model.openapi()``).

A field's Python type is what the handler gets (integer hundredths, a datetime); where the wire type
differs, ``WithJsonSchema`` on the field documents the wire::

    class RewardIn(Body):
        rewardType: Annotated[str, Read(reward_type)] = Field(description="FreeBets")
        betValue: Annotated[int, Read(bet_value), WithJsonSchema({"type": "number"})]

A field without a ``Read`` is validated by pydantic (for simple optional fields whose refusal
wording does not matter); a nested ``Body`` is read with the field's name as the prefix of its
fields' names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self, cast

from fastapi import Request
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from bestow.kit.errors import Invalid
from bestow.surfaces.common import NOT_JSON, documented_body, json_object, refuse_unknown


class _Missing:
    """The value of a field the body leaves out (``None`` is an explicit JSON null)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Read:
    """How a field is read: ``reader(value, name)`` returns the field's value or raises
    ``Invalid``; ``value`` is ``MISSING`` when the body leaves the field out, ``name`` the field's
    name as the vendor prints it (with its parents', ``freeBetDetails.betValue``).

    ``earlier=True``: the reader is called ``reader(value, name, earlier)`` with the values of
    the fields read before it (by field name), for a rule that depends on them and must refuse
    before the fields that follow (a Fixed reward reads ``betValue``, a Ranged one does not)."""

    reader: Callable[..., Any]
    earlier: bool = False


class Body(BaseModel):
    """A request body read by ``read``; subclasses declare fields with ``Read`` readers."""

    model_config = ConfigDict(frozen=True)
    refuse_unknown_fields: ClassVar[bool] = True
    unknown_fields_last: ClassVar[bool] = False
    """Refuse a field the model does not name only once its own fields are read."""
    refusal: ClassVar[type[Invalid]] = Invalid
    """What a body that cannot be read at all raises (not a JSON object, a number out of range,
    an unknown field), so that a surface may give it a code of its own."""
    not_json: ClassVar[str] = NOT_JSON
    """The message for a body that is not a JSON object."""

    @classmethod
    def read(cls, data: dict[str, Any], prefix: str = "") -> Self:
        if cls.refuse_unknown_fields and not cls.unknown_fields_last:
            cls._refuse_unknown(data, prefix)
        values: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            key = info.alias or name
            raw = data.get(key, MISSING)
            reader = next((m for m in info.metadata if isinstance(m, Read)), None)
            if reader is not None and reader.earlier:
                values[name] = reader.reader(raw, prefix + key, dict(values))
            elif reader is not None:
                values[name] = reader.reader(raw, prefix + key)
            elif (nested := _body_type(info.annotation)) is not None and raw is not MISSING:
                if not isinstance(raw, dict):
                    raise Invalid(f"{prefix}{key} must be an object", field=prefix + key)
                values[name] = nested.read(raw, f"{prefix}{key}.")
            elif raw is MISSING:
                if info.is_required():
                    raise Invalid(f"{prefix}{key} is required", field=prefix + key)
                values[name] = info.get_default(call_default_factory=True)
            else:
                values[name] = _validated(info.annotation, raw, prefix + key)
        if cls.refuse_unknown_fields and cls.unknown_fields_last:
            cls._refuse_unknown(data, prefix)
        body = cast(Self, cls.model_construct(**values))
        body.check(prefix)
        return body

    @classmethod
    def _refuse_unknown(cls, data: dict[str, Any], prefix: str) -> None:
        try:
            refuse_unknown(data, cls, prefix)
        except Invalid as exc:
            raise cls.refusal(exc.message, field=exc.field) from None

    def check(self, prefix: str) -> None:
        """Rules across fields, once every field is read; raise ``Invalid`` to refuse."""

    @classmethod
    def openapi(cls) -> dict[str, Any]:
        """``openapi_extra`` for a route that reads this body."""
        return documented_body(cls)

    @classmethod
    async def from_request(cls, request: Request) -> Self:
        """The request's JSON object read as this body."""
        return cls.read(await json_object(request, cls.refusal, cls.not_json))


def _body_type(annotation: Any) -> type[Body] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, Body) else None


def _validated(annotation: Any, value: Any, name: str) -> Any:
    try:
        return TypeAdapter(annotation).validate_python(value, strict=True)
    except ValidationError:
        raise Invalid(f"{name} is invalid", field=name) from None
