"""Member CSV files for tests and measurements: unique, valid identifiers on every row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import phonenumbers

# Fictional exchange 555 in real area codes: numbers phonenumbers accepts as valid.
AREA_CODES = ("415", "212", "201", "310", "312", "617", "202", "305", "206", "512", "646", "718")
PER_AREA_CODE = 10_000
HEADER = ("email", "phone", "loyalty_id", "first_name", "last_name", "status", "external:pos")


def phone(index: int) -> str:
    area_code = AREA_CODES[index // PER_AREA_CODE]
    return f"+1{area_code}555{index % PER_AREA_CODE:04d}"


def check_phones(rows: int) -> None:
    """The numbering plan decides validity by area code and exchange: the first and last number
    of each area code in use stand for the rest."""
    if rows > len(AREA_CODES) * PER_AREA_CODE:
        raise ValueError(f"at most {len(AREA_CODES) * PER_AREA_CODE} unique phones")
    used = range((rows - 1) // PER_AREA_CODE + 1)
    for block in used:
        for index in (block * PER_AREA_CODE, (block + 1) * PER_AREA_CODE - 1):
            assert phonenumbers.is_valid_number(phonenumbers.parse(phone(index), None))


def member_rows(rows: int, *, start: int = 0) -> Iterator[tuple[str, ...]]:
    for i in range(start, start + rows):
        yield (
            f"member{i}@example.com",
            phone(i),
            f"L{i:08d}",
            f"First{i}",
            f"Last{i}",
            "inactive" if i % 10 == 0 else "active",
            f"pos-{i}",
        )


def members_csv(rows: int, *, start: int = 0) -> str:
    check_phones(start + rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(member_rows(rows, start=start))
    return out.getvalue()


def write_members_csv(path: Path, rows: int, *, start: int = 0) -> Path:
    path.write_text(members_csv(rows, start=start), encoding="utf-8")
    return path
