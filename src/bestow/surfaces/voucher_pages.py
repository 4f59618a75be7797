"""The recipient's pages of a voucher: ``url`` (``/v/{voucher_code}``) and ``short_url``
(``/s/{short code}``, opened with the voucher's PIN).

Both are plain HTML, served to whoever holds the link: the voucher code (80 random bits), or the
short code (50 bits) together with the PIN, is the key. They are never cached or indexed and send
no referrer. What they show follows the Voucher API: for a product without status
(``is_status_available=false``) the page shows no status or balance, only what was issued.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from bestow.deps import ReadSessionDep, WriteSessionDep
from bestow.kit.db import utcnow
from bestow.kit.errors import NotFound
from bestow.models import Product, Voucher
from bestow.surfaces.common import ErrorInfo
from bestow.vouchers import links, lookup
from bestow.vouchers.errors import PinLocked
from bestow.vouchers.issuing import denomination
from bestow.vouchers.status import status_of

router = APIRouter(include_in_schema=False)

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}"
    "h1{font-size:1.4rem}.code{font:1.6rem monospace;letter-spacing:.15em}"
    "dt{color:#555;font-size:.85rem}dd{margin:0 0 .8rem}"
)


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def not_found() -> HTMLResponse:
    return page("Voucher not found", "<h1>Voucher not found</h1>", 404)


def render_error(info: ErrorInfo, exc: Exception) -> Response:
    """Errors on these paths are pages too (the surface's error renderer)."""
    if info.status == 404:
        return not_found()
    return page("Error", f"<h1>{escape(info.message)}</h1>", info.status)


def _amount(voucher: Voucher, cents: int) -> str:
    if voucher.is_value_based:
        return denomination(voucher.currency, cents)
    return f"{cents} item{'s' if cents != 1 else ''}"


async def _voucher_page(session: AsyncSession, voucher: Voucher) -> HTMLResponse:
    product = await session.get(Product, voucher.product_id)
    now = utcnow()
    rows = [("Value", _amount(voucher, voucher.face_value))]
    if voucher.is_status_available:
        rows.append(("Status", status_of(voucher, now)))
        rows.append(("Remaining", _amount(voucher, voucher.remaining_amount)))
    rows.append(("Valid until", voucher.expires_at.strftime("%d %b %Y, %H:%M UTC")))
    details = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    terms = product.terms if product is not None else ""
    body = (
        f"<h1>{escape(voucher.name)}</h1>"
        f'<p class="code">{escape(voucher.code)}</p>'
        f"<dl>{details}</dl>" + (f"<h2>Terms</h2><p>{escape(terms)}</p>" if terms else "")
    )
    return page(voucher.name, body)


@router.get("/v/{voucher_code}")
async def voucher_by_code(voucher_code: str, session: ReadSessionDep) -> HTMLResponse:
    try:
        voucher = await lookup.by_code(session, voucher_code)
    except NotFound:
        return not_found()
    return await _voucher_page(session, voucher)


def _pin_form(short_code: str, wrong: bool = False) -> HTMLResponse:
    notice = "<p><strong>That PIN is not right.</strong></p>" if wrong else ""
    body = (
        "<h1>Open your voucher</h1>"
        f"{notice}"
        f'<form method="post" action="/s/{escape(short_code)}">'
        '<label>PIN <input name="pin" inputmode="numeric" autocomplete="off" '
        'maxlength="6" required></label> <button>Open</button></form>'
    )
    return page("Open your voucher", body, 403 if wrong else 200)


@router.get("/s/{short_code}")
async def short_link(short_code: str, session: ReadSessionDep) -> HTMLResponse:
    """The PIN form, for a short code that exists."""
    if await links.by_short_code(session, short_code) is None:
        return not_found()
    return _pin_form(short_code)


@router.post("/s/{short_code}")
async def open_short_link(
    short_code: str, request: Request, session: WriteSessionDep
) -> HTMLResponse:
    """The voucher, for its PIN. Ten wrong PINs lock the link for 15 minutes (429).

    A wrong PIN and a locked link are answered with a page, not raised: the attempt they counted
    must commit with the request (``bestow.vouchers.links``)."""
    voucher = await links.by_short_code(session, short_code)
    if voucher is None:
        return not_found()
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    try:
        opened = await links.open_short_link(session, voucher, form.get("pin", "").strip())
    except PinLocked as locked:
        wait = max(1, int((locked.until - utcnow()).total_seconds()))
        response = page(
            "Too many attempts",
            "<h1>Too many wrong PINs</h1><p>Try again in a few minutes.</p>",
            429,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if not opened:
        return _pin_form(short_code, wrong=True)
    return await _voucher_page(session, voucher)
