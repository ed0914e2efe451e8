"""Masking of sensitive fields before records reach storage."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from collectorkit._errors import ConfigError
from collectorkit._records import Record
from collectorkit.pipeline._base import BaseProcessor
from collectorkit.pipeline._paths import MISSING, get_path, set_path

__all__ = ["DEFAULT_SENSITIVE_NAMES", "MaskProcessor"]

DEFAULT_SENSITIVE_NAMES = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "private_key",
    "ssn",
    "credit_card",
)
_MODES = ("redact", "hash", "partial")


class MaskProcessor(BaseProcessor):
    """Masks ``fields`` (dotted paths) and every key, at any depth, whose name contains one of
    ``names`` (case-insensitive; defaults to :data:`DEFAULT_SENSITIVE_NAMES`, ``()`` for none).

    ``mode``: ``"redact"`` replaces the value with ``replacement``; ``"hash"`` with
    ``sha256:<hex16>`` of the value (records stay joinable without the secret);
    ``"partial"`` keeps the last ``keep_last`` characters.
    """

    def __init__(
        self,
        fields: Sequence[str] = (),
        *,
        names: Sequence[str] = DEFAULT_SENSITIVE_NAMES,
        mode: str = "redact",
        replacement: str = "***",
        keep_last: int = 4,
        name: str = "mask",
    ) -> None:
        if mode not in _MODES:
            raise ConfigError(f"expected one of {', '.join(_MODES)}; got {mode!r}", path="mode")
        self.name = name
        self.fields = tuple([fields] if isinstance(fields, str) else fields)
        self.names = tuple(n.lower() for n in names)
        self.mode = mode
        self.replacement = replacement
        self.keep_last = keep_last

    def mask(self, value: Any) -> Any:
        """The masked form of one value."""
        if value is None:
            return None
        text = value if isinstance(value, str) else str(value)
        if self.mode == "hash":
            return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]
        if self.mode == "partial" and len(text) > self.keep_last > 0:
            return "*" * (len(text) - self.keep_last) + text[-self.keep_last :]
        return self.replacement

    def _sensitive(self, key: str) -> bool:
        lowered = key.lower()
        return any(n in lowered for n in self.names)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: self.mask(v)
                if isinstance(k, str) and self._sensitive(k) and not isinstance(v, dict | list)
                else self._walk(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._walk(v) for v in value]
        return value

    def __call__(self, record: Record) -> Record | None:
        out: Record = self._walk(record) if self.names else record
        for path in self.fields:
            value = get_path(out, path)
            if value is not MISSING:
                out = set_path(out, path, self.mask(value))
        return out
