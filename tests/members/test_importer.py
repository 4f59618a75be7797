"""Bulk member import: validation, duplicates in the file and in the database, header errors."""

from __future__ import annotations

import io
import uuid

import pytest
from sqlalchemy import func, select

from bestow.deps import Runtime
from bestow.kit.actor import Actor
from bestow.kit.errors import Invalid, NotFound
from bestow.members import importer
from bestow.members import service as members
from bestow.merchants import service as merchants
from bestow.models import AuditEntry, Member, MemberExternalId
from tests.conftest import unique
from tests.members.csvdata import members_csv

pytestmark = pytest.mark.asyncio

ACTOR = Actor("test:importer")


async def new_merchant(runtime: Runtime) -> str:
    async with runtime.db.write_session() as session:
        merchant = await merchants.create_merchant(
            session, name="Import", handle=unique("imp"), time_zone="UTC", actor=ACTOR
        )
        await session.commit()
    return merchant.id


async def run_import(
    runtime: Runtime, merchant_id: str, text: str, **options: object
) -> importer.ImportReport:
    return await importer.import_members(
        runtime.db,
        merchant_id=merchant_id,
        source=io.StringIO(text, newline=""),
        actor=ACTOR,
        **options,  # type: ignore[arg-type]
    )


async def stored(runtime: Runtime, merchant_id: str) -> list[Member]:
    async with runtime.db.session() as session:
        rows = await session.scalars(
            select(Member)
            .where(Member.merchant_id == merchant_id)
            .order_by(Member.email, Member.loyalty_id)
        )
        return list(rows)


def reasons(report: importer.ImportReport) -> dict[int, str]:
    return {error.line: error.reason for error in report.errors}


