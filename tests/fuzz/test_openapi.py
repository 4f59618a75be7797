"""Schemathesis over the application, in process, on every operation of ``/openapi.json`` with
valid credentials for each surface: no 5xx, and every answer is documented (status code, content
type, body schema).

``make test`` runs a few examples per operation (5), derandomized so that every run sends the
same requests, on SQLite only: the document and the 5xx it looks for do not depend on the
database, and the suite's own bad-input tests cover PostgreSQL's (NUL bytes, sizes). ``make fuzz``
(``BESTOW_FUZZ_EXAMPLES``) runs many more, on both databases."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.hooks import HookContext
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bestow.app import create_app
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.fixtures import databases
from tests.fuzz.document import COUNTS, document
from tests.loyalty.helpers import REWARD, UNIT
from tests.operator.helpers import Operator, sign
from tests.security.world import ADMIN, World, open_world

FULL_RUN = os.environ.get("BESTOW_FUZZ_EXAMPLES")
EXAMPLES = int(FULL_RUN or "5")
BASE_URL = f"http://{asgi.HOST}"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


schema = schemathesis.openapi.from_dict(document())


@dataclass
class Credentials(requests.auth.AuthBase):
    """Valid credentials for each surface, set on each request as it is sent (so the operator's
    request hash signs the final URL and body)."""

    partner: dict[str, str]
    vouchers: dict[str, str]
    loyalty: dict[str, str]
    operator: Operator

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        path = urlsplit(request.url or "").path
        headers: dict[str, str] = {}
        if path.startswith("/partner/"):
            headers = self.partner
        elif path.startswith("/v3/"):
            headers = self.vouchers
        elif path.startswith("/client/"):
            headers = self.loyalty
        elif path.startswith("/admin/"):
            headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        elif path.startswith("/v1/"):
            body = request.body or b""
            raw = body.encode() if isinstance(body, str) else body
            headers = {
                "X-AUTH-OPERATOR-ID": str(self.operator.operator_id),
                "X-AUTH-REQUEST-HASH": sign(self.operator.primary, request.path_url, raw),
            }
        for name in [h for h in request.headers if h.lower() in {k.lower() for k in headers}]:
            del request.headers[name]
        request.headers.update(headers)
        return request


SEEDS: dict[str, dict[str, str]] = {}
"""Real objects of the database being fuzzed, by surface prefix and then by the name of the
path parameter, query parameter or body member that names them: a generated request takes them
(three times in four) so that it reaches past "not found" into the operation."""


def _seeds_for(path: str) -> dict[str, str]:
    prefix = "/" + path.split("/")[1]
    seeds = dict(SEEDS.get(prefix, {}))
    # Explicit examples are drawn at collection, before the world is seeded.
    if path.startswith("/admin/products/") and "product_code" in seeds:
        seeds["code"] = seeds["product_code"]
    return seeds


def _with_seeds(generated: dict[str, Any] | None, seeds: dict[str, str]) -> Any:
    real = {name: seeds[name] for name in generated or {} if name in seeds}
    if not real:
        return st.just(generated)
    return st.integers(0, 3).map(lambda n: generated if n == 3 else {**(generated or {}), **real})


def _seed_body(body: Any, seeds: dict[str, str]) -> Any:
    if isinstance(body, dict):
        return {k: seeds[k] if k in seeds else _seed_body(v, seeds) for k, v in body.items()}
    if isinstance(body, list):
        return [_seed_body(item, seeds) for item in body]
    return body


@schema.hook
def flatmap_path_parameters(context: HookContext, path_parameters: dict[str, Any]) -> Any:
    assert context.operation is not None
    return _with_seeds(path_parameters, _seeds_for(context.operation.path))


@schema.hook
def flatmap_query(context: HookContext, query: dict[str, Any]) -> Any:
    assert context.operation is not None
    return _with_seeds(query, _seeds_for(context.operation.path))


@schema.hook
def flatmap_body(context: HookContext, body: Any) -> Any:
    assert context.operation is not None
    seeded = _seed_body(body, _seeds_for(context.operation.path))
    if seeded == body:
        return st.just(body)
    return st.integers(0, 3).map(lambda n: body if n == 3 else seeded)


async def _seed(world: World) -> None:
    """Admin objects of their own (so that fuzzing a client or a credential leaves the other
    surfaces' credentials alone), then the seeds of every surface from the world."""
    http, objects = world.http, world.objects

    async def admin(url: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await http.post(url, json=body, headers=ADMIN)
        assert response.status_code in (200, 201), response.text
        answer: dict[str, Any] = response.json()
        return answer

    client = await admin("/admin/clients", {"name": "fuzzed"})
    credential = await admin(f"/admin/clients/{client['id']}/credentials", {"kind": "oauth_secret"})
    loyalty_merchant = world.loyalty_a.merchant_id
    reward = await admin(
        f"/admin/merchants/{loyalty_merchant}/loyalty_rewards",
        {"reward_id": "FUZZED", "name": "Fuzzed", "max_per_transaction": 100},
    )
    campaign = await http.get(
        f"/partner/campaigns/{objects['partner.campaign_id']}",
        params={"merchant_id": world.partner_a.merchant_id},
        headers=world.partner_a.headers(),
    )
    assert campaign.status_code == 200, campaign.text
    variants = campaign.json()["campaign"]["variants"]
    SEEDS.clear()
    SEEDS.update(
        {
            "/partner": {
                "merchant_id": world.partner_a.merchant_id,
                "campaign_id": objects["partner.campaign_id"],
                "template_id": objects["partner.template_id"],
                "reward_template_id": objects["partner.template_id"],
                "job_id": objects["partner.job_id"],
                "variant_id": next(v["id"] for v in variants if v["name"] != "Control"),
            },
            "/v3": {
                "code": objects["vouchers.product_code"],
                "voucher_id": objects["vouchers.voucher_id"],
                "voucher_code": objects["vouchers.voucher_code"],
            },
            "/client": {
                "identifier": objects["loyalty.identifier"],
                "correlation_id": objects["loyalty.correlation_id"],
                "partner_id": objects["loyalty.partner_id"],
                "rewardId": REWARD,
                "businessUnit": UNIT,
            },
            "/v1": {
                "campaign_id": objects["operator.campaign_id"],
                "reward_id": objects["operator.reward_id"],
                "enrollment_id": objects["operator.enrollment_id"],
                "bulk_id": objects["operator.bulk_id"],
            },
            "/admin": {
                "client_id": client["id"],
                "credential_id": credential["id"],
                "merchant_id": objects["admin.merchant_id"],
                "member_id": objects["admin.member_id"],
                "template_id": objects["partner.template_id"],
                "endpoint_id": objects["admin.endpoint_id"],
                "reward_id": reward["id"],
                "code": objects["vouchers.voucher_code"],
                "product_code": objects["vouchers.product_code"],
            },
        }
    )


@pytest.fixture(scope="session")
def fuzz_database(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of the fuzzing's own, of the kind of ``database_url``: the explicit
    examples it sends create the documented objects (merchant handles, product codes), which
    the live server's examples test must still be able to create on the shared database."""
    if FULL_RUN is None and not database_url.startswith("sqlite"):
        pytest.skip("bounded fuzzing runs on SQLite; make fuzz runs both databases")
    if database_url.startswith("sqlite"):
        yield from databases.migrated(databases.sqlite_url(tmp_path_factory.mktemp("fuzz")))
        return
    base = databases.postgres_url()
    assert base is not None
    url = databases.create_postgres_database(base)
    try:
        yield from databases.migrated(url)
    finally:
        databases.drop_postgres_database(base, url)


@pytest.fixture(scope="session")
async def fuzz_session(fuzz_database: str, var_dir: Path) -> AsyncIterator[requests.Session]:
    """A session on an application of its own on the database, its lifespan run by
    schemathesis, with valid credentials for every surface and real objects to reach."""
    settings = make_settings(fuzz_database, var_dir)
    async with open_world(fuzz_database, var_dir, max_body_bytes=settings.max_body_bytes) as world:
        credentials = Credentials(
            world.partner_a.headers(), world.voucher_a[2], world.loyalty_a.headers, world.operator_a
        )
        await _seed(world)
    app = create_app(settings)
    with asgi.get_client(app) as client:
        client.auth = credentials
        client.bestow_database = fuzz_database.split(":", 1)[0].split("+", 1)[0]  # type: ignore[attr-defined]
        yield client
    asgi.shutdown_lifespans()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_operation(case: schemathesis.Case, fuzz_session: requests.Session) -> None:
    counts = COUNTS.setdefault(fuzz_session.bestow_database, Counter())  # type: ignore[attr-defined]
    counts["requests"] += 1
    try:
        response = case.call(base_url=BASE_URL, session=fuzz_session)
    except Exception:
        counts["5xx"] += 1  # the application raised: a client would have had a 500
        raise
    counts["404"] += response.status_code == 404
    counts["5xx"] += response.status_code >= 500
    case.validate_response(response, checks=CHECKS)
