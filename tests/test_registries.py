"""Every worker task and event type declared anywhere in bestow is registered, without a list.

The declarations are found by reading the source (calls of ``task`` and ``event_type``), so a
module that declares one where ``bestow.domains.load`` does not look (a front end, the kit, a
package left out of the domains) fails here instead of silently in production.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path

import pytest

import bestow
from bestow import domains
from bestow.kit import jobs, outbox

PACKAGE = Path(bestow.__file__).parent
DECLARERS = {"task": "task", "event_type": "event type"}


@dataclass(frozen=True)
class Declaration:
    module: str
    what: str
    name: str


def _called(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def declarations() -> list[Declaration]:
    """Every ``task(...)`` and ``event_type(...)`` call in the package, with the name it declares
    (a string, or the module-level constant holding it)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        if module in ("bestow.kit.jobs", "bestow.kit.outbox"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or _called(node) not in DECLARERS or not node.args:
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                name = first.value
            elif isinstance(first, ast.Name):
                name = getattr(importlib.import_module(module), first.id)
            else:
                raise AssertionError(f"{module}: declares a {_called(node)} with a computed name")
            found.append(Declaration(module, DECLARERS[_called(node) or ""], name))
    return found


DECLARED = declarations()


def test_the_source_declares_tasks_and_event_types() -> None:
    whats = {d.what for d in DECLARED}
    assert whats == {"task", "event type"}


@pytest.mark.parametrize("declaration", DECLARED, ids=lambda d: f"{d.module}:{d.name}")
def test_every_declaring_module_is_loaded_by_the_domains(declaration: Declaration) -> None:
    assert declaration.module in domains.load()


@pytest.mark.parametrize("declaration", DECLARED, ids=lambda d: f"{d.module}:{d.name}")
def test_every_declaration_is_registered_once_the_domains_are_loaded(
    declaration: Declaration,
) -> None:
    domains.load()
    if declaration.what == "task":
        spec = jobs.registered(declaration.name)
        assert spec is not None
        assert spec.handler.__module__ == declaration.module
    else:
        assert outbox.lookup(declaration.name) is not None


def test_the_worker_and_the_event_listing_load_every_domain_module() -> None:
    import bestow.events
    import bestow.tasks

    assert bestow.tasks.MODULES == bestow.events.MODULES == domains.load()
    assert "bestow.webhooks.dispatcher" in domains.load()


def test_the_domains_are_the_packages_that_are_neither_front_ends_nor_below_the_domains() -> None:
    packages = domains.packages()
    assert "bestow.vouchers" in packages
    assert "bestow.webhooks" in packages
    assert not {"bestow.kit", "bestow.models", "bestow.surfaces", "bestow.cli"} & set(packages)
