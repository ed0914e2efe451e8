"""What every state store shares: name and value validation, JSON encoding, conflict errors.

URLs are shown through :func:`collectorkit._redact.redact_url` (re-exported here), the one
redactor: passwords, secret query values (``?password=``, ``?token=``) and registered secrets.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import orjson

from collectorkit._errors import ConfigError, StateConflictError, StateError
from collectorkit._redact import redact_url

__all__ = [
    "MAX_KEY_LENGTH",
    "check_if_version",
    "check_names",
    "check_put",
    "conflict_error",
    "decode_value",
    "encode_value",
    "redact_url",
]

MAX_KEY_LENGTH = 512
_NAMESPACE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_names(namespace: str, key: str | None = None) -> None:
    """Reject names that would not survive every back-end (and a URL path) unchanged.

    A namespace is 1-128 characters of ``[A-Za-z0-9_.:-]``; a key is 1-512 characters with no
    control characters (``/`` is allowed, shard keys use it).
    """
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise ConfigError(
            f"invalid namespace {namespace!r}: use 1-128 characters of A-Z a-z 0-9 _ . : -",
            path="namespace",
        )
    if key is None:
        return
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or _CONTROL.search(key):
        raise ConfigError(
            f"invalid key {key!r}: use 1-{MAX_KEY_LENGTH} characters without control characters",
            path="key",
        )


def check_if_version(if_version: int | None) -> None:
    if if_version is None:
        return
    if isinstance(if_version, bool) or not isinstance(if_version, int) or if_version < 0:
        raise ConfigError(f"must be None or an integer >= 0, got {if_version!r}", path="if_version")


def check_put(namespace: str, key: str, value: Mapping[str, Any], if_version: int | None) -> str:
    """Check the arguments of a ``put`` (names, ``if_version``, value) in the order every store
    reports them, and return the value as JSON text."""
    check_names(namespace, key)
    check_if_version(if_version)
    return encode_value(value)


def encode_value(value: Mapping[str, Any]) -> str:
    """The value as compact JSON text; a clear error when it is not a JSON object or holds NaN
    or an infinity (JSON has neither: they would be stored as ``null``)."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"must be a mapping, got {type(value).__name__}", path="value")
    where = _non_finite(value, "value")
    if where is not None:
        raise ConfigError("not a finite number (NaN and infinities cannot be stored)", path=where)
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError as exc:
        raise ConfigError(f"is not JSON-serialisable: {exc}", path="value") from None


def _non_finite(value: Any, path: str) -> str | None:
    """The path of the first NaN or infinity inside ``value``, if any."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, Mapping):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _non_finite(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}")
        if found is not None:
            return found
    return None


def decode_value(text: str | bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise StateError(f"stored state is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise StateError(f"stored state is not a JSON object: {type(value).__name__}")
    return value


def conflict_error(
    namespace: str, key: str, expected: int | None, actual: int | None
) -> StateConflictError:
    found = "no value" if not actual else f"version {actual}"
    wanted = "no value" if expected == 0 else f"version {expected}"
    return StateConflictError(
        f"state conflict on {namespace}/{key}: expected {wanted}, found {found} "
        "(another writer changed it; read it again and retry)"
    )
