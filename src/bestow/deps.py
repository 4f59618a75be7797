"""FastAPI dependency aliases shared by every surface.

The one transaction idiom of a route: take ``session: WriteSessionDep``, call domain functions,
return. The dependency commits when the endpoint returns and rolls back when it raises; it runs
with ``scope="function"``, so the commit happens before the response is sent and a client never
sees a success whose commit failed. Routes never call ``commit()`` themselves. The one exception is
``surfaces.common.idempotent(work=...)``, which commits the work together with its idempotency
record. A refusal is raised (a ``DomainError``), never returned, so that nothing it wrote commits.
A read session is closed as soon as the endpoint returns too: its connection goes back to the
pool before the response is sent, not after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from bestow.kit.db import ReadSession, WriteSession

# Re-exported: the runtime is built without FastAPI (bestow.runtime), and most code imports it here.
from bestow.runtime import Runtime as Runtime


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:
    """``async`` on purpose: FastAPI runs a plain ``def`` dependency in a thread pool."""
    return runtime_of(request)


async def get_session(request: Request) -> AsyncIterator[ReadSession]:
    async with runtime_of(request).db.session() as session:
        yield session


async def get_write_session(request: Request) -> AsyncIterator[WriteSession]:
    """A session committed once the endpoint has returned, rolled back if it raised."""
    async with runtime_of(request).db.write_session() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ReadSessionDep = Annotated[ReadSession, Depends(get_session, scope="function")]
WriteSessionDep = Annotated[WriteSession, Depends(get_write_session, scope="function")]
