"""Redaction of secrets, and the redacting structured logger every layer uses.

Two rules, applied wherever a value could leave the process (logs, error messages, reprs):

* a header, query parameter or body field whose *name* looks sensitive (contains ``token``,
  ``secret``, ``key``, ``password``, ``authorization``, ``cookie``, ...) has its value masked;
* the literal secret *values* that auth handlers hold (API keys, passwords, client secrets, access
  tokens fetched at run time) are masked wherever they appear, whatever the name around them.
  Auth handlers call :func:`register_secret` for each; values shorter than 4 characters are not
  registered, since masking them would garble unrelated text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import structlog

__all__ = [
    "CollectorLogger",
    "get_logger",
    "is_sensitive_name",
    "redact",
    "redact_text",
    "redact_url",
    "register_secret",
]

MASK = "***"

_SENSITIVE = re.compile(
    r"token|secret|key|passw|pwd|authori[sz]ation|cookie|credential|signature|session|bearer|jwt",
    re.IGNORECASE,
)
_MIN_SECRET_LEN = 4
_MAX_SECRETS = 4096
# insertion-ordered "set" so the oldest runtime tokens are forgotten first when it fills up
_secrets: dict[str, None] = {}


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever it appears in logs, error messages and reprs from now on."""
    if not value or len(value) < _MIN_SECRET_LEN or value in _secrets:
        return
    if len(_secrets) >= _MAX_SECRETS:
        del _secrets[next(iter(_secrets))]
    _secrets[value] = None


def is_sensitive_name(name: str) -> bool:
    """Whether a header, parameter or field called ``name`` holds a secret."""
    return _SENSITIVE.search(name) is not None


def redact_text(text: str) -> str:
    """``text`` with every registered secret value masked."""
    if not _secrets:
        return text
    # longest first, so a secret that contains another is masked whole
    for secret in sorted((s for s in _secrets if s in text), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def redact_url(url: str) -> str:
    """``url`` with the password, sensitive query values and any registered secret masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if is_sensitive_name(k) else v) for k, v in pairs], safe="*")
    return redact_text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


def redact(value: Any, *, name: str | None = None) -> Any:
    """A copy of ``value`` safe to log: mappings, sequences and strings are walked recursively.

    ``name`` is the field the value sits under; a sensitive name masks the whole value. Strings
    that look like URLs have their query parameters checked by name too.
    """
    if name is not None and is_sensitive_name(name) and value is not None:
        return MASK
    if isinstance(value, str):
        return redact_url(value) if "://" in value else redact_text(value)
    if isinstance(value, Mapping):
        return {str(k): redact(v, name=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    if value is None or isinstance(value, int | float | bool):
        return value
    return redact_text(repr(value))


class CollectorLogger:
    """A structlog logger that redacts every event before it reaches any processor.

    Redaction happens here, at the call, so it holds whatever structlog configuration the
    application uses (including ``structlog.testing.capture_logs``). ``debug`` is a no-op unless
    the logger is in diagnostic mode.
    """

    __slots__ = ("_context", "_logger", "diagnostic", "name")

    def __init__(self, name: str, *, diagnostic: bool = False, **context: Any) -> None:
        self.name = name
        self.diagnostic = diagnostic
        self._context = context
        self._logger = structlog.get_logger(name)

    def bind(self, **context: Any) -> CollectorLogger:
        return CollectorLogger(self.name, diagnostic=self.diagnostic, **self._context, **context)

    def with_diagnostic(self, diagnostic: bool) -> CollectorLogger:
        return CollectorLogger(self.name, diagnostic=diagnostic, **self._context)

    def _emit(self, level: str, event: str, fields: dict[str, Any]) -> None:
        safe = {k: redact(v, name=k) for k, v in {**self._context, **fields}.items()}
        getattr(self._logger, level)(redact_text(event), logger=self.name, **safe)

    def debug(self, event: str, **fields: Any) -> None:
        if self.diagnostic:
            self._emit("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit("error", event, fields)


def get_logger(name: str, *, diagnostic: bool = False, **context: Any) -> CollectorLogger:
    """The redacting logger for ``name``; ``diagnostic=True`` lets ``debug`` through."""
    return CollectorLogger(name, diagnostic=diagnostic, **context)
