"""What the fuzzing found in the OpenAPI document, pinned: every operation documents the errors
its surface answers with, in the surface's own shape, and the successes as they are sent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fuzz.document import build_document

SURFACES = {
    "/admin/": ("application/problem+json", "Problem"),
    "/partner/": ("application/json", "PartnerError"),
    "/v3/": ("application/json", "bestow__surfaces__vouchers__vouchers__ErrorOut"),
    "/client/": ("application/json", "bestow__surfaces__loyalty__routes__ErrorOut"),
    "/v1/": ("application/json", "EnvelopeOut"),
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def test_every_operation_documents_its_surfaces_errors(document: dict[str, Any]) -> None:
    checked = 0
    for path, method, operation in _operations(document):
        prefix = next((p for p in SURFACES if path.startswith(p)), None)
        if prefix is None:
            continue
        media_type, schema = SURFACES[prefix]
        responses = operation["responses"]
        expected = {"400", "401"} | ({"404"} if "{" in path else set())
        if method in ("post", "put", "patch"):
            expected |= {"413", "415"}
        assert expected <= set(responses), (method, path, sorted(responses))
        for status in expected:
            content = responses[status]["content"]
            assert media_type in content, (method, path, status, content)
            ref = content[media_type]["schema"]["$ref"]
            assert ref == f"#/components/schemas/{schema}", (method, path, status, ref)
        checked += 1
    assert checked > 90


def test_no_operation_documents_fastapis_validation_error(document: dict[str, Any]) -> None:
    """Every surface renders validation errors as its own 400, never FastAPI's 422 body."""
    assert "HTTPValidationError" not in str(document)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_partner_merchants_documents_its_list(document: dict[str, Any]) -> None:
    """It was documented as a string (its response class was not FastAPI's JSONResponse)."""
    content = document["paths"]["/partner/merchants"]["get"]["responses"]["200"]["content"]
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/MerchantsOut"}


def test_every_operation_declares_its_surfaces_credentials(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    unsecured = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path in ("/healthz", "/readyz"):
                assert "security" not in operation
                continue
            if "security" not in operation:
                unsecured.append(f"{method.upper()} {path}")
                continue
            for requirement in operation["security"]:
                assert set(requirement) <= set(schemes), (path, requirement)
    assert unsecured == []
    assert document["paths"]["/v1/campaigns"]["get"]["security"] == [
        {"operatorId": [], "operatorHash": []}
    ]
    assert schemes["operatorHash"]["name"] == "X-AUTH-REQUEST-HASH"
