"""Redaction of secrets: the one secret-name rule, the registry of secret values, URL masking.

Two rules, applied wherever a value could leave the process (logs, error messages, reprs, the
configuration loader's errors and dumps):

* a header, query parameter, body field or setting whose *name* is a secret name
  (:func:`is_secret_name`: contains ``token``, ``secret``, ``key``, ``password``,
  ``authorization``, ``cookie``, ``session``, ``signature``, ``jwt`` ...) has its value masked;
* the literal secret *values* that auth handlers and the configuration hold (API keys, passwords,
  client secrets, access tokens fetched at run time) are masked wherever they appear, whatever
  the name around them. Their owners call :func:`register_secret` for each; values shorter than
  4 characters are not registered, since masking them would garble unrelated text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

__all__ = [
    "MASK",
    "is_secret_name",
    "redact",
    "redact_body",
    "redact_text",
    "redact_url",
    "register_secret",
    "url_secrets",
]

MASK = "***"

_SECRET_WORDS = re.compile(
    r"token|secret|key|passw|pwd|authori[sz]ation|cookie|credential|signature|session|bearer|jwt",
    re.IGNORECASE,
)
# names that mention a key or token but hold none: key_fields, key_id, token_url, api_key_header ...
_NOT_SECRET_SUFFIXES = ("_fields", "_field", "_header", "_url", "_param", "_path", "_id", "_method")
# ... except these, which are credentials whatever their suffix says
_SECRET_DESPITE_SUFFIX = ("session_id",)
# a key that names or locates data rather than opening anything: state_key, partitionKey ...
_IDENTIFIER_KEY = re.compile(
    r"(?:^|[^a-z0-9])(?:state|partition|sort|primary|foreign|dedup|idempotency|routing|cache"
    r"|record|group|lookup|shard|message|object|row|index|hash|unique|composite)[_.\-\s]?keys?$"
)
_MIN_SECRET_LEN = 4
_MAX_SECRETS = 4096
# insertion-ordered "set" so the oldest runtime tokens are forgotten first when it fills up
_secrets: dict[str, None] = {}


def is_secret_name(name: object) -> bool:
    """Whether a header, parameter, field or setting called ``name`` holds a secret.

    ``key``, ``api_key``, ``private_key``, ``X-Auth-Token``, ``session_id``, ``signature`` and
    ``jwt`` do; ``key_fields``, ``token_url`` and ``key_id`` (names of settings *about* a
    credential) do not, nor do keys that identify data (``state_key``, ``partition_key``,
    ``routingKey`` ...) unless another part of the name is a secret word.
    """
    if not isinstance(name, str) or _SECRET_WORDS.search(name) is None:
        return False
    lowered = name.lower()
    identifier = _IDENTIFIER_KEY.search(lowered)
    if identifier is not None and _SECRET_WORDS.search(lowered[: identifier.start()]) is None:
        return False
    return lowered.endswith(_SECRET_DESPITE_SUFFIX) or not lowered.endswith(_NOT_SECRET_SUFFIXES)


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever it appears in logs, error messages and reprs from now on — as
    written and in the forms it takes on its way out: URL-encoded (``+/=`` in a query string
    become ``%2B%2F%3D``), form-encoded, and escaped in a ``repr`` or a JSON string."""
    if not value or len(value) < _MIN_SECRET_LEN or value in _secrets:
        return
    for form in dict.fromkeys((value, *_encoded_forms(value))):
        if len(form) >= _MIN_SECRET_LEN and form not in _secrets:
            if len(_secrets) >= _MAX_SECRETS:
                del _secrets[next(iter(_secrets))]
            _secrets[form] = None


_LOWER_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def _encoded_forms(value: str) -> tuple[str, ...]:
    """``value`` as URL, form, ``repr`` and JSON encoding write it (the same when it has no
    character those escape)."""
    if value.isascii() and value.isalnum():
        return ()
    return (
        quote(value, safe=""),
        quote(value, safe="/"),
        quote_plus(value, safe=""),
        _LOWER_ESCAPE.sub(lambda m: m.group().lower(), quote(value, safe="")),  # %2b, not %2B
        repr(value)[1:-1],
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    )


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
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s<>\"']*")


def _mask_params(params: str) -> str:
    """``a=1&token=x`` with the values of secret names masked, every other byte kept."""
    if "=" not in params:
        return params
    pairs = params.split("&")
    for i, pair in enumerate(pairs):
        name, eq, value = pair.partition("=")
        if eq and value and is_secret_name(unquote_plus(name)):
            pairs[i] = f"{name}={MASK}"
    return "&".join(pairs)


