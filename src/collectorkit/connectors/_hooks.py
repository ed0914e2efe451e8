"""Named hooks: the little code a vendor needs that a definition file cannot say.

A hook takes the blueprint built from a source and a :class:`HookContext` (the connector's
options and the source's credentials) and returns the blueprint to use. A source lists its
hooks by name (``hooks: [xdr_advanced_key]``, usually from its connector); plug-ins add hooks
with ``HOOKS.register(name, hook)``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import ConfigError
from collectorkit._registry import Registry
from collectorkit.collect import CollectorBlueprint
from collectorkit.http import AuthHandler
from collectorkit.http._auth import AuthContext, _require_text
from collectorkit.http._models import Request
from collectorkit.http._redact import MASK, register_secret

__all__ = [  # noqa: RUF022 - plain sorted(), the order tests/test_exported_members.py checks
    "ConnectorHook",
    "HOOKS",
    "HookContext",
    "XDRAdvancedKeyAuthHandler",
    "apply_hooks",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class HookContext:
    """What a hook may read: the connector's ``options`` and the source's auth ``auth_type``
    and ``credentials`` (plain values: treat them as secrets)."""

    options: Mapping[str, Any] = field(default_factory=dict)
    auth_type: str = "none"
    credentials: Mapping[str, Any] = field(default_factory=dict)


ConnectorHook = Callable[[CollectorBlueprint, HookContext], CollectorBlueprint]


class XDRAdvancedKeyAuthHandler(AuthHandler):
    """Cortex XDR's advanced API key: every request carries a fresh 64-character nonce, the
    time in epoch milliseconds and ``Authorization: sha256(key + nonce + timestamp)`` (hex), with
    the key id in ``x-xdr-auth-id``. The key itself never leaves the process. The timestamp
    comes from the client's clock (seconds truncated, then ×1000, as Palo Alto's sample does)."""

    def __init__(self, key: str, key_id: str) -> None:
        self._key = _require_text(key, "XDRAdvancedKeyAuthHandler.key")
        self.key_id = _require_text(str(key_id), "XDRAdvancedKeyAuthHandler.key_id")
        self._clock: Clock = SystemClock()
        register_secret(self._key)

    def attach(self, context: AuthContext) -> None:
        self._clock = context.clock

    def on_request(self, request: Request) -> None:
        nonce = secrets.token_hex(32)
        stamp = str(int(self._clock.time()) * 1000)
        digest = hashlib.sha256(f"{self._key}{nonce}{stamp}".encode()).hexdigest()
        request.headers["x-xdr-auth-id"] = self.key_id
        request.headers["x-xdr-nonce"] = nonce
        request.headers["x-xdr-timestamp"] = stamp
        request.headers["Authorization"] = digest

    def on_auth_failure(self, response: Any) -> bool:
        return True  # a new nonce and timestamp, once (a clock step or a replayed nonce)

    def __repr__(self) -> str:
        return f"XDRAdvancedKeyAuthHandler(key={MASK!r}, key_id={self.key_id!r})"


def xdr_advanced_key(blueprint: CollectorBlueprint, context: HookContext) -> CollectorBlueprint:
    """``options.key_type: advanced`` signs each request with the API key (standard keys are
    sent as they are and need no code)."""
    if context.options.get("key_type", "standard") != "advanced":
        return blueprint
    key = context.credentials.get("key")
    if context.auth_type != "api_key" or not isinstance(key, str):
        raise ConfigError(
            "an advanced XDR key is given as auth {type: api_key, key: ...}", path="auth"
        )
    handler = XDRAdvancedKeyAuthHandler(key, str(context.options.get("key_id") or ""))
    return blueprint.replace(auth_handler=handler)


HOOKS: Registry[ConnectorHook] = Registry(
    "connector hook", {"xdr_advanced_key": xdr_advanced_key}, path="hooks"
)
"""Hook name → hook; a source's ``hooks`` are looked up here."""


def apply_hooks(
    blueprint: CollectorBlueprint, names: list[str] | tuple[str, ...], context: HookContext
) -> CollectorBlueprint:
    """``blueprint`` after each hook in ``names``, in order."""
    for index, name in enumerate(names):
        blueprint = HOOKS.lookup(name, path=f"hooks[{index}]")(blueprint, context)
    return blueprint
