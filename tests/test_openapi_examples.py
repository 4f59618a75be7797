"""Every operation of ``/openapi.json`` carries examples, and they are valid: each request example
fits its schema, and the create operations of every surface, sent with their examples to a live
server with the demo data (the ids "Try it out" fills in), are not refused for their body."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

import httpx
import jsonschema_rs
import pytest

from tests.fixtures.deployment import Deployment, bestow


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


@pytest.fixture(scope="module")
def document(deployment: Deployment) -> dict[str, Any]:
    answer = httpx.get(f"{deployment.base_url}/openapi.json", timeout=30)
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


def test_every_operation_has_request_and_response_examples(document: dict[str, Any]) -> None:
    missing = []
    for method, path, operation in operations(document):
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            if "example" not in media:
                missing.append(f"{method.upper()} {path}: request {media_type}")
        responses = operation.get("responses", {})
        assert responses, f"{method.upper()} {path} documents no response"
        for status, response in responses.items():
            for media_type, media in response.get("content", {}).items():
                if "example" not in media:
                    missing.append(f"{method.upper()} {path}: {status} {media_type}")
    assert not missing, "\n".join(missing)


def test_every_write_with_a_body_documents_one(document: dict[str, Any]) -> None:
    """A POST, PUT or PATCH whose route reads a body documents it (and so its example)."""
    bodiless = {
        "/admin/clients/{client_id}/credentials/{credential_id}/revoke",
        "/admin/clients/{client_id}/catalogue/{kind}/{item_id}",
        "/admin/clients/{client_id}/certification/runs/{run_id}/close",
        "/admin/reward_templates/{template_id}/publish",
        "/admin/reward_templates/{template_id}/unpublish",
    }
    for method, path, operation in operations(document):
        if method in ("post", "put", "patch") and path not in bodiless:
            assert "requestBody" in operation, f"{method.upper()} {path} documents no body"


def test_every_request_example_fits_its_schema(document: dict[str, Any]) -> None:
    components = {"components": document["components"]}
    wrong = []
    for method, path, operation in operations(document):
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            if media_type != "application/json":
                continue
            validator = jsonschema_rs.validator_for({**media["schema"], **components})
            errors = [e.message for e in validator.iter_errors(media["example"])]
            if errors:
                wrong.append(f"{method.upper()} {path}: {errors}")
    assert not wrong, "\n".join(wrong)


def test_error_examples_are_the_surfaces_shapes(document: dict[str, Any]) -> None:
    shapes = {
        "/partner/": {"code", "message"},
        "/v3/": {"status", "code", "message"},
        "/client/": {"statusCode", "errorCode", "errorMessage"},
        "/v1/": {"message", "data", "responseCode"},
        "/admin/": {"type", "title", "status", "detail"},
    }
    for method, path, operation in operations(document):
        shape = next((s for prefix, s in shapes.items() if path.startswith(prefix)), None)
        if shape is None:
            continue
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            for media in response.get("content", {}).values():
                assert set(media["example"]) == shape, (method, path, status, media["example"])


def test_the_partner_campaign_example_uses_the_demo_and_dates_in_the_future(
    document: dict[str, Any], deployment: Deployment
) -> None:
    operation = document["paths"]["/partner/campaigns"]["post"]
    campaign = operation["requestBody"]["content"]["application/json"]["example"]["campaign"]
    assert campaign["merchant_id"] == deployment.demo["partner"]["merchant_id"]
    assert (
        campaign["variants"][0]["reward_template_id"] == deployment.demo["partner"]["template_id"]
    )
    for secret in _secrets(deployment.demo):
        assert secret not in json.dumps(document)


def _secrets(node: Any) -> list[str]:
    """Every credential of the demo document (tokens, secrets, keys)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and re.search(r"(token|secret|shared_key)$", key):
                found.append(value)
            else:
                found.extend(_secrets(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_secrets(value))
    return found


class Caller:
    """Sends an operation's example body with the credentials of its surface."""

    def __init__(self, document: dict[str, Any], deployment: Deployment) -> None:
        self.document = document
        self.base = deployment.base_url
        self.demo = deployment.demo
        self.ids: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        # An admin token of this test's own: other tests may revoke the demo's.
        created = bestow(deployment.env, "admin-tokens", "create", "openapi-examples", "--json")
        self.admin_token = json.loads(created)["token"]

    def example(self, method: str, path: str) -> Any:
        content = self.document["paths"][path][method]["requestBody"]["content"]
        return next(iter(content.values()))["example"]

    def url(self, method: str, path: str) -> str:
        operation = self.document["paths"][path][method]
        filled = path
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "path":
                continue
            name = parameter["name"]
            value = self.ids.get(name, parameter.get("example"))
            assert value is not None, f"{method.upper()} {path}: no example for {name}"
            filled = filled.replace("{" + name + "}", str(value))
        return filled

    def token(self, client: dict[str, str]) -> str:
        if client["client_id"] not in self.tokens:
            answer = httpx.post(
                f"{self.base}/oauth2/token",
                data=self.example("post", "/oauth2/token"),
                auth=(client["client_id"], client["client_secret"]),
            )
            assert answer.status_code == 200, answer.text
            self.tokens[client["client_id"]] = answer.json()["access_token"]
        return self.tokens[client["client_id"]]

    def headers(self, path: str, url: str, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if path.startswith("/partner/"):
            partner = self.demo["partner"]
            headers |= {
                "Authorization": f"Bearer {partner['access_token']}",
                "X-ClientId": partner["client_id"],
                "Accept-Version": "v4.0",
                "X-Idempotency-Key": str(uuid.uuid4()),
            }
        elif path.startswith("/admin/"):
            headers["Authorization"] = f"Bearer {self.admin_token}"
        elif path.startswith("/v3/"):
            headers["Authorization"] = f"Bearer {self.token(self.demo['vouchers'])}"
            headers["Idempotency-Key"] = str(uuid.uuid4())
        elif path.startswith("/client/"):
            headers["Authorization"] = f"Bearer {self.token(self.demo['loyalty'])}"
            headers["X-Identifier-Type"] = "ACCOUNT_ID"
        elif path.startswith("/v1/"):
            operator = self.demo["operator"]
            digest = hashlib.sha256(operator["primary_shared_key"].encode() + url.encode() + body)
            headers["X-AUTH-OPERATOR-ID"] = str(operator["operator_id"])
            headers["X-AUTH-REQUEST-HASH"] = digest.hexdigest()
        return headers

    def send(self, method: str, path: str) -> httpx.Response:
        url = self.url(method, path)
        body = json.dumps(self.example(method, path)).encode()
        return httpx.request(
            method.upper(),
            f"{self.base}{url}",
            content=body,
            headers=self.headers(path, url, body),
            timeout=30,
        )


# Create operations of every surface, in an order where each finds what it needs: the ids that
# an answer gives (``keep``) fill the path parameters of the operations after it, so nothing of
# the demo is changed in place.
CREATES: list[tuple[str, str, dict[str, str]]] = [
    ("post", "/partner/campaigns", {}),
    ("post", "/partner/campaigns/issue", {}),
    ("post", "/admin/merchants", {"merchant_id": "id"}),
    ("post", "/admin/merchants/{merchant_id}/locations", {}),
    ("post", "/admin/merchants/{merchant_id}/business_units", {}),
    ("post", "/admin/merchants/{merchant_id}/members", {}),
    ("post", "/admin/merchants/{merchant_id}/reward_templates", {}),
    ("post", "/admin/merchants/{merchant_id}/loyalty_rewards", {}),
    ("post", "/admin/clients", {"client_id": "id"}),
    ("post", "/admin/clients/{client_id}/merchants", {}),
    ("post", "/admin/clients/{client_id}/credentials", {}),
    ("post", "/admin/clients/{client_id}/webhook_endpoints", {}),
    ("post", "/admin/products", {}),
    ("post", "/v3/products/{code}", {}),
    ("post", "/client/users/{identifier}/sessions", {}),
    ("post", "/client/users/{correlation_id}/adhoc-reward/", {}),
    ("post", "/v1/campaigns", {"campaign_id": "data.id"}),
    ("post", "/v1/campaigns/{campaign_id}/rewards", {"reward_id": "data.id"}),
    ("post", "/v1/rewards/{reward_id}/enrollments", {"enrollment_id": "data.id"}),
    ("post", "/v1/rewards/{reward_id}/enrollments/bulk", {}),
    ("post", "/v1/enrollments/{enrollment_id}/bets", {}),
]


NOT_FOUND_BY_DESIGN = {
    # The demo has no Partner campaign: the example names one of the same form, which is 404,
    # not a 400 or 422 for its body.
    ("post", "/partner/campaigns/issue"): (404,),
}


def _pick(data: Any, dotted: str) -> str:
    for key in dotted.split("."):
        data = data[key]
    return str(data)


def test_the_create_examples_are_accepted_by_a_live_server(
    document: dict[str, Any], deployment: Deployment
) -> None:
    caller = Caller(document, deployment)
    refused = []
    for method, path, keep in CREATES:
        answer = caller.send(method, path)
        expected = NOT_FOUND_BY_DESIGN.get((method, path), range(200, 300))
        if answer.status_code not in expected:
            refused.append(f"{method.upper()} {path}: {answer.status_code} {answer.text}")
            continue
        for name, dotted in keep.items():
            assert answer.status_code < 300, f"{path}: {answer.status_code} {answer.text}"
            caller.ids[name] = _pick(answer.json(), dotted)
    assert not refused, "\n".join(refused)
    # The campaign example is complete: the demo's merchant and template, dates accepted.
    created = caller.send("post", "/partner/campaigns")
    assert created.status_code == 201, created.text
