"""Helpers of the outage tests: a database URL that goes through a proxy's port."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def via(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))
