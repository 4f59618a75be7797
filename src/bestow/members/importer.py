"""Bulk import of a merchant's members from CSV, for the CLI and the Admin API.

The header is checked first: an unknown column refuses the whole file before anything is written.
The rows are then read in chunks. Each chunk is validated (off the event loop, on several cores
with a process pool), checked for duplicates within the file, and its good rows inserted with one
executemany per table, in a transaction of its own; rows whose identifiers a member already has
are refused there. An import is a batch job, not a request: a transaction per chunk keeps the
write lock short and memory flat, and makes progress durable, so a failure half-way leaves the
chunks before it imported, and the audit trail says how far it went.

Who commits: ``Importer`` itself, once per chunk (``_attempt``, with the audit record on the last
chunk) and once for the record of an interruption; it opens its own write sessions from the
``Database`` it is given, so the Admin API's import route and the CLI hand it no session.

Every bad row is reported with its line number and a reason. A reason never quotes the value:
emails and phones are personal data, and reports end up in logs and tickets.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import multiprocessing
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from operator import attrgetter
from typing import NamedTuple, cast

from sqlalchemy import ColumnElement, Table, bindparam, func, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bestow.audit import service as audit
from bestow.kit.actor import Actor
from bestow.kit.db import Database, WriteSession
from bestow.kit.errors import Conflict, Invalid, ServiceUnavailable
from bestow.kit.ids import new_guid, new_id
from bestow.members.defaults import CHUNK_SIZE
from bestow.members.identifiers import check_guid, normalise_email, normalise_phone
from bestow.members.service import STATUSES
from bestow.merchants.service import get_merchant
from bestow.models import Member, MemberExternalId

COLUMNS = ("email", "phone", "loyalty_id", "account_id", "first_name", "last_name", "status")
IDENTIFIERS = ("email", "phone", "loyalty_id")
EXTERNAL_PREFIX = "external:"
MAX_LENGTHS = {"loyalty_id": 64, "first_name": 100, "last_name": 100}
MAX_EXTERNAL_LENGTH = 200
NAMESPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Only names that look like column names are quoted back: a file without its header row would
# otherwise echo a member's email or phone in the error.
QUOTABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_ :.-]{0,63}$")
INSERT_ATTEMPTS = 3

members_table = cast(Table, Member.__table__)
external_ids_table = cast(Table, MemberExternalId.__table__)

ProgressCallback = Callable[[int], None]


class ImportFailed(ServiceUnavailable):
    """The database failed during an import; the chunks before the failure stay imported.
    The database's fault, not the file's: a ``ServiceUnavailable`` (503 on the Admin API, which
    answered 500 before it was a domain error)."""


class RowError(NamedTuple):
    line: int
    reason: str


class Candidate(NamedTuple):
    """A row that passed validation, its identifiers normalised and its ids drawn."""

    line: int
    id: str
    account_id: str
    account_id_given: bool
    email: str | None
    phone: str | None
    loyalty_id: str | None
    first_name: str
    last_name: str
    status: str
    external_ids: tuple[tuple[str, str], ...]

    def unique_keys(self) -> list[tuple[str, str]]:
        """(what, value) for every identifier that must be unique."""
        keys = []
        if self.email:
            keys.append(("email", self.email))
        if self.phone:
            keys.append(("phone", self.phone))
        if self.loyalty_id:
            keys.append(("loyalty_id", self.loyalty_id))
        if self.account_id_given:
            keys.append(("account_id", self.account_id))
        for namespace, value in self.external_ids:
            keys.append((EXTERNAL_PREFIX + namespace, value))
        return keys


@dataclass(frozen=True)
class Header:
    """The file's columns: standard names lower-cased, external ids as ``external:<namespace>``."""

    columns: tuple[str, ...]

    @property
    def namespaces(self) -> tuple[str, ...]:
        return tuple(c.removeprefix(EXTERNAL_PREFIX) for c in self.columns if _is_external(c))


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.errors)


@dataclass
class _Chunk:
    records: list[tuple[int, list[str]]]
    end_line: int


def validation_pool(workers: int | None = None) -> ProcessPoolExecutor | None:
    """Processes to validate chunks on several cores, or ``None`` where there is one.

    Make it before any thread starts (before the event loop opens a database): on Linux the
    workers are forked at once, from a single thread, sharing the modules already imported.
    """
    count = workers or os.cpu_count() or 1
    if count < 2:
        return None
    method = "fork" if sys.platform == "linux" else "spawn"
    pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context(method))
    pool.submit(int).result()
    return pool


