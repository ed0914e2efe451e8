"""Named hooks: the little code a vendor needs that a definition file cannot say.

A hook takes the blueprint built from a source and a :class:`HookContext` (the connector's
options and the source's credentials) and returns the blueprint to use. A source lists its
hooks by name (``hooks: [xdr_advanced_key]``, usually from its connector); plug-ins add hooks
with ``HOOKS.register(name, hook)``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import ConfigError
from collectorkit._registry import Registry
from collectorkit.collect import CollectorBlueprint
from collectorkit.http import AuthHandler
from collectorkit.http._auth import AuthContext, _require_text
from collectorkit.http._models import Request, Response
from collectorkit.http._redact import MASK, register_secret

__all__ = [  # noqa: RUF022 - plain sorted(), the order tests/test_exported_members.py checks
    "ConnectorHook",
    "CrowdStrikeEntitiesAuthHandler",
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


class CrowdStrikeEntitiesAuthHandler(AuthHandler):
    """CrowdStrike's two-step read as one page: the source's own auth (``inner``) sends the ids
    request (``GET …/queries/alerts/v2``); a 200 with ids is followed, with the same credentials,
    by ``POST entities_url`` ``{"composite_ids": […]}``, and the page the collector sees is
    the ids answer's ``meta`` (its pagination) with the entities as ``resources``.

    A failure of either step is the page's answer (retried, refreshed on 401, as any request),
    so a page is never half delivered. Ids the entities call does not return (an alert hidden
    or merged between the steps) are reported in its ``errors`` and left out, not fatal.
    """

    def __init__(self, inner: AuthHandler | None, entities_url: str) -> None:
        self.inner = inner if inner is not None else AuthHandler()
        self.entities_url = entities_url

    def attach(self, context: AuthContext) -> None:
        self.inner.attach(context)

    def detach(self, context: AuthContext) -> None:
        self.inner.detach(context)

    async def _through_inner(self, request: Request) -> AsyncGenerator[Request, Response]:
        flow = self.inner.auth_flow(request)
        try:
            response = yield await flow.__anext__()
            while True:
                try:
                    outgoing = await flow.asend(response)
                except StopAsyncIteration:
                    return
                response = yield outgoing
        finally:
            await flow.aclose()

    async def auth_flow(self, request: Request) -> AsyncGenerator[Request, Response]:
        ids_flow = self._through_inner(request)
        response = yield await ids_flow.__anext__()
        while True:
            try:
                outgoing = await ids_flow.asend(response)
            except StopAsyncIteration:
                break
            response = yield outgoing
        ids = _resources(response) if response.status_code == 200 else None
        if not ids:
            return  # an error, or an empty ids page: the answer as it is
        entities = Request(
            "POST",
            self.entities_url,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            content=orjson.dumps({"composite_ids": ids}),
        )
        entities_flow = self._through_inner(entities)
        answer = yield await entities_flow.__anext__()
        while True:
            try:
                outgoing = await entities_flow.asend(answer)
            except StopAsyncIteration:
                break
            answer = yield outgoing
        if answer.status_code == 200:
            page = orjson.loads(response.content)
            found = orjson.loads(answer.content)
            page["resources"] = found.get("resources") or []
            page["errors"] = found.get("errors") or []
            answer.content = orjson.dumps(page)  # one page: the ids' pagination, the entities

    def __repr__(self) -> str:
        return f"CrowdStrikeEntitiesAuthHandler({self.inner!r}, {self.entities_url!r})"


def _resources(response: Response) -> list[Any] | None:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    found = body.get("resources") if isinstance(body, dict) else None
    return found if isinstance(found, list) else None


def crowdstrike_entities(blueprint: CollectorBlueprint, context: HookContext) -> CollectorBlueprint:
    """``options.api: queries`` walks ids with offset paging and fetches their entities (the
    default, ``combined``, needs no code)."""
    if context.options.get("api", "combined") != "queries":
        return blueprint
    handler = blueprint.auth_handler
    if handler is not None and not isinstance(handler, AuthHandler):
        raise ConfigError("the entities hook needs an auth handler, not a spec", path="auth")
    url = blueprint.base_url.rstrip("/") + "/alerts/entities/alerts/v2"
    return blueprint.replace(auth_handler=CrowdStrikeEntitiesAuthHandler(handler, url))


HOOKS: Registry[ConnectorHook] = Registry(
    "connector hook",
    {"xdr_advanced_key": xdr_advanced_key, "crowdstrike_entities": crowdstrike_entities},
    path="hooks",
)
"""Hook name → hook; a source's ``hooks`` are looked up here."""


def apply_hooks(
    blueprint: CollectorBlueprint, names: list[str] | tuple[str, ...], context: HookContext
) -> CollectorBlueprint:
    """``blueprint`` after each hook in ``names``, in order."""
    for index, name in enumerate(names):
        blueprint = HOOKS.lookup(name, path=f"hooks[{index}]")(blueprint, context)
    return blueprint
