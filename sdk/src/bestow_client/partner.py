"""The Partner API (Thanx-compatible, ``/partner``, ``Accept-Version: v4.0``).

Everything the vendor's pre-certification checklist asks of an integration is done here by
construction: the required headers on every request; merchants and reward templates cached and
refreshed; an ``X-Idempotency-Key`` per issuance, reused on every retry; more than 10,000
identifiers split into several jobs; phones normalised to E.164 before they are sent; ``wait()``
polling a job no faster than once a second, with backoff, reporting progress.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from bestow_client._core import AsyncDriver, Call, Op, Sleep, SyncDriver
from bestow_client._errors import WaitTimeout
from bestow_client._shared import DISCOVERY_TTL, TTLCache, e164, new_key

ACCEPT_VERSION = "v4.0"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_IDENTIFIERS = 10_000
FINAL_STATES = frozenset({"completed", "failed", "revoked"})
POLL_FIRST = 1.0
POLL_MAX = 10.0
POLL_FACTOR = 1.5


@dataclass(frozen=True)
class Merchant:
    id: str
    name: str
    handle: str

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Merchant:
        return cls(raw["id"], raw["name"], raw["handle"])


@dataclass(frozen=True)
class RewardTemplate:
    id: str
    name: str
    type: str
    description: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> RewardTemplate:
        return cls(raw["id"], raw["name"], raw["type"], raw.get("description", ""), raw)


@dataclass(frozen=True)
class Variant:
    id: str
    name: str
    reward_template_id: str | None


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    start_at: str
    end_at: str | None
    variants: list[Variant]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Campaign:
        variants = [
            Variant(v["id"], v["name"], v.get("reward_template_id")) for v in raw["variants"]
        ]
        return cls(raw["id"], raw["name"], raw["start_at"], raw.get("end_at"), variants, raw)

    def variant(self, name: str) -> Variant:
        """The variant called ``name`` (case-insensitive)."""
        for variant in self.variants:
            if variant.name.lower() == name.lower():
                return variant
        raise KeyError(f"campaign {self.id} has no variant {name!r}")


@dataclass(frozen=True)
class Failure:
    identifier_index: int
    identifier_type: str
    error: str


@dataclass(frozen=True)
class IssuanceJob:
    id: str
    merchant_id: str
    campaign_id: str
    variant_id: str
    state: str
    total_count: int
    processed_count: int
    success_count: int
    failure_count: int
    progress_percent: int
    failures: list[Failure]
    raw: dict[str, Any] = field(repr=False, compare=False)
    replayed: bool = False
    """The answer to an earlier request with the same idempotency key (``Idempotent-Replayed``):
    this call created nothing."""

    @classmethod
    def of(cls, raw: dict[str, Any], merchant_id: str, *, replayed: bool = False) -> IssuanceJob:
        summary = raw.get("summary") or {}
        failures = [
            Failure(f["identifier_index"], f["identifier_type"], f["error"])
            for f in summary.get("failures") or []
        ]
        return cls(
            raw["id"],
            merchant_id,
            raw["campaign_id"],
            raw["variant_id"],
            raw["state"],
            raw["total_count"],
            raw["processed_count"],
            raw["success_count"],
            raw["failure_count"],
            raw["progress_percent"],
            failures,
            raw,
            replayed,
        )

    @property
    def done(self) -> bool:
        return self.state in FINAL_STATES


@dataclass(frozen=True)
class Identifier:
    type: str
    value: str

    def json(self) -> dict[str, str]:
        return {"type": self.type, "value": self.value}


def identifier(value: str, default_region: str | None = None) -> Identifier:
    """An email (it has ``@``) or a phone normalised to E.164 (``InvalidPhoneNumber`` if it
    cannot be)."""
    value = value.strip()
    if "@" in value:
        return Identifier("email", value)
    return Identifier("phone", e164(value, default_region))


def _identifiers(
    values: Iterable[str | Identifier], default_region: str | None
) -> list[Identifier]:
    return [v if isinstance(v, Identifier) else identifier(v, default_region) for v in values]


def _chunks(items: list[Identifier], size: int) -> Iterator[list[Identifier]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _iso(moment: datetime | str) -> str:
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is None:
        raise ValueError("campaign dates must be timezone-aware")
    return moment.isoformat()


class PartnerOps:
    """The Partner API's operations (generators run by a driver; see ``_core``)."""

    def __init__(
        self,
        *,
        client_id: str,
        access_token: str,
        discovery_ttl: float = DISCOVERY_TTL,
        default_region: str | None = None,
    ) -> None:
        self.client_id = client_id
        self.headers = {
            "Authorization": f"Bearer {access_token}",
            "X-ClientId": client_id,
            "Accept-Version": ACCEPT_VERSION,
            "Accept": "application/json",
        }
        self.default_region = default_region
        self.merchant_cache: TTLCache[str, list[Merchant]] = TTLCache(discovery_ttl)
        self.template_cache: TTLCache[str, list[RewardTemplate]] = TTLCache(discovery_ttl)

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Op[Any]:
        response: httpx.Response = yield Call("GET", path, params=params, headers=self.headers)
        return response.json()

    def _send(self, path: str, body: Any, *, key: str | None, safe: bool) -> Op[httpx.Response]:
        headers = {**self.headers, "Content-Type": "application/json"}
        if key is not None:
            headers["X-Idempotency-Key"] = key
        response: httpx.Response = yield Call("POST", path, json=body, headers=headers, safe=safe)
        return response

    def _post(self, path: str, body: Any, *, key: str | None, safe: bool) -> Op[Any]:
        response = yield from self._send(path, body, key=key, safe=safe)
        return response.json()

    # --- discovery (cached) --------------------------------------------------------------------

    def merchants(self, *, refresh: bool = False) -> Op[list[Merchant]]:
        cached = None if refresh else self.merchant_cache.get("all")
        if cached is not None:
            return cached
        body = yield from self._get("/partner/merchants")
        return self.merchant_cache.put("all", [Merchant.of(m) for m in body["merchants"]])

    def reward_templates(
        self, merchant_id: str, *, refresh: bool = False
    ) -> Op[list[RewardTemplate]]:
        """Every published template of the merchant (all pages)."""
        cached = None if refresh else self.template_cache.get(merchant_id)
        if cached is not None:
            return cached
        found: list[RewardTemplate] = []
        page = 1
        while True:
            body = yield from self._get(
                "/partner/reward_templates",
                {"merchant_id": merchant_id, "page": page, "per_page": 100},
            )
            found += [RewardTemplate.of(t) for t in body["reward_templates"]]
            if page >= body["pagination"]["total_pages"]:
                return self.template_cache.put(merchant_id, found)
            page += 1

    # --- campaigns -----------------------------------------------------------------------------

    def create_campaign(
        self,
        *,
        merchant_id: str,
        name: str,
        objective: str,
        fine_print: str,
        start_at: datetime | str,
        end_at: datetime | str,
        redeemable_from: datetime | str,
        redeemable_to: datetime | str,
        variants: list[dict[str, str | None]],
    ) -> Op[Campaign]:
        """A campaign of 1 to 4 variants (``{"name", "reward_template_id"}``; a "Control" variant
        has no template). Not retried after a timeout: the API has no idempotency for it."""
        body = {
            "campaign": {
                "merchant_id": merchant_id,
                "name": name,
                "objective": objective,
                "fine_print": fine_print,
                "start_at": _iso(start_at),
                "end_at": _iso(end_at),
                "redeemable_from": _iso(redeemable_from),
                "redeemable_to": _iso(redeemable_to),
                "variants": variants,
            }
        }
        answer = yield from self._post("/partner/campaigns", body, key=None, safe=False)
        return Campaign.of(answer["campaign"])

    def campaign(self, campaign_id: str) -> Op[Campaign]:
        body = yield from self._get(f"/partner/campaigns/{campaign_id}")
        return Campaign.of(body["campaign"])

    def campaigns(self, merchant_id: str) -> Op[list[Campaign]]:
        """The merchant's active campaigns created by this client (all pages)."""
        found: list[Campaign] = []
        page = 1
        while True:
            body = yield from self._get(
                "/partner/campaigns", {"merchant_id": merchant_id, "page": page, "per_page": 100}
            )
            found += [Campaign.of(c) for c in body["campaigns"]]
            if page >= body["pagination"]["total_pages"]:
                return found
            page += 1

    # --- issuance ------------------------------------------------------------------------------

    def issue(
        self,
        *,
        merchant_id: str,
        campaign_id: str,
        variant_id: str,
        identifiers: Iterable[str | Identifier],
        idempotency_key: str | None = None,
    ) -> Op[list[IssuanceJob]]:
        """Issue to every identifier, in jobs of at most 10,000. Each job's request carries its
        own idempotency key (``idempotency_key`` + ``:n`` when given), the same on every retry,
        so a retried or repeated call never issues twice: a repeated job comes back with
        ``replayed`` set."""
        items = _identifiers(identifiers, self.default_region)
        if not items:
            raise ValueError("identifiers is empty")
        jobs = []
        for number, chunk in enumerate(_chunks(items, MAX_IDENTIFIERS)):
            key = f"{idempotency_key}:{number}" if idempotency_key else new_key()
            body = {
                "merchant_id": merchant_id,
                "campaign_id": campaign_id,
                "variant_id": variant_id,
                "identifiers": [i.json() for i in chunk],
            }
            response = yield from self._send("/partner/campaigns/issue", body, key=key, safe=True)
            jobs.append(
                IssuanceJob.of(
                    response.json()["issuance_job"],
                    merchant_id,
                    replayed=response.headers.get(REPLAYED_HEADER, "").lower() == "true",
                )
            )
        return jobs

    def job(self, job_id: str, *, merchant_id: str) -> Op[IssuanceJob]:
        body = yield from self._get(
            f"/partner/issuance_jobs/{job_id}", {"merchant_id": merchant_id}
        )
        return IssuanceJob.of(body["issuance_job"], merchant_id)

    def revoke(self, job_id: str, *, merchant_id: str) -> Op[IssuanceJob]:
        """Ask for a completed or failed job's rewards to be revoked (``revoking``)."""
        answer = yield from self._post(
            f"/partner/issuance_jobs/{job_id}/revoke",
            {"merchant_id": merchant_id},
            key=new_key(),
            safe=True,
        )
        return IssuanceJob.of(answer["issuance_job"], merchant_id)

    def wait(
        self,
        job: IssuanceJob,
        *,
        timeout: float = 3600.0,
        on_progress: Callable[[IssuanceJob], None] | None = None,
        until: frozenset[str] = FINAL_STATES,
    ) -> Op[IssuanceJob]:
        """Poll the job until its state is in ``until`` (completed, failed or revoked): first
        after a second, then backing off to every 10 seconds, never faster than once a second."""
        delay, waited = POLL_FIRST, 0.0
        current = job
        while current.state not in until:
            if waited >= timeout:
                raise WaitTimeout(f"job {job.id} still {current.state} after {waited:.0f} s")
            yield Sleep(delay)
            waited += delay
            delay = min(POLL_MAX, delay * POLL_FACTOR)
            current = yield from self.job(job.id, merchant_id=job.merchant_id)
            if on_progress is not None:
                on_progress(current)
        return current