def redact_body(body: Any, limit: int, *, pretty: bool = False) -> str:
    """A response body (parsed JSON, or text) as at most ``limit`` characters safe to show:
    values under secret names masked wherever they sit (``{"client_secret": …}``, a form
    ``client_secret=…``), URL secrets and registered secrets masked — before it is cut, so a
    cut never leaves half a secret."""
    if isinstance(body, str):
        text = body
        if "=" in text and not any(c.isspace() for c in text):  # a form-encoded body
            text = _mask_params(text)
        text = str(redact(text))
    else:
        import orjson

        option = orjson.OPT_INDENT_2 if pretty else 0
        text = orjson.dumps(redact(body), default=str, option=option).decode()
    return text[:limit]


# one ``keyword = value`` of a libpq connection string (``host=db password='a b'``): a value
# is a single-quoted string with backslash escapes, or runs to the next whitespace
_CONNINFO_PAIR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']+)")


def _mask_conninfo(text: str) -> str:
    """``text`` with the values of secret keywords masked (``password=...``, as in a libpq
    connection string); every other byte kept."""
    if "=" not in text:
        return text
    return _CONNINFO_PAIR.sub(
        lambda m: m.group(1) + m.group(2) + MASK if is_secret_name(m.group(1)) else m.group(0),
        text,
    )


def _conninfo_secrets(text: str) -> list[str]:
    """The values of secret keywords in a libpq connection string, as written and unquoted."""
    found: list[str] = []
    for key, _, value in _CONNINFO_PAIR.findall(text):
        if is_secret_name(key) and value:
            found.append(value)
            if value.startswith("'"):
                found.append(re.sub(r"\\(.)", r"\1", value[1:-1]))
    return found


def _mask_url(url: str) -> str:
    """The userinfo password and secret query (and fragment) values of ``url`` masked; the
    rest is left byte for byte, so ``sqlite:///x.db`` or an unusual query stays as written. A
    libpq connection string (``host=db password=…``, no scheme) has its secret values masked."""
    if "://" not in url and "=" in url:
        return _mask_conninfo(url)
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


def url_secrets(url: str) -> list[str]:
    """The secret values written in ``url``: its password and the values of secret query and
    fragment parameters (as written and decoded) — what :func:`redact_url` masks by name."""
    masked = _mask_url(url)
    if masked == url:
        return []
    if "://" not in url:  # a libpq connection string
        return list(dict.fromkeys(v for v in _conninfo_secrets(url) if v))
    found: list[str] = []
    authority = url.split("://", 1)[1].split("/", 1)[0] if "://" in url else ""
    userinfo, at, _ = authority.rpartition("@")
    if at and ":" in userinfo:
        found.append(userinfo.partition(":")[2])
    for params in (url.partition("#")[0].partition("?")[2], url.partition("#")[2]):
        for pair in params.split("&"):
            name, eq, value = pair.partition("=")
            if eq and value and is_secret_name(unquote_plus(name)):
                found.append(value)
    # as written, and decoded (as a driver would use and maybe echo it)
    return list(dict.fromkeys(v for f in found for v in (f, unquote_plus(f)) if v))


def redact_url(url: str) -> str:
    """``url`` with the password, secret query values and any registered secret masked;
    everything else is returned unchanged."""
    return redact_text(_mask_url(url))


def _mask_text(text: str) -> str:
    """The URLs in ``text`` masked as URLs, the rest as ``keyword=value`` pairs (a libpq
    connection string, ``password=…`` in a message)."""
    parts: list[str] = []
    done = 0
    for match in _URL_IN_TEXT.finditer(text):
        parts += (_mask_conninfo(text[done : match.start()]), _mask_url(match.group()))
        done = match.end()
    parts.append(_mask_conninfo(text[done:]))
    return "".join(parts)


def redact(value: Any, *, name: str | None = None) -> Any:
    """A copy of ``value`` safe to log: mappings, sequences and strings are walked recursively.

    ``name`` is the field the value sits under; a secret name masks the whole value. URLs
    inside strings have their passwords and query parameters checked by name too; the rest of
    the text is kept as it was.
    """
    if name is not None and is_secret_name(name) and value is not None:
        return MASK
    if isinstance(value, str):
        if "://" in value or "=" in value:
            value = _mask_text(value)
        return redact_text(value)
    if isinstance(value, Mapping):
        return {redact_text(str(k)): redact(v, name=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    if value is None or isinstance(value, int | float | bool):
        return value
    return redact(repr(value))