def _is_external(column: str) -> bool:
    return column.startswith(EXTERNAL_PREFIX)


def decode_csv(data: bytes) -> str:
    """The text of an uploaded file: UTF-8, with or without a byte-order mark."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("the file is not UTF-8 text", field="file") from exc


def parse_header(row: Sequence[str] | None) -> Header:
    if row:
        row = [row[0].lstrip("\ufeff"), *row[1:]]
    if not row or not any(name.strip() for name in row):
        raise Invalid("the file needs a header row naming its columns", field="header")
    columns: list[str] = []
    unknown: list[str] = []
    for position, raw in enumerate(row, start=1):
        name = raw.strip()
        if name.lower().startswith(EXTERNAL_PREFIX):
            namespace = name[len(EXTERNAL_PREFIX) :].strip()
            if not NAMESPACE.match(namespace):
                raise Invalid(
                    f"column {position}: an external id column is external:<namespace>, the "
                    "namespace 1-64 letters, digits, '.', '_' or '-'",
                    field="header",
                )
            name = EXTERNAL_PREFIX + namespace
        elif name.lower() in COLUMNS:
            name = name.lower()
        else:
            unknown.append(name if QUOTABLE.match(name) else f"column {position}")
            continue
        if name in columns:
            raise Invalid(f"column {name} appears twice in the header", field="header")
        columns.append(name)
    if unknown:
        raise Invalid(
            f"unknown columns: {', '.join(unknown)}. Known columns: {', '.join(COLUMNS)} and "
            "external:<namespace>; the first row must be the header",
            field="header",
        )
    if not any(c in IDENTIFIERS for c in columns):
        raise Invalid(
            "the header needs at least one of the email, phone and loyalty_id columns",
            field="header",
        )
    return Header(tuple(columns))


def validate_rows(
    header: Header, records: Sequence[tuple[int, list[str]]]
) -> list[Candidate | RowError]:
    """Check and normalise rows on their own (no database, no other rows). A pure function of
    picklable values, so that a process pool can run it."""
    width = len(header.columns)
    results: list[Candidate | RowError] = []
    for line, values in records:
        if len(values) != width:
            results.append(RowError(line, f"expected {width} fields, found {len(values)}"))
            continue
        results.append(_validate_row(header, line, values))
    return results


def _validate_row(header: Header, line: int, values: list[str]) -> Candidate | RowError:
    row = dict(zip(header.columns, (v.strip() for v in values), strict=True))
    problems: list[str] = []

    def checked(name: str, check: Callable[[str], str]) -> str | None:
        value = row.get(name, "")
        if not value:
            return None
        try:
            return check(value)
        except Invalid as exc:
            problems.append(exc.message)
            return None

    email = checked("email", normalise_email)
    phone = checked("phone", lambda v: normalise_phone(v, strict=False))
    account_id = checked("account_id", lambda v: check_guid(v, field="account_id"))
    for name, limit in MAX_LENGTHS.items():
        if len(row.get(name, "")) > limit:
            problems.append(f"{name} is longer than {limit} characters")
    if not any(row.get(name) for name in IDENTIFIERS):
        problems.append("a member needs an email, a phone or a loyalty_id")
    status = row.get("status", "").lower() or "active"
    if status not in STATUSES:
        problems.append("status must be active or inactive")
    external_ids: list[tuple[str, str]] = []
    for namespace in header.namespaces:
        value = row[EXTERNAL_PREFIX + namespace]
        if len(value) > MAX_EXTERNAL_LENGTH:
            problems.append(
                f"{EXTERNAL_PREFIX}{namespace} is longer than {MAX_EXTERNAL_LENGTH} characters"
            )
        elif value:
            external_ids.append((namespace, value))
    if problems:
        return RowError(line, "; ".join(problems))
    return Candidate(
        line=line,
        id=new_id("mbr"),
        account_id=account_id or new_guid(),
        account_id_given=account_id is not None,
        email=email,
        phone=phone,
        loyalty_id=row.get("loyalty_id") or None,
        first_name=row.get("first_name", ""),
        last_name=row.get("last_name", ""),
        status=status,
        external_ids=tuple(external_ids),
    )


class _FirstSeen:
    """The line on which each identifier first appeared in the file."""

    def __init__(self) -> None:
        self._lines: dict[tuple[str, str], int] = {}

    def claim(self, candidate: Candidate) -> str | None:
        """Why the row repeats an earlier one; else ``None``, and its identifiers are taken."""
        keys = candidate.unique_keys()
        for key in keys:
            line = self._lines.get(key)
            if line is not None:
                return f"{key[0]} repeats line {line}"
        for key in keys:
            self._lines[key] = candidate.line
        return None


def _chunks(
    reader: Iterator[list[str]], line_num: Callable[[], int], size: int, report: ImportReport
) -> Iterator[_Chunk]:
    records: list[tuple[int, list[str]]] = []
    last_line = line_num()
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.rows += 1
            report.errors.append(RowError(last_line + 1, f"malformed CSV: {exc}"))
            last_line = line_num()
            continue
        start, last_line = last_line + 1, line_num()
        if not "".join(values).strip():
            continue
        records.append((start, values))
        if len(records) >= size:
            yield _Chunk(records, last_line)
            records = []
    if records:
        yield _Chunk(records, last_line)


async def import_members(
    db: Database,
    *,
    merchant_id: str,
    source: Iterable[str],
    actor: Actor,
    chunk_size: int = CHUNK_SIZE,
    on_progress: ProgressCallback | None = None,
    executor: Executor | None = None,
    lookahead: int = 2,
) -> ImportReport:
    """Import the CSV ``source`` (an open file or lines of text) into the merchant's members.

    ``executor`` validates the chunks (by default, a thread); with a process pool, validation
    uses several cores, ``lookahead`` chunks at once, while the database writes the chunk before.
    ``on_progress`` receives the number of lines read after the header, once per chunk.
    Raises ``Invalid`` for a file that cannot be imported at all, ``NotFound`` for the merchant.
    """
    async with db.session() as session:
        await get_merchant(session, merchant_id)
    reader = csv.reader(source)
    try:
        first = next(reader, None)
    except csv.Error as exc:
        raise Invalid(f"the header row is not valid CSV: {exc}", field="header") from exc
    header = parse_header(first)

    report = ImportReport()
    seen = _FirstSeen()
    loop = asyncio.get_running_loop()
    chunks = _chunks(reader, lambda: reader.line_num, chunk_size, report)
    pending: deque[tuple[_Chunk, asyncio.Future[list[Candidate | RowError]]]] = deque()

    def read_ahead() -> None:
        while len(pending) < max(1, lookahead):
            chunk = next(chunks, None)
            if chunk is None:
                return
            report.rows += len(chunk.records)
            validated = loop.run_in_executor(executor, validate_rows, header, chunk.records)
            pending.append((chunk, validated))

    writer = _Writer(db, merchant_id, report, actor)
    try:
        read_ahead()
        if not pending:
            await writer.write([], last=True)
        while pending:
            chunk, validated = pending.popleft()
            results = await validated
            read_ahead()
            candidates: list[Candidate] = []
            for result in results:
                if isinstance(result, RowError):
                    report.errors.append(result)
                    continue
                repeated = seen.claim(result)
                if repeated:
                    report.errors.append(RowError(result.line, repeated))
                else:
                    candidates.append(result)
            await writer.write(candidates, last=not pending)
            if on_progress is not None:
                on_progress(chunk.end_line - 1)
    except BaseException:
        if report.imported:
            await writer.record_interruption()
        raise
    report.errors.sort(key=lambda e: e.line)
    return report


class _Writer:
    """Writes chunks, each in its own transaction; the last one also records the audit entry.

    A chunk is inserted optimistically: most files bring new members, and checking every
    identifier first would cost more than the insert. When the unique constraints refuse it, the
    transaction is rolled back and the chunk checked against the merchant's members, then
    inserted without the rows that are taken; from then on, chunks are checked first.
    """

    def __init__(self, db: Database, merchant_id: str, report: ImportReport, actor: Actor) -> None:
        self.db = db
        self.merchant_id = merchant_id
        self.report = report
        self.actor = actor
        self.check_first = False

    async def write(self, candidates: list[Candidate], *, last: bool) -> None:
        first_line = candidates[0].line if candidates else 0
        for _ in range(INSERT_ATTEMPTS):
            try:
                fresh, errors = await self._attempt(candidates, last=last)
            except IntegrityError:
                self.check_first = True
                continue
            except DBAPIError as exc:
                # SQLAlchemy's message quotes the statement and its rows: personal data that must
                # not reach a log or a terminal. The kind of failure is kept.
                raise ImportFailed(
                    f"the database failed on the rows from line {first_line}: "
                    f"{type(exc.orig).__name__}"
                ) from None
            self.report.imported += len(fresh)
            self.report.errors.extend(errors)
            return
        raise Conflict(
            "the merchant's members kept changing during the import: rows from line "
            f"{first_line} on were not imported; import them again"
        )

    async def _attempt(
        self, candidates: list[Candidate], *, last: bool
    ) -> tuple[list[Candidate], list[RowError]]:
        async with self.db.write_session() as session:
            taken = await _taken(session, self.merchant_id, candidates) if self.check_first else {}
            fresh = [c for c in candidates if c.line not in taken]
            await _insert(session, self.merchant_id, fresh)
            errors = [RowError(line, reason) for line, reason in taken.items()]
            if last:
                self._audit(session, imported=len(fresh), failed=len(errors))
            await session.commit()
        return fresh, errors

    async def record_interruption(self) -> None:
        """The chunks already written stay: the audit trail says how far the import went."""
        # Best effort: the error that interrupted the import is the one to report.
        with contextlib.suppress(Exception):
            async with self.db.write_session() as session:
                self._audit(session, interrupted=True)
                await session.commit()

    def _audit(
        self, session: WriteSession, *, imported: int = 0, failed: int = 0, **extra: object
    ) -> None:
        audit.record(
            session,
            actor=self.actor,
            action="members.imported",
            target_type="merchant",
            target_id=self.merchant_id,
            changes={
                "rows": self.report.rows,
                "imported": self.report.imported + imported,
                "failed": self.report.failed + failed,
                **extra,
            },
        )


def _any_of(column: ColumnElement[str], values: Iterable[str]) -> ColumnElement[bool]:
    # Values inline, not as thousands of bound parameters: a fresh statement is planned with
    # its values (PostgreSQL's generic plan for a reused one scans the table) and costs less
    # to build.
    return column.in_(bindparam("values", list(values), expanding=True, literal_execute=True))


async def _taken(
    session: AsyncSession, merchant_id: str, candidates: list[Candidate]
) -> dict[int, str]:
    """Lines whose identifiers already belong to a member, and why."""
    taken: dict[int, str] = {}
    if not candidates:
        return taken

    def mark(value_of: Callable[[Candidate], str | None], existing: set[str], reason: str) -> None:
        for c in candidates:
            if value_of(c) in existing:
                taken.setdefault(c.line, reason)

    m = members_table.c
    for name in IDENTIFIERS:
        wanted = {value for c in candidates if (value := getattr(c, name))}
        if wanted:
            stmt = select(m[name]).where(m.merchant_id == merchant_id, _any_of(m[name], wanted))
            existing = set(await session.scalars(stmt))
            mark(attrgetter(name), existing, f"a member of this merchant already has this {name}")
    accounts = {c.account_id for c in candidates if c.account_id_given}
    if accounts:
        existing = set(
            await session.scalars(select(m.account_id).where(_any_of(m.account_id, accounts)))
        )
        mark(attrgetter("account_id"), existing, "account_id already belongs to a member")
    x = external_ids_table.c
    for namespace in sorted({ns for c in candidates for ns, _ in c.external_ids}):
        wanted = {v for c in candidates for ns, v in c.external_ids if ns == namespace}
        stmt = select(x.value).where(
            x.merchant_id == merchant_id, x.namespace == namespace, _any_of(x.value, wanted)
        )
        existing = set(await session.scalars(stmt))
        mark(
            _external_id(namespace),
            existing,
            f"a member of this merchant already has this {EXTERNAL_PREFIX}{namespace}",
        )
    return taken


def _external_id(namespace: str) -> Callable[[Candidate], str | None]:
    return lambda c: dict(c.external_ids).get(namespace)


async def _insert(session: WriteSession, merchant_id: str, candidates: list[Candidate]) -> None:
    if not candidates:
        return
    members = [
        {
            "id": c.id,
            "merchant_id": merchant_id,
            "account_id": c.account_id,
            "email": c.email,
            "phone": c.phone,
            "loyalty_id": c.loyalty_id,
            "first_name": c.first_name,
            "last_name": c.last_name,
            "status": c.status,
        }
        for c in candidates
    ]
    # The database's clock stamps the rows: a bound timestamp costs a conversion per row.
    now = func.current_timestamp()
    await session.execute(insert(members_table).values(created_at=now, updated_at=now), members)
    external_ids = [
        {"member_id": c.id, "merchant_id": merchant_id, "namespace": ns, "value": value}
        for c in candidates
        for ns, value in c.external_ids
    ]
    if external_ids:
        await session.execute(insert(external_ids_table), external_ids)
