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
from urllib.parse import unquote_plus

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
    """``text`` with every registered secret value masked.

    Masking repeats until no secret is left: a secret that contains ``***`` could otherwise be
    put together again by the mask and the text around it.
    """
    if not _secrets:
        return text
    present = [s for s in _secrets if s in text]
    while present:
        # longest first, so a secret that contains another is masked whole
        for secret in sorted(present, key=len, reverse=True):
            text = text.replace(secret, MASK)
        present = [s for s in _secrets if s in text]  # each pass shrinks text: this ends
    return text


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# a URL inside free text: a scheme, "://", then everything up to whitespace or a delimiter
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s<>\"]*")


def _mask_params(params: str) -> str:
    """``a=1&token=x`` with the values of sensitive names masked, every other byte kept."""
    if "=" not in params:
        return params
    pairs = params.split("&")
    for i, pair in enumerate(pairs):
        name, eq, value = pair.partition("=")
        if eq and value and is_sensitive_name(unquote_plus(name)):
            pairs[i] = f"{name}={MASK}"
    return "&".join(pairs)


def _mask_url(url: str) -> str:
    """The userinfo password and sensitive query (and fragment) values of ``url`` masked; the
    rest is left byte for byte, so ``sqlite:///x.db`` or an unusual query stays as written."""
    head, tail = "", url
    scheme = _SCHEME.match(url)
    start = scheme.end() if scheme else 0
    if url.startswith("//", start):
        start += 2
        end = len(url)
        for delimiter in "/?#":
            found = url.find(delimiter, start)
            if found != -1 and found < end:
                end = found
        authority = url[start:end]
        userinfo, at, host = authority.rpartition("@")
        user, colon, password = userinfo.partition(":")
        if at and colon and password:
            authority = f"{user}:{MASK}@{host}"
        head, tail = url[:start] + authority, url[end:]
    tail, hash_, fragment = tail.partition("#")
    path, question, query = tail.partition("?")
    return f"{head}{path}{question}{_mask_params(query)}{hash_}{_mask_params(fragment)}"


def redact_url(url: str) -> str:
    """``url`` with the password, sensitive query values and any registered secret masked;
    everything else is returned unchanged."""
    return redact_text(_mask_url(url))


def redact(value: Any, *, name: str | None = None) -> Any:
    """A copy of ``value`` safe to log: mappings, sequences and strings are walked recursively.

    ``name`` is the field the value sits under; a sensitive name masks the whole value. URLs
    inside strings have their passwords and query parameters checked by name too; the rest of
    the text is kept as it was.
    """
    if name is not None and is_sensitive_name(name) and value is not None:
        return MASK
    if isinstance(value, str):
        if "://" in value:
            value = _URL_IN_TEXT.sub(lambda match: _mask_url(match.group()), value)
        return redact_text(value)
    if isinstance(value, Mapping):
        return {redact_text(str(k)): redact(v, name=str(k)) for k, v in value.items()}
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