class Partner:
    """The Partner API on a sync client (``Bestow(...).partner(...)``)."""

    def __init__(self, ops: PartnerOps, driver: SyncDriver) -> None:
        self.ops, self._run = ops, driver.run

    def merchants(self, *, refresh: bool = False) -> list[Merchant]:
        return self._run(self.ops.merchants(refresh=refresh))

    def reward_templates(self, merchant_id: str, *, refresh: bool = False) -> list[RewardTemplate]:
        return self._run(self.ops.reward_templates(merchant_id, refresh=refresh))

    def create_campaign(self, **fields: Any) -> Campaign:
        return self._run(self.ops.create_campaign(**fields))

    def campaign(self, campaign_id: str) -> Campaign:
        return self._run(self.ops.campaign(campaign_id))

    def campaigns(self, merchant_id: str) -> list[Campaign]:
        return self._run(self.ops.campaigns(merchant_id))

    def issue(self, **fields: Any) -> list[IssuanceJob]:
        return self._run(self.ops.issue(**fields))

    def job(self, job_id: str, *, merchant_id: str) -> IssuanceJob:
        return self._run(self.ops.job(job_id, merchant_id=merchant_id))

    def revoke(self, job_id: str, *, merchant_id: str) -> IssuanceJob:
        return self._run(self.ops.revoke(job_id, merchant_id=merchant_id))

    def wait(self, job: IssuanceJob, **options: Any) -> IssuanceJob:
        return self._run(self.ops.wait(job, **options))


