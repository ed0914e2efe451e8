"""The pieces of a syslog message: RFC 5424 priority, header fields and structured-data escaping,
and the CEF (ArcSight Common Event Format) line a ``format: cef`` syslog sink sends."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from collectorkit._errors import ConfigError
from collectorkit._records import Envelope, lookup_path
from collectorkit.sinks._base import dump_json

__all__ = ["CEFFormat", "check_printable", "escape_sd", "priority"]

FACILITIES = {
    **dict.fromkeys(("kern", "kernel"), 0),
    "user": 1,
    "mail": 2,
    "daemon": 3,
    "auth": 4,
    "syslog": 5,
    "lpr": 6,
    "news": 7,
    "uucp": 8,
    "cron": 9,
    "authpriv": 10,
    "ftp": 11,
    "ntp": 12,
    **dict.fromkeys(("security", "audit"), 13),
    **dict.fromkeys(("console", "alert"), 14),
    "clock": 15,
    **{f"local{i}": 16 + i for i in range(8)},
}
SEVERITIES = {
    **dict.fromkeys(("emerg", "emergency", "panic"), 0),
    "alert": 1,
    **dict.fromkeys(("crit", "critical"), 2),
    **dict.fromkeys(("err", "error"), 3),
    **dict.fromkeys(("warning", "warn"), 4),
    "notice": 5,
    **dict.fromkeys(("info", "informational"), 6),
    "debug": 7,
}
CEF_HEADER_FIELDS = ("signature_id", "name", "severity")
"""``cef_fields`` keys that fill the CEF header; every other key is an extension field."""

_CEF_SEVERITY_WORDS = {
    "unknown": "Unknown",
    "info": "1",
    "informational": "1",
    "low": "3",
    "medium": "5",
    "moderate": "5",
    "high": "8",
    "critical": "10",
    "very-high": "10",
}
_EXTENSION_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _level(value: str | int, names: Mapping[str, int], top: int, field: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= top:
        return value
    if isinstance(value, str) and value.lower() in names:
        return names[value.lower()]
    raise ConfigError(
        f"expected 0-{top} or one of {', '.join(sorted(names))}; got {value!r}", path=field
    )


def priority(facility: str | int, severity: str | int) -> int:
    """RFC 5424 PRI: facility × 8 + severity, from names (``local0``, ``info``) or numbers."""
    return _level(facility, FACILITIES, 23, "facility") * 8 + _level(
        severity, SEVERITIES, 7, "severity"
    )


def check_printable(value: str, limit: int, field: str | None) -> str:
    """A header field (HOSTNAME, APP-NAME, PROCID, MSGID, SD-ID): printable US-ASCII without
    spaces, at most ``limit`` characters. With ``field``, a bad value is a config error;
    without (a value from a record), other characters become ``_``."""
    clean = "".join(c if 33 <= ord(c) <= 126 else "_" for c in value)[:limit] or "-"
    if field is not None and (clean != value or not value):
        raise ConfigError(
            f"expected 1-{limit} printable ASCII characters without spaces, got {value!r}",
            path=field,
        )
    if field == "sd_id" and any(c in value for c in '=]"'):
        raise ConfigError(f"an SD-ID cannot hold '=', ']' or '\"', got {value!r}", path=field)
    return clean


def escape_sd(value: str) -> str:
    """An SD-PARAM value: ``"``, ``\\`` and ``]`` escaped with a backslash (RFC 5424 §6.3.3)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list):
        return dump_json(value).decode()
    return str(value)


def _header(value: str) -> str:
    one_line = value.replace("\r", " ").replace("\n", " ")
    return one_line.replace("\\", "\\\\").replace("|", "\\|")


def _extension(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("=", "\\=")
    return escaped.replace("\r", "\\r").replace("\n", "\\n")


def _cef_severity(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "Unknown"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return _CEF_SEVERITY_WORDS.get(str(value).strip().lower(), "Unknown")
    return str(min(10, max(0, round(number))))


@dataclass(frozen=True, slots=True)
class CEFFormat:
    """``CEF:0|vendor|product|version|signature id|name|severity|extensions`` for a record.

    ``fields`` maps CEF keys to dotted record paths; ``signature_id`` and ``name`` default to the
    record's source name, ``severity`` to ``Unknown``; ``externalId`` is the record key unless
    mapped. Header values escape ``|`` and ``\\``; extension values ``=``, ``\\`` and newlines.
    """

    vendor: str
    product: str
    version: str
    fields: dict[str, str]

    def __post_init__(self) -> None:
        for key, path in self.fields.items():
            if key not in CEF_HEADER_FIELDS and not _EXTENSION_KEY.match(key):
                raise ConfigError(
                    f"a CEF extension key is letters, digits and '_', got {key!r}",
                    path=f"cef_fields.{key}",
                )
            if not isinstance(path, str) or not path:
                raise ConfigError(f"expected a record path, got {path!r}", path=f"cef_fields.{key}")

    def _value(self, record: Mapping[str, Any], key: str) -> Any:
        path = self.fields.get(key)
        return None if path is None else lookup_path(record, path)

    def line(self, envelope: Envelope) -> str:
        record = envelope.data
        signature = self._value(record, "signature_id")
        name = self._value(record, "name")
        head = [
            "CEF:0",
            _header(self.vendor),
            _header(self.product),
            _header(self.version),
            _header(envelope.source if signature is None else _text(signature)),
            _header(envelope.source if name is None else _text(name)),
            _cef_severity(self._value(record, "severity")),
        ]
        extensions = {"externalId": envelope.key}
        for key in self.fields:
            if key not in CEF_HEADER_FIELDS:
                value = self._value(record, key)
                if value is not None:
                    extensions[key] = _text(value)
        tail = " ".join(f"{k}={_extension(v)}" for k, v in extensions.items())
        return "|".join(head) + "|" + tail
