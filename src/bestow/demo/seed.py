"""The demo data set: enough to try every success and every documented error by hand.

One partner organisation (``ORGANIZATION``) holds the demo clients of every surface and, beside
them, a UAT client of every surface with its own data (``environments.uat``): its own merchant,
templates and members, loyalty programme and operator campaign, and a dedicated voucher catalogue
(a subset of the products, ``lab.catalogue``). A deployment pinned to another environment than
UAT gets no UAT clients (``environments`` is empty there).

Seeded once per database. Its credentials are kept sealed (encrypted under the deployment's secret
key) so that ``bestow demo --json`` can print them again; every other secret is shown once only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import insert, select

from bestow.admins import tokens as admin_tokens
from bestow.clients import service as clients
from bestow.config import Environment
from bestow.deps import Runtime
from bestow.freebets import campaigns as operator_campaigns
from bestow.freebets import rewards as operator_rewards
from bestow.kit.actor import Actor
from bestow.kit.db import WriteSession, utcnow
from bestow.kit.ids import new_guid, new_id
from bestow.lab import catalogue
from bestow.loyalty import rewards
from bestow.merchants import service as merchants
from bestow.models import BusinessUnit, Client, LoyaltyReward, Member, SystemValue
from bestow.rewards import templates
from bestow.vouchers import products

DEMO_KEY = "demo"
ACTOR = Actor("system:demo")
MEMBERS_PER_MERCHANT = 500
ORGANIZATION = "Demo Partner Inc."
"""The partner organisation of the demo clients of every surface and of their UAT clients."""
UAT_MERCHANT = {
    "name": "Pizza Company (UAT)",
    "handle": "pizzacompany-uat",
    "time_zone": "America/Los_Angeles",
}
UAT_MEMBERS = 50
UAT_AREA_CODE = "628"
UAT_PRODUCTS = ("DEMO-SGD10", "DEMO-OPEN", "DEMO-5CUPS")
"""The UAT voucher client's dedicated catalogue: a subset of the demo's products."""
OPERATOR_PRODUCTS = ("demo-slots", "demo-roulette")

MERCHANTS: list[dict[str, str]] = [
    {"name": "Pizza Company", "handle": "pizzacompany", "time_zone": "America/Los_Angeles"},
    {"name": "Harbour Coffee", "handle": "harbourcoffee", "time_zone": "America/New_York"},
]
LOCATIONS = [
    [
        {
            "name": "Pizza Company Mission",
            "street": "2101 Mission St",
            "city": "San Francisco",
            "state": "CA",
            "zip": "94110",
            "phone": "+14155550100",
        },
        {
            "name": "Pizza Company Oakland",
            "street": "410 Broadway",
            "city": "Oakland",
            "state": "CA",
            "zip": "94607",
            "phone": "+15105550100",
        },
    ],
    [
        {
            "name": "Harbour Coffee Pier 17",
            "street": "89 South St",
            "city": "New York",
            "state": "NY",
            "zip": "10038",
            "phone": "+12125550100",
        },
    ],
]
BUSINESS_UNITS = [["PIZZA_US"], ["HARBOUR_NY", "HARBOUR_NJ"]]
AREA_CODES = ["415", "212"]
TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "Free Slice",
        "subtype": "free_item",
        "discount": {"type": "free_item", "value": None},
        "description": "One free slice of any pizza",
    },
    {
        "name": "$5 Off",
        "subtype": "amount",
        "discount": {"type": "amount", "value": 500},
        "description": "$5 off an order of $20 or more",
    },
    {
        "name": "10% Off",
        "subtype": "percent",
        "discount": {"type": "percent", "value": 10},
        "description": "10% off the whole order",
    },
]


PRODUCTS: list[dict[str, Any]] = [
    {
        "code": "DEMO-SGD10",
        "name": "$10 Harbour Coffee Voucher",
        "description": "A $10 voucher for any drink or pastry",
        "is_value_based": True,
        "is_open_value": False,
        "is_status_available": True,
        "is_multiple_use": False,
        "currency": "SGD",
        "face_value": 1000,
        "validity_days": 365,
    },
    {
        "code": "DEMO-OPEN",
        "name": "${FV} Harbour Coffee Voucher",
        "description": "Any amount from $1 to $1,000, chosen at issuance",
        "is_value_based": True,
        "is_open_value": True,
        "is_status_available": True,
        "is_multiple_use": False,
        "currency": "SGD",
        "validity_days": 180,
    },
    {
        "code": "DEMO-5CUPS",
        "name": "5 Cups of Coffee",
        "description": "Five cups of filter coffee, one or more at a time",
        "is_value_based": False,
        "is_open_value": False,
        "is_status_available": True,
        "is_multiple_use": True,
        "item_quantity": 5,
        "validity_days": 90,
    },
    {
        "code": "DEMO-GIFT50",
        "name": "$50 Harbour Coffee eGift Card",
        "description": "A gift card (super voucher) spent over several visits",
        "is_value_based": True,
        "is_open_value": False,
        "is_status_available": True,
        "is_multiple_use": True,
        "currency": "SGD",
        "face_value": 5000,
        "validity_days": 730,
    },
    {
        "code": "DEMO-PARTNER20",
        "name": "$20 Partner Store Voucher",
        "description": "Redeemed at a partner whose system reports no status",
        "is_value_based": True,
        "is_open_value": False,
        "is_status_available": False,
        "is_multiple_use": False,
        "currency": "SGD",
        "face_value": 2000,
        "validity_days": 365,
    },
]
LOYALTY_BUSINESS_UNITS = ["Pizza Company Downtown", "Pizza Company Airport"]
LOYALTY_REWARDS: list[dict[str, Any]] = [
    {"reward_id": "BONUS-100", "name": "Bonus points", "max_per_transaction": 1000},
    {"reward_id": "GOODWILL", "name": "Goodwill gesture", "max_per_transaction": 500},
    {
        "reward_id": "RETIRED-PROMO",
        "name": "Retired promotion (disabled)",
        "max_per_transaction": 100,
        "enabled": False,
    },
]
LATER_PARTS = (
    "vouchers",
    "vouchers.merchant",
    "loyalty",
    "loyalty.feature_disabled_client",
    "operator",
    "operator.primary_shared_key",
    "environments",
)
"""Parts of the demo added after its first version (dotted paths into the demo's data): seeded
into older demo databases too."""


async def _offers(session: WriteSession, merchant_id: str, fine_print: str) -> list[str]:
    """The demo's published discount templates at a merchant: their ids, in ``TEMPLATES``
    order."""
    ids = []
    for offer in TEMPLATES:
        template = await templates.create_template(
            session,
            merchant_id=merchant_id,
            kind="discount",
            actor=ACTOR,
            publish=True,
            fine_print=fine_print,
            name=offer["name"],
            subtype=offer["subtype"],
            discount=offer["discount"],
            description=offer["description"],
        )
        ids.append(template.id)
    return ids


async def load(runtime: Runtime) -> dict[str, Any] | None:
    async with runtime.db.session() as session:
        stored = await session.get(SystemValue, DEMO_KEY)
    return orjson.loads(runtime.sealer.unseal(stored.value)) if stored else None


async def ensure(runtime: Runtime) -> tuple[dict[str, Any], bool]:
    """The demo credentials and ids; seeds them first if the database has none. Returns
    ``(demo, created)``."""
    existing = await load(runtime)
    if existing is not None and all(_has(existing, part) for part in LATER_PARTS):
        return existing, False
    async with runtime.db.write_session() as session:
        # Re-check under the write lock: two processes may race to seed.
        stored = await session.get(SystemValue, DEMO_KEY)
        created = stored is None
        if stored is None:
            demo = await _seed(session, runtime)
            stored = SystemValue(key=DEMO_KEY, value="")
            session.add(stored)
        else:
            demo = orjson.loads(runtime.sealer.unseal(stored.value))
        # A database seeded by an earlier version gets the parts added since.
        if not _has(demo, "vouchers"):
            demo["vouchers"] = await _seed_vouchers(session, runtime)
        if not _has(demo, "vouchers.merchant"):
            demo["vouchers"]["merchant"] = await _seed_voucher_merchant(session, runtime)
        if not _has(demo, "loyalty"):
            demo["loyalty"] = await _seed_loyalty(session, runtime, demo["merchants"][0]["id"])
        if not _has(demo, "loyalty.feature_disabled_client"):
            demo["loyalty"] |= await _loyalty_contract(session, runtime, demo["loyalty"])
        if not _has(demo, "operator"):
            demo["operator"] = await _seed_operator(session, runtime)
        if not _has(demo, "operator.primary_shared_key"):
            # Seeded before the keys took the names of the documented contract.
            for slot in ("primary", "secondary"):
                demo["operator"][f"{slot}_shared_key"] = demo["operator"].pop(f"{slot}_key")
        if not _has(demo, "environments"):
            demo["environments"] = await _seed_environments(session, runtime, demo)
        stored.value = runtime.sealer.seal(orjson.dumps(demo).decode())
        await session.commit()
    return demo, created


def _has(demo: dict[str, Any], part: str) -> bool:
    node: Any = demo
    for key in part.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


async def _seed(session: Any, runtime: Runtime) -> dict[str, Any]:
    admin_token = runtime.settings.admin_token
    if not admin_token:
        _, admin_token = await admin_tokens.store_token(session, name="demo")

    merchant_rows = []
    for spec, locations, units in zip(MERCHANTS, LOCATIONS, BUSINESS_UNITS, strict=True):
        merchant = await merchants.create_merchant(
            session,
            name=spec["name"],
            handle=spec["handle"],
            time_zone=spec["time_zone"],
            actor=ACTOR,
        )
        merchant_rows.append(merchant)
        for location in locations:
            await merchants.create_location(
                session, merchant_id=merchant.id, actor=ACTOR, **location
            )
        for unit in units:
            await merchants.create_business_unit(
                session, merchant_id=merchant.id, name=unit, actor=ACTOR
            )

    template_ids: list[list[str]] = []
    for merchant in merchant_rows:
        ids = await _offers(session, merchant.id, "One per member. Not valid with other offers.")
        draft = await templates.create_template(
            session,
            merchant_id=merchant.id,
            kind="discount",
            name="Draft (unpublished) offer",
            discount={"type": "amount", "value": 100},
            actor=ACTOR,
        )
        template_ids.append([*ids, draft.id])

    demo_members: list[dict[str, str]] = []
    for index, merchant in enumerate(merchant_rows):
        rows = _members(merchant.id, MERCHANTS[index]["handle"], AREA_CODES[index], index + 1)
        await session.execute(insert(Member), rows)
        if index == 0:
            demo_members = [{"email": r["email"], "phone": r["phone"]} for r in rows[:10]]

    partner, [token] = await _client(
        session,
        runtime,
        name="Demo Partner",
        scopes=["rewards.issue"],
        kind=clients.PARTNER_TOKEN,
        merchant_id=merchant_rows[0].id,
    )
    other, [other_token] = await _client(
        session,
        runtime,
        name="Other Partner",
        scopes=["rewards.issue"],
        kind=clients.PARTNER_TOKEN,
        merchant_id=merchant_rows[1].id,
    )
    return {
        "admin": {"token": admin_token},
        "partner": {
            "client_id": partner.id,
            "access_token": token,
            "merchant_id": merchant_rows[0].id,
            "template_id": template_ids[0][0],
            "template_ids": template_ids[0][:-1],
            "draft_template_id": template_ids[0][-1],
            "members": demo_members,
            "other_client": {
                "client_id": other.id,
                "access_token": other_token,
                "merchant_id": merchant_rows[1].id,
            },
        },
        "merchants": [{"id": m.id, "name": m.name, "handle": m.handle} for m in merchant_rows],
    }


async def _seed_environments(
    session: Any, runtime: Runtime, demo: dict[str, Any]
) -> dict[str, Any]:
    """The demo clients of every surface join ``ORGANIZATION``, beside a UAT client of every
    surface with data of its own: ``{"uat": {"partner", "vouchers", "loyalty", "operator"}}``,
    each in the shape of its demo key. Nothing in a deployment pinned to another environment."""
    pinned = runtime.settings.environment
    if pinned not in (None, Environment.UAT):
        return {}
    for surface in ("partner", "vouchers", "loyalty", "operator"):
        await clients.update_client(
            session,
            client_id=demo[surface]["client_id"],
            organization=ORGANIZATION,
            known_tiers=runtime.rate_limiter.tier_names(),
            actor=ACTOR,
        )
    uat = Environment.UAT.value
    merchant = await merchants.create_merchant(
        session,
        name=UAT_MERCHANT["name"],
        handle=UAT_MERCHANT["handle"],
        time_zone=UAT_MERCHANT["time_zone"],
        actor=ACTOR,
    )
    await merchants.create_business_unit(
        session, merchant_id=merchant.id, name="PIZZA_UAT", actor=ACTOR
    )
    template_ids = await _offers(session, merchant.id, "UAT: not redeemable.")
    rows = _members(merchant.id, UAT_MERCHANT["handle"], UAT_AREA_CODE, 9, UAT_MEMBERS)
    await session.execute(insert(Member), rows)

    partner, [token] = await _client(
        session,
        runtime,
        name="Demo Partner (UAT)",
        scopes=["rewards.issue"],
        kind=clients.PARTNER_TOKEN,
        environment=uat,
        merchant_id=merchant.id,
    )

    vouchers = await _oauth_client(
        session,
        runtime,
        "Demo Voucher Client (UAT)",
        ["read_catalogue", "issue_vouchers", "read_vouchers"],
        environment=uat,
    )
    for code in UAT_PRODUCTS:
        await catalogue.assign(
            session,
            client_id=vouchers["client_id"],
            kind=catalogue.PRODUCT,
            item_id=code,
            actor=ACTOR,
        )
    till = await _oauth_client(
        session, runtime, "Demo Merchant Till (UAT)", ["redeem_vouchers"], environment=uat
    )

    loyalty = await _seed_loyalty(
        session, runtime, merchant.id, name="Demo Loyalty Partner (UAT)", environment=uat
    )
    loyalty |= await _loyalty_contract(
        session,
        runtime,
        loyalty,
        name="Demo Loyalty Partner (UAT, ad hoc disabled)",
        environment=uat,
    )
    operator = await _seed_operator(session, runtime, name="Demo Operator (UAT)", environment=uat)
    return {
        "uat": {
            "organization": ORGANIZATION,
            "partner": {
                "client_id": partner.id,
                "access_token": token,
                "merchant_id": merchant.id,
                "template_id": template_ids[0],
                "template_ids": template_ids,
                "members": [{"email": r["email"], "phone": r["phone"]} for r in rows[:10]],
            },
            "vouchers": {
                **vouchers,
                "token_url": "/oauth2/token",
                "product_codes": list(UAT_PRODUCTS),
                "merchant": till,
            },
            "loyalty": loyalty,
            "operator": operator,
        }
    }


async def _seed_vouchers(session: Any, runtime: Runtime) -> dict[str, Any]:
    """A Voucher API client (OAuth secret) and a product of every type."""
    client = await _oauth_client(
        session,
        runtime,
        "Demo Voucher Client",
        ["read_catalogue", "issue_vouchers", "read_vouchers"],
    )
    codes = []
    for product in PRODUCTS:
        made = await products.create_product(session, actor=ACTOR, **product)
        codes.append(made.code)
    return {**client, "token_url": "/oauth2/token", "product_codes": codes}


async def _seed_voucher_merchant(session: Any, runtime: Runtime) -> dict[str, Any]:
    """A till on the merchant side: it looks vouchers up by code, redeems and voids them."""
    return await _oauth_client(session, runtime, "Demo Merchant Till", ["redeem_vouchers"])


async def _seed_loyalty(
    session: Any,
    runtime: Runtime,
    merchant_id: str,
    *,
    name: str = "Demo Loyalty Partner",
    environment: str | None = None,
) -> dict[str, Any]:
    """A Loyalty API client with the ad hoc reward feature, granted the first merchant (its
    loyalty programme): business units, reward definitions, and two of its members."""
    client = await _oauth_client(
        session, runtime, name, ["loyalty.adhoc_reward"], environment=environment
    )
    await clients.grant_merchant(
        session, client_id=client["client_id"], merchant_id=merchant_id, actor=ACTOR
    )
    await rewards.set_adhoc_feature(
        session, client_id=client["client_id"], enabled=True, actor=ACTOR
    )
    # An operator may have tried these names in the programme already: theirs are kept.
    units = set(
        await session.scalars(
            select(BusinessUnit.name).where(BusinessUnit.merchant_id == merchant_id)
        )
    )
    for unit in LOYALTY_BUSINESS_UNITS:
        if unit not in units:
            await merchants.create_business_unit(
                session, merchant_id=merchant_id, name=unit, actor=ACTOR
            )
    defined = set(
        await session.scalars(
            select(LoyaltyReward.reward_id).where(LoyaltyReward.merchant_id == merchant_id)
        )
    )
    for reward in LOYALTY_REWARDS:
        if reward["reward_id"] not in defined:
            await rewards.create_reward(session, merchant_id=merchant_id, actor=ACTOR, **reward)
    active, inactive = [
        await session.scalar(
            select(Member)
            .where(Member.merchant_id == merchant_id, Member.status == status)
            .order_by(Member.email)
            .limit(1)
        )
        for status in ("active", "inactive")
    ]
    assert active is not None and inactive is not None
    return {
        **client,
        "token_url": "/oauth2/token",
        "merchant_id": merchant_id,
        "business_units": list(LOYALTY_BUSINESS_UNITS),
        "reward_ids": [r["reward_id"] for r in LOYALTY_REWARDS if r.get("enabled", True)],
        "disabled_reward_id": next(
            r["reward_id"] for r in LOYALTY_REWARDS if not r.get("enabled", True)
        ),
        "member": {
            "account_id": active.account_id,
            "loyalty_id": active.loyalty_id,
            "email": active.email,
        },
        "inactive_member": {"account_id": inactive.account_id},
    }


async def _loyalty_contract(
    session: Any,
    runtime: Runtime,
    loyalty: dict[str, Any],
    *,
    name: str = "Demo Loyalty Partner (ad hoc disabled)",
    environment: str | None = None,
) -> dict[str, Any]:
    """The loyalty keys of the documented ``bestow demo --json`` contract: the first business
    unit and enabled reward (with its per-transaction maximum), the members as ``account`` and
    ``inactive_account``, and a second client of the programme without the ad hoc feature."""
    reward = next(r for r in LOYALTY_REWARDS if r["reward_id"] == loyalty["reward_ids"][0])
    disabled = await _oauth_client(
        session, runtime, name, ["loyalty.adhoc_reward"], environment=environment
    )
    await clients.grant_merchant(
        session, client_id=disabled["client_id"], merchant_id=loyalty["merchant_id"], actor=ACTOR
    )
    await rewards.set_adhoc_feature(
        session, client_id=disabled["client_id"], enabled=False, actor=ACTOR
    )
    return {
        "business_unit": loyalty["business_units"][0],
        "reward_id": reward["reward_id"],
        "reward_max_amount": reward["max_per_transaction"],
        "account": dict(loyalty["member"]),
        "inactive_account": dict(loyalty["inactive_member"]),
        "feature_disabled_client": disabled,
    }


async def _seed_operator(
    session: Any, runtime: Runtime, *, name: str = "Demo Operator", environment: str | None = None
) -> dict[str, Any]:
    """An Operator API client (the first free operator id from 1001) with both shared keys, and
    an Active campaign with no end holding a Fixed free-bets reward for a year."""
    taken = set(await session.scalars(select(Client.operator_id).where(Client.operator_id >= 1001)))
    operator_id = next(n for n in range(1001, 1001 + len(taken) + 1) if n not in taken)
    client, (primary, secondary) = await _client(
        session,
        runtime,
        name=name,
        scopes=["operator.campaigns"],
        kind=clients.OPERATOR_KEY,
        tier="high",
        environment=environment,
        operator_id=operator_id,
        labels=("primary", "secondary"),
    )
    keys = {"primary": primary, "secondary": secondary}
    now = utcnow().replace(microsecond=0)
    campaign = await operator_campaigns.create(
        session,
        client_id=client.id,
        name="Demo Welcome Offer",
        description="Free bets for new players",
        operator_reference="DEMO-WELCOME",
        terms_url=None,
        start_at=now,
        end_at=None,
        created_by="system:demo",
    )
    reward = await operator_rewards.create(
        session,
        client_id=client.id,
        campaign_id=campaign.id,
        name="Ten free spins",
        description="10 bets of 0.50 EUR",
        operator_reference="DEMO-FS-10",
        products=list(OPERATOR_PRODUCTS),
        start_at=now,
        end_at=now + timedelta(days=365),
        created_by="system:demo",
        details=operator_rewards.FreeBets(
            details_type=operator_rewards.FIXED,
            currency="EUR",
            min_bet_value_minor=50,
            max_bet_value_minor=50,
            min_bet_count=10,
            max_bet_count=10,
            credit_wallet_type="FreeBet",
            stake_not_returned=True,
        ),
        now=now,
    )
    return {
        "client_id": client.id,
        "operator_id": operator_id,
        "primary_shared_key": keys["primary"],
        "secondary_shared_key": keys["secondary"],
        "campaign_id": campaign.id,
        "reward_id": reward.id,
        "products": list(OPERATOR_PRODUCTS),
    }


async def _oauth_client(
    session: Any,
    runtime: Runtime,
    name: str,
    scopes: list[str],
    *,
    environment: str | None = None,
) -> dict[str, Any]:
    """A client of the ``high`` tier with an OAuth secret: ``{client_id, client_secret}``; of
    ``environment`` (then in the demo's organisation) if given."""
    client, [secret] = await _client(
        session,
        runtime,
        name=name,
        scopes=scopes,
        kind=clients.OAUTH_SECRET,
        tier="high",
        environment=environment,
    )
    return {"client_id": client.id, "client_secret": secret}


async def _client(
    session: Any,
    runtime: Runtime,
    *,
    name: str,
    scopes: list[str],
    kind: str,
    tier: str = "default",
    environment: str | None = None,
    operator_id: int | None = None,
    labels: tuple[str, ...] = ("",),
    merchant_id: str | None = None,
) -> tuple[Client, list[str]]:
    """A demo client of ``environment`` (then in the demo's organisation; unset, the
    deployment's), with a credential of ``kind`` per label, and ``merchant_id`` granted: the
    client and its secrets."""
    pinned = runtime.settings.environment
    client = await clients.create_client(
        session,
        name=name,
        scopes=scopes,
        rate_limit_tier=tier,
        known_tiers=runtime.rate_limiter.tier_names(),
        operator_id=operator_id,
        environment=environment,
        organization=ORGANIZATION if environment else None,
        pinned=pinned,
        actor=ACTOR,
    )
    secrets = []
    for label in labels:
        issued = await clients.issue_credential(
            session,
            runtime.sealer,
            client_id=client.id,
            kind=kind,
            label=label,
            pinned=pinned,
            actor=ACTOR,
        )
        secrets.append(issued.secret)
    if merchant_id is not None:
        await clients.grant_merchant(
            session, client_id=client.id, merchant_id=merchant_id, actor=ACTOR
        )
    return client, secrets


def _members(
    merchant_id: str, handle: str, area: str, number: int, count: int = MEMBERS_PER_MERCHANT
) -> list[dict[str, Any]]:
    """``count`` members of a merchant, the last one inactive; ``number`` starts their loyalty
    ids."""
    now = utcnow()
    rows = []
    for n in range(count):
        rows.append(
            {
                "id": new_id("mbr"),
                "merchant_id": merchant_id,
                "account_id": new_guid(),
                "email": f"member{n:04d}@{handle}.example.com",
                "phone": f"+1{area}555{n:04d}",
                "loyalty_id": f"{number}{n:011d}",
                "first_name": f"Member{n}",
                "last_name": "Demo",
                "status": "inactive" if n == count - 1 else "active",
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows
