"""Deterministic identifiers drawn from a seeded RNG (fast: one draw per id)."""

from __future__ import annotations

import base64
import random

__all__ = ["base32_id", "url_id", "uuid4"]


def uuid4(rng: random.Random) -> str:
    """A version-4-shaped UUID string."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"


def base32_id(rng: random.Random, length: int = 26) -> str:
    """Upper-case base32 (``A-Z2-7``), as 1Password's 26-character uuids."""
    raw = rng.getrandbits(length * 5 + 8).to_bytes((length * 5 + 15) // 8, "big")
    return base64.b32encode(raw).decode()[:length]


def url_id(rng: random.Random, length: int = 22) -> str:
    """URL-safe base64 characters (``A-Za-z0-9-_``), as GitHub's ``_document_id``."""
    raw = rng.getrandbits(length * 6 + 8).to_bytes((length * 6 + 15) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode()[:length]