async def test_good_rows_are_imported_and_bad_rows_reported_by_line(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    text = (
        "email,phone,loyalty_id,first_name,status\n"
        "Ann@Example.COM,+1 415 555 0100,L1,Ann,\n"
        "not-an-email,+14155550101,L2,Bob,active\n"
        "carl@example.com,4155550102,L3,Carl,active\n"
        "dora@example.com,+14155550103,,Dora,asleep\n"
        ",,,Eve,active\n"
        "fay@example.com,,,Fay,INACTIVE\n"
    )
    report = await run_import(runtime, merchant_id, text)

    assert (report.rows, report.imported, report.failed) == (6, 2, 4)
    assert reasons(report) == {
        3: "invalid email",
        4: "phone must be in E.164 format, e.g. +14155551234",
        5: "status must be active or inactive",
        6: "a member needs an email, a phone or a loyalty_id",
    }
    ann, fay = await stored(runtime, merchant_id)
    assert (ann.email, ann.phone, ann.loyalty_id, ann.first_name, ann.status) == (
        "ann@example.com",
        "+14155550100",
        "L1",
        "Ann",
        "active",
    )
    assert (fay.email, fay.phone, fay.status) == ("fay@example.com", None, "inactive")
    assert str(uuid.UUID(ann.account_id)) == ann.account_id


async def test_every_problem_of_a_row_is_reported_together(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    text = "email,phone,account_id\nnope,+1415,not-a-guid\n"

    report = await run_import(runtime, merchant_id, text)

    assert reasons(report) == {
        2: "invalid email; phone is not a valid number; account_id must be a GUID"
    }


async def test_reasons_never_quote_the_email_or_phone(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    text = "email,phone\nsecret.person@@example.com,+99912345\nok@example.com,+14155550100\n"
    text += "ok@example.com,+14155550100\n"

    report = await run_import(runtime, merchant_id, text)

    assert report.failed == 2
    for error in report.errors:
        assert "secret.person" not in error.reason
        assert "ok@example.com" not in error.reason
        assert "99912345" not in error.reason
        assert "4155550100" not in error.reason


async def test_duplicates_within_the_file_name_the_first_line(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    account = str(uuid.uuid4())
    text = (
        "email,phone,loyalty_id,account_id,external:pos\n"
        f"a@example.com,+14155550100,L1,{account},p1\n"
        "A@EXAMPLE.com,,,,\n"
        "b@example.com,+1 (415) 555-0100,,,\n"
        "c@example.com,,L1,,\n"
        f"d@example.com,,,{account.upper()},\n"
        "e@example.com,,,,p1\n"
        "f@example.com,+14155550101,L6,,p6\n"
    )
    report = await run_import(runtime, merchant_id, text)

    assert reasons(report) == {
        3: "email repeats line 2",
        4: "phone repeats line 2",
        5: "loyalty_id repeats line 2",
        6: "account_id repeats line 2",
        7: "external:pos repeats line 2",
    }
    assert [m.email for m in await stored(runtime, merchant_id)] == [
        "a@example.com",
        "f@example.com",
    ]


async def test_a_refused_row_does_not_reserve_its_identifiers(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    text = (
        "email,phone\n"
        "a@example.com,+14155550100\n"
        "a@example.com,+14155550101\n"
        "b@example.com,+14155550101\n"
    )

    report = await run_import(runtime, merchant_id, text)

    assert reasons(report) == {3: "email repeats line 2"}
    assert report.imported == 2


async def test_rows_matching_existing_members_are_reported_not_dropped(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    other_merchant_id = await new_merchant(runtime)
    async with runtime.db.write_session() as session:
        await members.create_member(
            session,
            merchant_id=merchant_id,
            actor=ACTOR,
            email="a@example.com",
            phone="+14155550100",
            loyalty_id="L1",
            external_ids={"pos": "p1"},
        )
        elsewhere = await members.create_member(
            session, merchant_id=other_merchant_id, actor=ACTOR, email="z@example.com"
        )
        await session.commit()
    text = (
        "email,phone,loyalty_id,account_id,external:pos\n"
        "A@example.com,,,,\n"
        "b@example.com,+14155550100,,,\n"
        "c@example.com,,L1,,\n"
        "d@example.com,,,,p1\n"
        f"e@example.com,,,{elsewhere.account_id},\n"
        "z@example.com,+14155550199,L9,,p9\n"
    )
    report = await run_import(runtime, merchant_id, text)

    assert reasons(report) == {
        2: "a member of this merchant already has this email",
        3: "a member of this merchant already has this phone",
        4: "a member of this merchant already has this loyalty_id",
        5: "a member of this merchant already has this external:pos",
        6: "account_id already belongs to a member",
    }
    assert report.imported == 1
    assert len(await stored(runtime, merchant_id)) == 2


async def test_reimporting_a_file_refuses_every_row_and_adds_nothing(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    text = members_csv(30)
    first = await run_import(runtime, merchant_id, text, chunk_size=10)

    again = await run_import(runtime, merchant_id, text, chunk_size=10)

    assert (first.imported, first.failed) == (30, 0)
    assert (again.imported, again.failed) == (0, 30)
    assert {e.reason for e in again.errors} == {"a member of this merchant already has this email"}
    assert [e.line for e in again.errors] == list(range(2, 32))
    assert len(await stored(runtime, merchant_id)) == 30


async def test_a_conflict_in_one_chunk_keeps_the_good_rows_of_that_chunk(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    await run_import(runtime, merchant_id, "email\nm5@example.com\n")
    text = "email\n" + "".join(f"m{i}@example.com\n" for i in range(10))

    report = await run_import(runtime, merchant_id, text, chunk_size=4)

    assert reasons(report) == {7: "a member of this merchant already has this email"}
    assert report.imported == 9
    assert len(await stored(runtime, merchant_id)) == 10


async def test_external_id_columns_become_external_ids(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    text = "loyalty_id,external:pos,External:crm\nL1,p1,c1\nL2,,c2\n"

    report = await run_import(runtime, merchant_id, text)

    assert report.imported == 2
    async with runtime.db.session() as session:
        rows = await session.execute(
            select(Member.loyalty_id, MemberExternalId.namespace, MemberExternalId.value)
            .join(MemberExternalId, MemberExternalId.member_id == Member.id)
            .where(Member.merchant_id == merchant_id)
            .order_by(Member.loyalty_id, MemberExternalId.namespace)
        )
        assert [tuple(r) for r in rows] == [
            ("L1", "crm", "c1"),
            ("L1", "pos", "p1"),
            ("L2", "crm", "c2"),
        ]


async def test_blank_lines_are_not_rows(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    text = "\ufeffemail,first_name\r\na@example.com,A\r\n\r\n , \r\nb@example.com,B\r\n"

    report = await run_import(runtime, merchant_id, text)

    assert (report.rows, report.imported, report.failed) == (2, 2, 0)


async def test_a_row_with_the_wrong_number_of_fields_is_reported(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    text = 'email,first_name\na@example.com\nb@example.com,Bee,extra\n"c@example.com","C, Jr."\n'

    report = await run_import(runtime, merchant_id, text)

    assert reasons(report) == {2: "expected 2 fields, found 1", 3: "expected 2 fields, found 3"}
    assert [m.first_name for m in await stored(runtime, merchant_id)] == ["C, Jr."]


async def test_lines_are_counted_across_quoted_line_breaks(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    text = 'email,first_name\na@example.com,"two\nlines"\nbad,x\n'

    report = await run_import(runtime, merchant_id, text)

    assert reasons(report) == {4: "invalid email"}


async def test_a_malformed_csv_record_is_reported_and_the_rest_imported(
    runtime: Runtime,
) -> None:
    merchant_id = await new_merchant(runtime)
    text = "email\na@example.com\n" + "x" * 200_000 + "\nc@example.com\n"

    report = await run_import(runtime, merchant_id, text)

    assert (report.rows, report.imported) == (3, 2)
    assert reasons(report) == {3: "malformed CSV: field larger than field limit (131072)"}


async def test_an_interrupted_import_keeps_its_chunks_and_says_so_in_the_audit_trail(
    runtime: Runtime,
) -> None:
    merchant_id = await new_merchant(runtime)

    def stop(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await run_import(runtime, merchant_id, members_csv(25), chunk_size=10, on_progress=stop)

    assert len(await stored(runtime, merchant_id)) == 10
    async with runtime.db.session() as session:
        changes = list(
            await session.scalars(
                select(AuditEntry.changes).where(
                    AuditEntry.target_id == merchant_id, AuditEntry.action == "members.imported"
                )
            )
        )
    assert changes == [{"rows": 25, "imported": 10, "failed": 0, "interrupted": True}]


async def test_overlong_values_are_reported(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    text = f"loyalty_id,first_name,external:pos\n{'x' * 65},{'y' * 101},{'z' * 201}\n"

    report = await run_import(runtime, merchant_id, text)

    assert reasons(report) == {
        2: "loyalty_id is longer than 64 characters; first_name is longer than 100 characters; "
        "external:pos is longer than 200 characters"
    }


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("email,phone,emial\n", "unknown columns: emial"),
        ("email,email\n", "column email appears twice"),
        ("first_name,last_name\n", "at least one of the email, phone and loyalty_id"),
        ("email,external:\n", "external:<namespace>"),
        ("\n", "needs a header row"),
    ],
)
async def test_a_bad_header_refuses_the_whole_file(
    runtime: Runtime, header: str, message: str
) -> None:
    merchant_id = await new_merchant(runtime)

    with pytest.raises(Invalid) as refused:
        await run_import(runtime, merchant_id, header + "a@example.com,+14155550100,x\n")

    assert message in refused.value.message
    assert await stored(runtime, merchant_id) == []
    async with runtime.db.session() as session:
        entries = await session.scalar(
            select(func.count()).where(
                AuditEntry.target_id == merchant_id, AuditEntry.action == "members.imported"
            )
        )
    assert entries == 0


async def test_an_empty_file_is_refused(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)

    with pytest.raises(Invalid, match="needs a header row"):
        await run_import(runtime, merchant_id, "")


async def test_a_missing_header_does_not_echo_the_first_row(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)

    with pytest.raises(Invalid) as refused:
        await run_import(runtime, merchant_id, "ann@example.com,+14155550100\n")

    assert "ann@example.com" not in refused.value.message
    assert "+1415" not in refused.value.message
    assert "column 1, column 2" in refused.value.message


async def test_an_unknown_merchant_is_not_found(runtime: Runtime) -> None:
    with pytest.raises(NotFound):
        await run_import(runtime, "mer_unknown", "email\na@example.com\n")


async def test_non_utf8_bytes_are_refused() -> None:
    with pytest.raises(Invalid, match="UTF-8"):
        importer.decode_csv("email\nzoë@example.com\n".encode("latin-1"))
    assert importer.decode_csv(b"\xef\xbb\xbfemail\n") == "email\n"


async def test_an_import_records_one_audit_entry_with_counts_only(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    text = "email,phone\na@example.com,+14155550100\nbad,+14155550101\nc@example.com,\n"

    await run_import(runtime, merchant_id, text, chunk_size=1)

    async with runtime.db.session() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.target_id == merchant_id, AuditEntry.action == "members.imported"
                )
            )
        )
    assert len(entries) == 1
    assert entries[0].actor == "test:importer"
    assert entries[0].target_type == "merchant"
    assert entries[0].changes == {"rows": 3, "imported": 2, "failed": 1}


async def test_an_empty_file_with_a_header_is_audited_as_nothing_imported(
    runtime: Runtime,
) -> None:
    merchant_id = await new_merchant(runtime)

    report = await run_import(runtime, merchant_id, "email,phone\n")

    assert (report.rows, report.imported, report.failed) == (0, 0, 0)
    async with runtime.db.session() as session:
        changes = await session.scalar(
            select(AuditEntry.changes).where(
                AuditEntry.target_id == merchant_id, AuditEntry.action == "members.imported"
            )
        )
    assert changes == {"rows": 0, "imported": 0, "failed": 0}


async def test_ten_thousand_rows_are_imported_in_chunks(runtime: Runtime) -> None:
    merchant_id = await new_merchant(runtime)
    progress: list[int] = []

    report = await run_import(
        runtime, merchant_id, members_csv(10_000), chunk_size=3_000, on_progress=progress.append
    )

    assert (report.rows, report.imported, report.failed) == (10_000, 10_000, 0)
    assert progress == [3_000, 6_000, 9_000, 10_000]
    imported = await stored(runtime, merchant_id)
    assert len(imported) == 10_000
    by_email = {m.email: m for m in imported}
    member = by_email["member4321@example.com"]
    assert (member.phone, member.loyalty_id, member.first_name, member.status) == (
        "+14155554321",
        "L00004321",
        "First4321",
        "active",
    )
    assert by_email["member9990@example.com"].status == "inactive"
    assert len({m.account_id for m in imported}) == 10_000
    assert {m.phone for m in imported} >= {"+14155550000", "+14155559999"}
    async with runtime.db.session() as session:
        external = await session.scalar(
            select(func.count()).where(MemberExternalId.merchant_id == merchant_id)
        )
    assert external == 10_000
