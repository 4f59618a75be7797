"""Database plumbing shared by every domain: base model, column types, engines and dialect helpers.

PostgreSQL and SQLite are both first-class. Anything dialect-specific lives here, with the SQLite
path beside the PostgreSQL one, so that repositories stay portable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from bestow.kit.security import Sealer

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


INT64_MAX = 2**63 - 1
Int64 = BigInteger().with_variant(Integer(), "sqlite")
"""A signed 64-bit integer on both databases, for points and money: ``BIGINT`` on PostgreSQL,
``INTEGER`` on SQLite (which stores every integer in up to 8 bytes). A value beyond
``INT64_MAX`` fits neither, and SQLite would silently turn such a sum into a float: code that
adds to one checks first."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def sealer_of(session: AsyncSession) -> Sealer:
    """The sealer of the ``Database`` that made this session."""
    sealer: Sealer | None = session.info.get("sealer")
    if sealer is None:
        raise RuntimeError("this session's Database was built without a sealer")
    return sealer


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, on both databases (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


def _dump_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


_JSON_CODEC: dict[str, Any] = {"json_serializer": _dump_json, "json_deserializer": orjson.loads}
"""JSON columns through orjson: several times faster than the standard library both ways."""


def _sqlite_file(url: str) -> Path | None:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if not path or path.startswith(":memory:"):
        return None
    return Path(path.split("?", 1)[0])


class ReadSession(AsyncSession):
    """A session for reading. Its own type so that a write can demand a ``WriteSession``: mypy then
    rejects a domain write given a read session (which, on SQLite, does not hold the write lock)."""


class WriteSession(AsyncSession):
    """A session whose transaction holds the write lock from its start on SQLite. Whoever opened
    it commits: a route through ``WriteSessionDep``, the idempotency runner with its record, a
    worker pipeline per chunk. Domain functions never commit."""


class Database:
    """Engines and session factories for one database.

    On SQLite, a deferred transaction that reads and then writes fails at once with
    ``database is locked`` when another writer got in between; write work therefore opens its
    transaction with ``BEGIN IMMEDIATE`` on a second engine, and waits its turn instead.
    On PostgreSQL both factories share one engine.
    """

    def __init__(
        self, url: str, *, pool_size: int = 10, echo: bool = False, sealer: Sealer | None = None
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            file = _sqlite_file(url)
            if file is not None:
                file.parent.mkdir(parents=True, exist_ok=True)
            self.engine = self._sqlite_engine(url, immediate=False, echo=echo)
            self.write_engine = self._sqlite_engine(url, immediate=True, echo=echo)
        else:
            # A pooled connection broken by an outage is found on checkout and replaced: the
            # first request after the database is back succeeds instead of answering 503.
            self.engine = create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                pool_timeout=10,
                echo=echo,
                hide_parameters=True,
                connect_args={"timeout": 5, "command_timeout": 60},
                **_JSON_CODEC,
            )
            self.write_engine = self.engine
        # Sessions carry the deployment's sealer (``sealer_of``): code that writes sealed columns
        # in bulk (voucher PINs, from the API and from issuance jobs) has no runtime at hand.
        info = {"sealer": sealer}
        self.sessionmaker = async_sessionmaker(
            self.engine, class_=ReadSession, expire_on_commit=False, info=info
        )
        self.write_sessionmaker = async_sessionmaker(
            self.write_engine, class_=WriteSession, expire_on_commit=False, info=info
        )

    @staticmethod
    def _sqlite_engine(url: str, *, immediate: bool, echo: bool) -> AsyncEngine:
        # Parameters are members' emails and phones: never let an error message carry them.
        engine = create_async_engine(
            url, echo=echo, hide_parameters=True, connect_args={"timeout": 30}, **_JSON_CODEC
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @asynccontextmanager
    async def session(self) -> AsyncIterator[ReadSession]:
        """A session for reading; it may write on PostgreSQL, never rely on that on SQLite."""
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def write_session(self) -> AsyncIterator[WriteSession]:
        """A session whose transaction holds the write lock from its start on SQLite."""
        async with self.write_sessionmaker() as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()


UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
"""Connection exceptions, the server shutting down or starting up, too many connections."""

CLOSED_CONNECTION = "connection is closed"
"""What asyncpg's ``InterfaceError`` says of a connection the server closed (a restart) when the
next statement of a transaction, or its commit, is sent on it: no SQLSTATE, and raw from the
driver when the statement bypasses SQLAlchemy (``bulk_insert``'s ``COPY``)."""


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached now (not that the request is wrong):
    a broken or refused connection, a connect or pool timeout, the server restarting."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, PoolTimeout | ConnectionError | TimeoutError):
            return True
        driver = current.orig if isinstance(current, DBAPIError) else current
        sqlstate = getattr(driver, "sqlstate", None) or getattr(driver, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(UNAVAILABLE_SQLSTATES):
            return True
        if type(driver).__name__ == "InterfaceError" and CLOSED_CONNECTION in str(driver):
            return True
        current = current.__cause__ or current.__context__
    return False


def dialect_insert(dialect_name: str, table: Any) -> Insert:
    """An INSERT that supports ``on_conflict_do_nothing`` / ``on_conflict_do_update`` on both."""
    if dialect_name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)


def insert_ignore(
    dialect_name: str, table: Any, index_elements: Sequence[Any] | None = None
) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` for either database."""
    stmt = dialect_insert(dialect_name, table)
    return stmt.on_conflict_do_nothing(index_elements=index_elements)  # type: ignore[attr-defined,no-any-return]


def for_update_skip_locked(dialect_name: str) -> dict[str, Any]:
    """Keyword arguments for ``select().with_for_update`` where the database has row locks.

    SQLite has none: its writers are serialised by the ``BEGIN IMMEDIATE`` transaction instead.
    """
    return {"skip_locked": True} if dialect_name == "postgresql" else {}


def dialect_of(session_or_conn: AsyncSession | AsyncConnection) -> str:
    return session_or_conn.bind.dialect.name  # type: ignore[union-attr]


async def bulk_insert(session: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction as fast as the database allows.

    PostgreSQL: binary ``COPY`` through the session's own asyncpg connection (several times faster
    than INSERT). SQLite: one ``executemany``. Every row must give every column of ``table``.
    """
    if not rows:
        return
    if session.bind.dialect.name != "postgresql":  # type: ignore[union-attr]
        await session.execute(table.insert(), rows)
        return
    columns = [c.name for c in table.columns]
    values = itemgetter(*columns)
    json_at = [i for i, c in enumerate(table.columns) if isinstance(c.type, JSON | JSONB)]
    records: list[Any] = [values(row) for row in rows]
    if json_at:
        for n, record in enumerate(records):
            record = list(record)
            for i in json_at:
                record[i] = orjson.dumps(record[i]).decode()
            records[n] = record
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        # The driver adapter opens the transaction lazily, at its first statement; a COPY sent
        # straight to the driver before that would commit on its own.
        await connection.exec_driver_sql("SELECT 1")
    await driver.copy_records_to_table(table.name, records=records, columns=columns)