class AsyncPartner:
    """The Partner API on an async client (``AsyncBestow(...).partner(...)``)."""

    def __init__(self, ops: PartnerOps, driver: AsyncDriver) -> None:
        self.ops, self._run = ops, driver.run

    async def merchants(self, *, refresh: bool = False) -> list[Merchant]:
        return await self._run(self.ops.merchants(refresh=refresh))

    async def reward_templates(
        self, merchant_id: str, *, refresh: bool = False
    ) -> list[RewardTemplate]:
        return await self._run(self.ops.reward_templates(merchant_id, refresh=refresh))

    async def create_campaign(self, **fields: Any) -> Campaign:
        return await self._run(self.ops.create_campaign(**fields))

    async def campaign(self, campaign_id: str) -> Campaign:
        return await self._run(self.ops.campaign(campaign_id))

    async def campaigns(self, merchant_id: str) -> list[Campaign]:
        return await self._run(self.ops.campaigns(merchant_id))

    async def issue(self, **fields: Any) -> list[IssuanceJob]:
        return await self._run(self.ops.issue(**fields))

    async def job(self, job_id: str, *, merchant_id: str) -> IssuanceJob:
        return await self._run(self.ops.job(job_id, merchant_id=merchant_id))

    async def revoke(self, job_id: str, *, merchant_id: str) -> IssuanceJob:
        return await self._run(self.ops.revoke(job_id, merchant_id=merchant_id))

    async def wait(self, job: IssuanceJob, **options: Any) -> IssuanceJob:
        return await self._run(self.ops.wait(job, **options))
