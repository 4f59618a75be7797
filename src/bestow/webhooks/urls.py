"""Webhook URL safety: a webhook must not become a way into the internal network.

The rules follow the environment of the endpoint's client (``production`` below means a production
client's endpoint, in any deployment; ``bestow.lab.environments.allows_local_webhooks``). A
production client's endpoint URL must be ``https`` on a public address. It is checked when the
endpoint is saved (literal addresses, internal names, and whatever the name resolves to then) and
again at every send: the dispatcher's strict resolver refuses a name that resolves to a private,
loopback, link-local (cloud metadata), shared, reserved or multicast address, and the connection
goes to the address so checked, so a DNS answer that changes in between cannot slip through.
Redirects are never followed. A demo or UAT client's endpoint may be any ``http`` or ``https`` URL
(local development, a receiver on the integrator's machine).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from bestow.kit.errors import Invalid

MAX_URL_LENGTH = 2000
INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".intranet", ".lan", ".home.arpa")
CREATE_RESOLVE_TIMEOUT = 3.0
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
"""The well-known NAT64 prefix: its addresses stand for the IPv4 address in their last 32 bits."""


class BlockedAddress(OSError):
    """The URL points at an address webhooks may not reach."""


def is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(str(embedded))
    # is_global alone lets IPv6 reserved space through (IPv4-compatible ::a.b.c.d, local NAT64)
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_syntax(url: str, *, production: bool) -> str:
    """The URL, refused with ``Invalid`` when it cannot be an endpoint here."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise Invalid(f"url must be at most {MAX_URL_LENGTH} characters", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Invalid("url is not a valid URL", field="url") from exc
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise Invalid("url must be an absolute http or https URL", field="url")
    if parts.username is not None or parts.password is not None:
        raise Invalid("url must not carry credentials; use extra headers instead", field="url")
    if parts.fragment:
        raise Invalid("url must not have a fragment", field="url")
    if port == 0:
        raise Invalid("url has an invalid port", field="url")
    if production:
        if parts.scheme != "https":
            raise Invalid("url must use https in production", field="url")
        literal = _literal(host)
        if literal is not None and not is_public(str(literal)):
            raise Invalid("url must point at a public address", field="url")
        if literal is None and (
            "." not in host or host == "localhost" or host.endswith(INTERNAL_SUFFIXES)
        ):
            raise Invalid("url must point at a public host name", field="url")
    return url


async def check_url(url: str, *, production: bool) -> str:
    """``check_syntax``, and in production what the name resolves to now (a name that does not
    resolve yet is accepted: every send checks again)."""
    url = check_syntax(url, production=production)
    if not production:
        return url
    host = (urlsplit(url).hostname or "").rstrip(".")
    if _literal(host) is not None:
        return url
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, 443, type=socket.SOCK_STREAM), CREATE_RESOLVE_TIMEOUT
        )
    except (OSError, TimeoutError):
        return url
    if any(not is_public(str(info[4][0])) for info in infos):
        raise Invalid("url resolves to an address that is not public", field="url")
    return url


def check_before_send(url: str, *, production: bool) -> None:
    """Raise ``BlockedAddress`` when a stored URL may not be called now (the resolver checks
    names; this covers the scheme and literal addresses, which skip the resolver)."""
    if not production:
        return
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise BlockedAddress("https is required in production")
    host = (parts.hostname or "").rstrip(".")
    literal = _literal(host)
    if literal is None and (":" in host or host.replace(".", "").isdigit()):
        # aiohttp takes such a host for an address and skips the resolver, and the socket layer
        # reads legacy forms (2130706433, 127.1) as 127.0.0.1: refuse what is not a plain literal
        raise BlockedAddress("address not allowed")
    if literal is not None and not is_public(str(literal)):
        raise BlockedAddress("address not allowed")


class PublicResolver(AbstractResolver):
    """Resolves like the default resolver, refusing any name with a non-public address."""

    def __init__(self) -> None:
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not results or any(not is_public(str(r["host"])) for r in results):
            raise BlockedAddress("address not allowed")
        return results

    async def close(self) -> None:
        await self._inner.close()


def resolver(production: bool) -> AbstractResolver | None:
    """The resolver for the dispatcher's connector: ``None`` means aiohttp's default."""
    return PublicResolver() if production else None
