"""The domain packages, found rather than listed, and the loading that registers what they declare.

A domain declares its worker tasks (``bestow.kit.jobs.task``) and its event types
(``bestow.kit.outbox.event_type``) at import. ``load`` imports every module of every domain
package, so a process that calls it (the server, the worker, the CLI's event listing) knows them
all, and a new domain or module needs no entry in a hand-kept list. Every package of ``bestow``
is a domain except the layers named in ``NOT_DOMAINS`` (see the import layers in pyproject.toml).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

import bestow

NOT_DOMAINS = frozenset(
    {"cli", "console", "demo", "kit", "migrations", "models", "surfaces", "views", "worker"}
)
"""The packages of ``bestow`` that are front ends or lie below the domains."""


def packages() -> list[str]:
    """The domain packages, e.g. ``bestow.vouchers``."""
    return sorted(
        f"bestow.{info.name}"
        for info in pkgutil.iter_modules(bestow.__path__)
        if info.ispkg and info.name not in NOT_DOMAINS
    )


@functools.cache
def load() -> tuple[str, ...]:
    """Import every module of every domain package, once; returns their names."""
    names: list[str] = []
    for name in packages():
        package = importlib.import_module(name)
        names.append(name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            importlib.import_module(info.name)
            names.append(info.name)
    return tuple(names)
