"""Public identifiers: a short type prefix and a time-ordered random part (ULID, lowercase).

Time order keeps B-tree inserts local and makes the id a stable cursor for pagination.
"""

from __future__ import annotations

import os
import time
import uuid

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _ulid() -> str:
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    return f"{prefix}_{_ulid()}"


def new_guid() -> str:
    return str(uuid.uuid4())
