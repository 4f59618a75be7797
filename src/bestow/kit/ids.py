"""Public identifiers: a short type prefix and a time-ordered random part (ULID, lowercase).

Time order keeps B-tree inserts local and makes the id a stable cursor for pagination.
"""

from __future__ import annotations

import base64
import os
import time
import uuid

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_FROM_BASE32 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET.encode())
_prefix: tuple[int, str] = (-1, "")


def base32(data: bytes) -> str:
    """``data`` (a multiple of 5 bytes) in the alphabet above, most significant digit first."""
    return base64.b32encode(data).translate(_FROM_BASE32).decode()


def _ulid() -> str:
    """26 digits: 48 bits of milliseconds (10 digits, the first two bits zero), then 80 random
    bits (16 digits). The time digits change once a millisecond, so they are kept."""
    global _prefix
    ms = time.time_ns() // 1_000_000
    if _prefix[0] != ms:
        _prefix = (ms, base32(ms.to_bytes(10, "big"))[-10:])
    return _prefix[1] + base32(os.urandom(10))


def new_id(prefix: str) -> str:
    return f"{prefix}_{_ulid()}"


def new_uuid7() -> str:
    """A version 7 UUID (RFC 9562): 48 bits of milliseconds, then 74 random bits, so that ids
    made later sort later and index inserts stay local."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) & ~(0x3 << 62) | (0x7 << 76) | (0x2 << 62)
    digits = f"{value:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def new_guid() -> str:
    return str(uuid.uuid4())
