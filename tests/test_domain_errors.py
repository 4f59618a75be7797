"""No domain error that escapes to the edge is ever a 500.

Every ``DomainError`` kind defined anywhere in bestow (found by importing every module, so a new
kind is checked without being listed) is rendered by every surface's error mapping, the way an
escaped exception is answered: ``surfaces.common.classify``, then the renderer of the surface
that owns the path. Each must answer 4xx, or 503 for ``ServiceUnavailable``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import bestow
from bestow.app import surfaces
from bestow.kit.errors import DomainError, ServiceUnavailable
from bestow.surfaces.common import Surface, classify

PACKAGE = Path(bestow.__file__).parent
SKIPPED = ("bestow.migrations",)
"""Alembic's environment runs migrations when imported."""

SAMPLES: dict[str, Any] = {
    "int": 1,
    "float": 1.0,
    "bool": False,
    "str": "refused",
    "datetime": datetime.now(UTC) + timedelta(minutes=15),
}
"""A value for a required constructor parameter, by its annotation (dicts and lists: empty)."""


def every_module() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(bestow.__path__, prefix="bestow."):
        if not info.name.startswith(SKIPPED):
            importlib.import_module(info.name)
            names.append(info.name)
    return names


def kinds(of: type[DomainError] = DomainError) -> list[type[DomainError]]:
    found = []
    for sub in of.__subclasses__():
        found += [sub, *kinds(sub)]
    return sorted(set(found), key=lambda k: (k.__module__, k.__qualname__))


MODULES = every_module()
KINDS = [DomainError, *kinds()]
SURFACES = [surfaces().default, *surfaces().surfaces]


def required(kind: type[DomainError]) -> list[inspect.Parameter]:
    return [
        p
        for p in inspect.signature(kind).parameters.values()
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def sample(parameter: inspect.Parameter) -> Any:
    annotation = str(parameter.annotation)
    if annotation.startswith("dict"):
        return {}
    if annotation.startswith("list"):
        return []
    return SAMPLES.get(annotation, "refused")


def instance(kind: type[DomainError]) -> DomainError:
    """The kind, built with sample values for its required parameters."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for parameter in required(kind):
        value = sample(parameter)
        if parameter.kind is parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = value
        else:
            args.append(value)
    return kind(*args, **kwargs)


def expected(exc: DomainError, status: int) -> bool:
    if isinstance(exc, ServiceUnavailable):
        return status == 503
    return 400 <= status < 500


def test_the_hierarchy_is_found_in_every_module() -> None:
    assert "bestow.surfaces.common" in MODULES
    names = {k.__name__ for k in KINDS}
    assert {"NotFound", "Invalid", "Conflict", "InvalidState", "ServiceUnavailable"} <= names
    assert any(not k.__module__.startswith("bestow.kit") for k in KINDS)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: f"{k.__module__}.{k.__qualname__}")
def test_classify_answers_every_domain_error_with_a_4xx_or_a_503(kind: type[DomainError]) -> None:
    exc = instance(kind)
    info = classify(exc)
    assert expected(exc, info.status), f"{kind.__qualname__} is classified {info.status}"


@pytest.mark.parametrize("surface", SURFACES, ids=lambda s: s.name)
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: f"{k.__module__}.{k.__qualname__}")
def test_every_surface_answers_every_domain_error_with_a_4xx_or_a_503(
    surface: Surface, kind: type[DomainError]
) -> None:
    exc = instance(kind)
    registry = surfaces()
    path = f"{surface.prefix}/anything"
    assert registry.for_path(path).name == surface.name
    response = registry.error_response(path, exc)
    assert expected(exc, response.status_code), (
        f"{surface.name} answers {kind.__qualname__} with {response.status_code}"
    )


def test_no_kind_takes_its_status_from_the_code_that_raises_it() -> None:
    """A kind's answer is decided by each surface's mapping, never by a status its raiser picks
    (the Voucher API's handlers once raised vendor codes with statuses of their own)."""
    chosen = [k.__qualname__ for k in KINDS if "status" in inspect.signature(k).parameters]
    assert not chosen, f"kinds taking a status from their caller: {chosen}"
