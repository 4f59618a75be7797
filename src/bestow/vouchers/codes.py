"""Voucher codes, short codes and PINs: random, unguessable, easy to read out and type.

Codes use Crockford's base 32 (no I, L, O or U), so a code read aloud or typed by hand survives
the usual confusions: ``normalise_code`` maps ``O`` to ``0`` and ``I``/``L`` to ``1`` and drops
spaces and hyphens. A voucher code has 16 characters, 80 random bits: among a hundred million
vouchers, the chance that two ever collide is about 4 in a billion, and the unique index refuses
the one that would (its issuance fails and is retried, never issued twice). Guessing a live code
takes around 10**16 tries per voucher in circulation.
"""

from __future__ import annotations

import secrets

from bestow.kit.ids import base32

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
SHORT_CODE_LENGTH = 10
PIN_LENGTH = 6
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


def _random(length: int) -> str:
    """``length`` random digits (5 bits each) of ``ALPHABET``."""
    return base32(secrets.token_bytes(-(-length * 5 // 40) * 5))[:length].upper()


def voucher_code() -> str:
    return _random(CODE_LENGTH)


def short_code() -> str:
    """The path of a short link: 50 bits, shown only with its PIN."""
    return _random(SHORT_CODE_LENGTH).lower()


def pin() -> str:
    return f"{secrets.randbelow(10**PIN_LENGTH):0{PIN_LENGTH}d}"


def normalise_code(text: str) -> str:
    """A code as typed (any case, with spaces or hyphens) in its stored form."""
    return text.upper().translate(_READ_AS)
