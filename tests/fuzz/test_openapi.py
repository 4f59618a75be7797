"""Schemathesis over the application, in process, on every operation of ``/openapi.json`` with
valid credentials for each surface: no 5xx, and every answer is documented (status code, content
type, body schema).

``make test`` runs a few examples per operation (5), derandomized so that every run sends the
same requests, on SQLite only: the document and the 5xx it looks for do not depend on the
database, and the suite's own bad-input tests cover PostgreSQL's (NUL bytes, sizes). ``make fuzz``
(``BESTOW_FUZZ_EXAMPLES``) runs many more, on both databases."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bestow.app import create_app
from bestow.deps import Runtime
from tests.conftest import ADMIN_TOKEN, app_on, make_partner, make_settings
from tests.loyalty.helpers import make_programme
from tests.oauth.test_token import get_token, oauth_client
from tests.operator.helpers import Operator, make_operator, sign

FULL_RUN = os.environ.get("BESTOW_FUZZ_EXAMPLES")
EXAMPLES = int(FULL_RUN or "5")
BASE_URL = f"http://{asgi.HOST}"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _document() -> dict[str, Any]:
    """The OpenAPI document, built without a database (nothing is connected at build time)."""
    scratch = Path(tempfile.gettempdir())
    app = create_app(make_settings(f"sqlite+aiosqlite:///{scratch}/unused.db", scratch))
    return app.openapi()


schema = schemathesis.openapi.from_dict(_document())


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


async def _credentials(runtime: Runtime, settings: Any) -> Credentials:
    client_id, token, _ = await make_partner(runtime, tier="unlimited")
    partner = {
        "Authorization": f"Bearer {token}",
        "X-ClientId": client_id,
        "Accept-Version": "v4.0",
    }
    scopes = ("read_catalogue", "issue_vouchers", "read_vouchers", "redeem_vouchers")
    voucher_id, secret, _ = await oauth_client(runtime, scopes, tier="unlimited")
    async with app_on(settings) as http:
        answer = await get_token(http, voucher_id, secret)
        assert answer.status_code == 200, answer.text
        vouchers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        programme = await make_programme(http, runtime)
    operator = await make_operator(runtime)
    return Credentials(partner, vouchers, programme.headers, operator)


@pytest.fixture(scope="session")
async def fuzz_session(database_url: str, var_dir: Path) -> AsyncIterator[requests.Session]:
    """A session on an application of its own on the database, its lifespan run by
    schemathesis, with valid credentials for every surface."""
    if FULL_RUN is None and not database_url.startswith("sqlite"):
        pytest.skip("bounded fuzzing runs on SQLite; make fuzz runs both databases")
    settings = make_settings(database_url, var_dir)
    from bestow.app import build_runtime

    runtime = build_runtime(settings)
    try:
        credentials = await _credentials(runtime, settings)
    finally:
        await runtime.db.dispose()
    app = create_app(settings)
    with asgi.get_client(app) as client:
        client.auth = credentials
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
    case.call_and_validate(base_url=BASE_URL, session=fuzz_session, checks=CHECKS)
