"""``/docs`` and ``/redoc`` work without the internet: every URL in their pages is this server's,
and each asset answers with what a browser needs to run it."""

from __future__ import annotations

import json
import re

import httpx
import pytest

pytestmark = pytest.mark.asyncio

# src="...", href="...", url: '...' and url(...) in the pages' HTML and inline script.
REFERENCES = re.compile(
    r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']|url\(([^)]+)\)"""
)
CONTENT_TYPES = {
    ".js": "javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}


def references(html: str) -> list[str]:
    return [next(g for g in match.groups() if g) for match in REFERENCES.finditer(html)]


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png", "openapi.json"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png", "openapi.json"}),
    ],
)
async def test_docs_pages_reference_only_local_assets(
    app_client: httpx.AsyncClient, page: str, expected: set[str]
) -> None:
    answer = await app_client.get(page)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.text
    found = references(html)
    assert {url.rsplit("/", 1)[-1] for url in found} >= expected, found
    for url in found:
        assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url}"
    assert "http://" not in html and "https://" not in html
    for url in found:
        asset = await app_client.get(url)
        assert asset.status_code == 200, url
        kind = next(v for k, v in CONTENT_TYPES.items() if url.endswith(k))
        assert kind in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert len(asset.content) > 1000, url


async def test_swagger_ui_sends_the_document_to_no_validator(
    app_client: httpx.AsyncClient,
) -> None:
    html = (await app_client.get("/docs")).text
    assert '"validatorUrl": null' in html


async def test_the_oauth2_redirect_page_is_served(app_client: httpx.AsyncClient) -> None:
    answer = await app_client.get("/docs/oauth2-redirect")
    assert answer.status_code == 200
    assert "oauth2" in answer.text.lower()


async def test_every_reference_in_the_document_resolves(app_client: httpx.AsyncClient) -> None:
    """ReDoc refuses the whole page when one ``$ref`` does not resolve from the root."""
    document = (await app_client.get("/openapi.json")).json()
    refs = set(re.findall(r'"\$ref":\s*"([^"]+)"', json.dumps(document)))
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        node = document
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
            node = node[part]
