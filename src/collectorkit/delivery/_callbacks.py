"""Callbacks on new alerts (seed 002's ``handle_new_alerts``).

Three kinds, all called with the source name and the list of records seen for the first time
(and, by the outbox, ``idempotency_keys``: one per alert, the same on every retry), after the
sinks have stored them:

- :class:`PythonCallback` — a callable named ``pkg.module:function`` (or an entry point in the
  ``collectorkit.callbacks`` group); it may be sync (run in a thread) or async;
- :class:`CommandCallback` — a shell command that receives ``{"source": …, "alerts": […]}`` as
  JSON on stdin;
- :class:`WebhookCallback` — an HTTP POST of the same JSON document.

A failing callback is logged and counted; it never stops collection or rolls back delivery
(the records are already stored). The daemon calls them through the durable outbox of
``_outbox``: at least once, retried with backoff.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from collectorkit._errors import ConfigError, HTTPError, HTTPStatusError
from collectorkit._lifecycle import AsyncResource
from collectorkit.http import APIClient, AuthHandler, ClientMetrics, RetryPolicy, Transport

__all__ = [
    "AlertCallback",
    "CallbackError",
    "CommandCallback",
    "PythonCallback",
    "WebhookCallback",
    "callback_from_spec",
    "load_callable",
]


ENTRY_POINT_GROUP = ".".join(("collectorkit", "callbacks"))
"""Entry points named by a bare callback spec (``on_new_alert: my_hook``)."""


class CallbackError(Exception):
    """A callback failed; the message says which and why (no secrets)."""


class AlertCallback(Protocol):
    """Called with the new records of a delivered page."""

    @property
    def label(self) -> str: ...

    async def __call__(self, source: str, alerts: Sequence[Mapping[str, Any]]) -> None: ...


def _payload(
    source: str, alerts: Sequence[Mapping[str, Any]], keys: Sequence[str] | None = None
) -> bytes:
    document: dict[str, Any] = {"source": source, "alerts": list(alerts)}
    if keys is not None:
        document["idempotency_keys"] = list(keys)
    return orjson.dumps(document, default=str)


def load_callable(target: str, *, path: str = "callback") -> Callable[..., Any]:
    """Import ``pkg.module:function`` (dotted attribute after the colon allowed), or load the
    entry point named ``target`` from the ``collectorkit.callbacks`` group."""
    if ":" not in target:
        from importlib.metadata import entry_points

        found = entry_points(group=ENTRY_POINT_GROUP, name=target)
        if not found:
            raise ConfigError(
                f"{target!r} is neither 'package.module:function' nor an entry point in the "
                "'collectorkit.callbacks' group",
                path=path,
            )
        loaded: Any = next(iter(found)).load()
        return _require_callable(loaded, target, path)
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import module {module_name!r}: {exc}", path=path) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"module {module_name!r} has no attribute {attr!r}", path=path)
        obj = getattr(obj, part)
    return _require_callable(obj, target, path)


def _require_callable(obj: Any, target: str, path: str) -> Callable[..., Any]:
    if not callable(obj):
        raise ConfigError(f"{target!r} is not callable", path=path)
    return obj  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class PythonCallback:
    """Calls ``func(alerts)`` — or ``func(alerts, source=…)`` when it accepts ``source``."""

    func: Callable[..., Any]
    label: str = "python"

    async def __call__(
        self,
        source: str,
        alerts: Sequence[Mapping[str, Any]],
        *,
        idempotency_keys: Sequence[str] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {"source": source} if _accepts_source(self.func) else {}
        if idempotency_keys is not None and _accepts(self.func, "idempotency_keys"):
            kwargs["idempotency_keys"] = list(idempotency_keys)
        if inspect.iscoroutinefunction(self.func):
            await self.func(list(alerts), **kwargs)
            return
        result = await asyncio.to_thread(self.func, list(alerts), **kwargs)
        if inspect.isawaitable(result):
            await result


def _accepts_source(func: Callable[..., Any]) -> bool:
    return _accepts(func, "source")


def _accepts(func: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


@dataclass(frozen=True, slots=True)
class CommandCallback:
    """Runs ``command`` through the shell with the JSON document on stdin."""

    command: str
    timeout: float = 30.0
    label: str = "command"

    async def __call__(
        self,
        source: str,
        alerts: Sequence[Mapping[str, Any]],
        *,
        idempotency_keys: Sequence[str] | None = None,
    ) -> None:
        proc = await asyncio.create_subprocess_shell(
            self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, stderr = await asyncio.wait_for(
                proc.communicate(_payload(source, alerts, idempotency_keys)),
                timeout=self.timeout,
            )
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise CallbackError(f"command timed out after {self.timeout:g}s") from None
        if proc.returncode != 0:
            tail = stderr.decode(errors="replace").strip()[-300:]
            raise CallbackError(f"command exited with status {proc.returncode}: {tail}")


@dataclass(slots=True)
class WebhookCallback(AsyncResource):
    """POSTs the JSON document to ``url`` through one :class:`~collectorkit.APIClient` (``retry``
    policy, ``auth`` handler, cross-origin rule, redacted errors, one connection pool for every
    call; :meth:`aclose` closes it); any 2xx is success. ``metrics`` counts every POST. With
    ``idempotency_keys``, one alert's key is also sent as the ``Idempotency-Key`` header."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 10.0
    label: str = "webhook"
    auth: AuthHandler | None = field(default=None, repr=False)
    retry: RetryPolicy | None = None
    transport: Transport | None = field(default=None, repr=False, compare=False)
    metrics: ClientMetrics = field(default_factory=ClientMetrics, repr=False, compare=False)
    _client: tuple[asyncio.AbstractEventLoop, APIClient] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def _api(self) -> APIClient:
        """The client of this event loop (a pool belongs to the loop that opened it)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client[0] is not loop:
            client = APIClient(
                base_url=self.url,
                auth=self.auth,
                retry=self.retry,
                timeout=self.timeout,
                headers={"Content-Type": "application/json", **self.headers},
                transport=self.transport,
                name=f"callback {self.label}",
            )
            client.metrics = self.metrics
            self._client = (loop, client)
        return self._client[1]

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client[1], None
            await client.aclose()

    async def __call__(
        self,
        source: str,
        alerts: Sequence[Mapping[str, Any]],
        *,
        idempotency_keys: Sequence[str] | None = None,
    ) -> None:
        headers = (
            {"Idempotency-Key": idempotency_keys[0]}
            if idempotency_keys is not None and len(idempotency_keys) == 1
            else None
        )
        body = _payload(source, alerts, idempotency_keys)
        try:
            response = await self._api().post("", data=body, headers=headers)
        except HTTPStatusError as exc:  # redacted by the client
            raise CallbackError(f"webhook answered HTTP {exc.status_code}: {exc}") from None
        except HTTPError as exc:
            raise CallbackError(f"webhook POST failed: {exc}") from None
        if not 200 <= response.status_code < 300:
            raise CallbackError(f"webhook answered HTTP {response.status_code}")


def callback_from_spec(spec: Any, *, path: str = "callbacks[0]") -> AlertCallback:
    """Build a callback from config: ``{python: "pkg.mod:func"}``, ``{command: "…"}``,
    ``{webhook: "https://…"}`` (or ``{webhook: {url, headers, timeout}}``), a bare
    ``"pkg.mod:func"`` string, or a ready callable."""
    if isinstance(spec, str):
        return PythonCallback(load_callable(spec, path=path), label=spec)
    if callable(spec):
        return PythonCallback(spec, label=getattr(spec, "__name__", "python"))
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ConfigError(
            "a callback is one of {python: ...}, {command: ...}, {webhook: ...}; "
            f"got {spec!r}",
            path=path,
        )
    ((kind, value),) = spec.items()
    if kind == "python" and isinstance(value, str):
        return PythonCallback(load_callable(value, path=f"{path}.python"), label=value)
    if kind == "command" and isinstance(value, str) and value.strip():
        return CommandCallback(value, label=f"command:{value.split()[0]}")
    if kind == "webhook":
        opts: Mapping[str, Any] = {"url": value} if isinstance(value, str) else value
        url = opts.get("url") if isinstance(opts, Mapping) else None
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            return WebhookCallback(
                url,
                headers=dict(opts.get("headers") or {}),
                timeout=float(opts.get("timeout", 10.0)),
                label="webhook",
            )
        raise ConfigError(f"webhook needs an http(s) url, got {value!r}", path=f"{path}.webhook")
    raise ConfigError(
        f"{kind!r} is not a callback kind (python, command, webhook) or its value is invalid",
        path=path,
    )
