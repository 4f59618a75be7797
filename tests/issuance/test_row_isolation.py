"""A row-level error fails its identifier alone (issue 16): the rest of the chunk is rewarded in
the chunk's one transaction, for every kind (discount, voucher, points, free bets).

Two real poisons: a member whose points balance would pass the 64-bit maximum (refused by the
ledger with a reason), and a row the database itself refuses, made by a trigger the test installs
on the real table (a constraint violation on PostgreSQL, ``RAISE(ABORT)`` on SQLite) and drops
afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import func, insert, select, text

from bestow.config import Settings
from bestow.deps import Runtime
from bestow.kit.db import INT64_MAX, dialect_of, utcnow
from bestow.loyalty import ledger
from bestow.models import IssuedReward, OperatorEnrollment, PointsBalance, PointsTransaction
from tests.campaigns import failures, issue_campaign
from tests.conftest import unique
from tests.loyalty.helpers import points_template
from tests.operator.helpers import bulk_reward, make_operator, post_bulk, wait_bulk
from tests.surfaces.partner.helpers import (
    email,
    make_members,
    make_template,
    new_partner,
    worker_client,
)
from tests.vouchers.helpers import make_product, voucher_template

pytestmark = pytest.mark.asyncio

REFUSED = "Could not be processed: the database refused it (IntegrityError)"


async def set_balance(runtime: Runtime, member_id: str, balance: int) -> None:
    """Give the member a balance row as it would be after a long life of awards."""
    async with runtime.db.write_session() as session:
        await session.execute(
            insert(PointsBalance).values(member_id=member_id, balance=balance, updated_at=utcnow())
        )
        await session.commit()


async def balance(runtime: Runtime, member_id: str) -> int:
    async with runtime.db.session() as session:
        return await ledger.balance_of(session, member_id)


@asynccontextmanager
async def refusing(runtime: Runtime, table: str, column: str, value: str) -> AsyncIterator[None]:
    """While open, the database refuses to insert into ``table`` a row whose ``column`` is
    ``value`` (a trigger on the real table)."""
    name = unique("poison").replace("-", "_").lower()
    async with runtime.db.write_session() as session:
        if dialect_of(session) == "postgresql":
            statements = [
                f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.{column} = '{value}' THEN RAISE EXCEPTION 'poison' "
                "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$ "
                "LANGUAGE plpgsql",
                f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW "
                f"EXECUTE FUNCTION {name}()",
            ]
            dropping = [f"DROP TRIGGER {name} ON {table}", f"DROP FUNCTION {name}()"]
        else:
            statements = [
                f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
                f"WHEN NEW.{column} = '{value}' BEGIN SELECT RAISE(ABORT, 'poison'); END"
            ]
            dropping = [f"DROP TRIGGER {name}"]
        for statement in statements:
            await session.execute(text(statement))
        await session.commit()
    try:
        yield
    finally:
        async with runtime.db.write_session() as session:
            for statement in dropping:
                await session.execute(text(statement))
            await session.commit()


async def test_a_poison_member_fails_alone_in_a_chunk_of_2000(
    settings: Settings, runtime: Runtime
) -> None:
    """One member whose balance cannot take the award: 1,999 members are credited, one fails
    with the reason, the job completes. A member past 32 bits is no poison at all."""
    partner = await new_partner(runtime)
    addresses = [email("p") for _ in range(2000)]
    members = await make_members(runtime, partner.merchant_id, emails=addresses)
    poison, big = members[700], members[1500]
    await set_balance(runtime, poison, INT64_MAX - 50)
    await set_balance(runtime, big, 2_147_483_600)
    template = await points_template(runtime, partner.merchant_id, {"points": 100})

    async with worker_client(settings) as client:
        _, job = await issue_campaign(client, partner, template.id, addresses)

    assert job["state"] == "completed", job
    assert job["success_count"] == 1999
    assert failures(job) == [(700, ledger.BALANCE_TOO_LARGE)]
    assert await balance(runtime, poison) == INT64_MAX - 50
    assert await balance(runtime, big) == 2_147_483_700
    async with runtime.db.session() as session:
        credited = await session.scalar(
            select(func.count()).where(PointsTransaction.job_id == job["id"])
        )
        rewarded = await session.scalar(
            select(func.count()).where(IssuedReward.job_id == job["id"])
        )
    assert (credited, rewarded) == (1999, 1999)


async def test_an_ad_hoc_award_past_the_maximum_is_refused(runtime: Runtime) -> None:
    partner = await new_partner(runtime)
    [member] = await make_members(runtime, partner.merchant_id, emails=[email("a")])
    await set_balance(runtime, member, INT64_MAX - 5)
    async with runtime.db.write_session() as session:
        with pytest.raises(ledger.BalanceTooLarge):
            await ledger.move(
                session,
                member_id=member,
                merchant_id=partner.merchant_id,
                amount=6,
                reward_id="R",
                issuer_id="I",
                client_id=partner.client_id,
            )
        moved = await ledger.move(
            session,
            member_id=member,
            merchant_id=partner.merchant_id,
            amount=5,
            reward_id="R",
            issuer_id="I",
            client_id=partner.client_id,
        )
        await session.commit()
    assert moved.transaction.balance_after == INT64_MAX
    assert await balance(runtime, member) == INT64_MAX


async def _kind_template(runtime: Runtime, merchant_id: str, kind: str) -> str:
    if kind == "discount":
        return (await make_template(runtime, merchant_id)).id
    if kind == "voucher":
        product = await make_product(runtime)
        return (await voucher_template(runtime, merchant_id, {"product_code": product.code})).id
    return (await points_template(runtime, merchant_id, {"points": 10})).id


@pytest.mark.parametrize("kind", ["discount", "voucher", "points"])
async def test_a_row_the_database_refuses_fails_alone(
    settings: Settings, runtime: Runtime, kind: str
) -> None:
    partner = await new_partner(runtime)
    addresses = [email(kind) for _ in range(40)]
    members = await make_members(runtime, partner.merchant_id, emails=addresses)
    template_id = await _kind_template(runtime, partner.merchant_id, kind)

    async with (
        refusing(runtime, "issued_rewards", "member_id", members[13]),
        worker_client(settings) as client,
    ):
        _, job = await issue_campaign(client, partner, template_id, addresses)

    assert job["state"] == "completed", job
    assert job["success_count"] == 39
    assert failures(job) == [(13, REFUSED)]
    async with runtime.db.session() as session:
        rewarded = set(
            await session.scalars(
                select(IssuedReward.member_id).where(IssuedReward.job_id == job["id"])
            )
        )
    assert rewarded == set(members) - {members[13]}


async def test_bulk_enrollment_isolates_a_refused_player(
    settings: Settings, runtime: Runtime
) -> None:
    operator = await make_operator(runtime)
    players = [f"iso-{n}" for n in range(30)]
    async with worker_client(settings) as http:
        found = await bulk_reward(http, operator)
        async with refusing(runtime, "operator_enrollments", "operator_player_id", players[7]):
            response = await post_bulk(http, operator, found["id"], {"operatorPlayerIds": players})
            assert response.status_code == 202, response.text
            done = await wait_bulk(http, operator, found["id"], response.json()["data"]["id"])

    assert done["status"] == "Completed", done
    assert (done["enrolledCount"], done["failedCount"]) == (29, 1)
    assert done["error"] == f"operatorPlayerIds[7]: {REFUSED}"
    async with runtime.db.session() as session:
        enrolled = set(
            await session.scalars(
                select(OperatorEnrollment.operator_player_id).where(
                    OperatorEnrollment.reward_id == found["id"]
                )
            )
        )
    assert enrolled == set(players) - {players[7]}
