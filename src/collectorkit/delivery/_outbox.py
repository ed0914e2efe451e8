"""Alert callbacks at least once: a durable outbox in the state store, drained by a worker.

A delivered page's new alerts are first written to the outbox — one entry per alert and
callback, in the state store's ``callback_outbox`` namespace (SQLite, PostgreSQL, Redis, the
storage service: every store) — and only then marked processed. A worker
(:meth:`CallbackOutbox.run`, or one pass with :meth:`CallbackOutbox.drain`) calls each callback
with its due entries in batches; an entry is deleted (acknowledged) once its callback returned,
retried with the :class:`~collectorkit.RetryPolicy` backoff when it failed, and moved to the
``callback_dead_letter`` namespace after ``max_attempts``. A crash between a call and its
acknowledgement calls again after the restart: receivers dedupe on the per-alert idempotency key
(``idempotency_keys`` in the JSON document, ``Idempotency-Key`` header for one alert).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import StateConflictError
from collectorkit._records import Record, record_digest
from collectorkit.http import RetryPolicy
from collectorkit.typing import StateStore, StoredValue

__all__ = [  # noqa: RUF022 - plain sorted(), the order tests/test_exported_members.py checks
    "CallbackOutbox",
    "DEAD_NAMESPACE",
    "DEFAULT_CALLBACK_RETRY",
    "DrainResult",
    "NAMESPACE",
    "OutboxEntry",
    "SourceOutbox",
    "callback_id",
    "idempotency_key",
    "next_attempt_at",
]

NAMESPACE = "callback_outbox"
DEAD_NAMESPACE = "callback_dead_letter"
DEFAULT_CALLBACK_RETRY = RetryPolicy(
    max_attempts=10, initial_delay=1.0, multiplier=2.0, max_delay=300.0
)
"""Ten attempts over about eight minutes, then the alert goes to ``callback_dead_letter``."""


def idempotency_key(source: str, alert_id: str) -> str:
    """The same for one alert of one source however often it is notified."""
    return hashlib.sha256(f"{source}\0{alert_id}".encode()).hexdigest()[:32]


def callback_id(callback: Any) -> str:
    """A short stable name for a callback (its label and target), kept across restarts."""
    target = getattr(callback, "url", None) or getattr(callback, "command", None) or ""
    label = str(getattr(callback, "label", type(callback).__name__))
    return hashlib.sha256(f"{label}\0{target}".encode()).hexdigest()[:12]


def next_attempt_at(attempts: int, now: float, policy: RetryPolicy, rand: float) -> float | None:
    """After the ``attempts``-th failed call: when to call again, or ``None`` to give up."""
    if attempts >= policy.max_attempts:
        return None
    return now + policy.backoff(attempts - 1, rand=rand)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One alert waiting for one callback."""

    key: str
    version: int
    source: str
    callback: str
    label: str
    alert: Mapping[str, Any]
    idempotency_key: str
    created_at: float
    order: int = 0
    """The alert's place in its page (entries are sent in the order the API gave them)."""
    attempts: int = 0
    next_at: float = 0.0
    last_error: str | None = None

    @classmethod
    def from_stored(cls, key: str, stored: StoredValue) -> OutboxEntry:
        v = stored.value
        return cls(
            key=key,
            version=stored.version,
            source=str(v["source"]),
            callback=str(v["callback"]),
            label=str(v.get("label", "")),
            alert=v["alert"],
            idempotency_key=str(v["idempotency_key"]),
            created_at=float(v["created_at"]),
            order=int(v.get("order", 0)),
            attempts=int(v.get("attempts", 0)),
            next_at=float(v.get("next_at", 0.0)),
            last_error=v.get("last_error"),
        )

    def value(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "callback": self.callback,
            "label": self.label,
            "alert": dict(self.alert),
            "idempotency_key": self.idempotency_key,
            "created_at": self.created_at,
            "order": self.order,
            "attempts": self.attempts,
            "next_at": self.next_at,
            "last_error": self.last_error,
        }


@dataclass(slots=True)
class DrainResult:
    """What one pass over the outbox did."""

    delivered: int = 0
    failed: int = 0
    dead_lettered: int = 0


@dataclass(slots=True)
class SourceOutbox:
    """Per-source figures for ``/status`` and ``/metrics``."""

    pending: int = 0
    oldest_created_at: float | None = None
    delivered: int = 0
    failures: int = 0
    dead_lettered: int = 0

    def lag(self, now: float) -> float:
        """Seconds the oldest pending alert has waited (0 when none waits)."""
        return 0.0 if self.oldest_created_at is None else max(0.0, now - self.oldest_created_at)


@dataclass(eq=False)
class CallbackOutbox:
    """The outbox of ``callbacks`` (source name → its callbacks) in ``store``.

    ``on_change(source, figures)`` is told after every enqueue and drain (the daemon's status);
    ``on_failure(source, label, error)`` after every failed call.
    """

    store: StateStore
    callbacks: Mapping[str, Sequence[Any]]
    retry: RetryPolicy = DEFAULT_CALLBACK_RETRY
    clock: Clock = field(default_factory=SystemClock)
    batch_size: int = 100
    on_change: Callable[[str, SourceOutbox], None] | None = None
    on_failure: Callable[[str, str, BaseException], None] | None = None
    log: Any = None
    figures: dict[str, SourceOutbox] = field(default_factory=dict)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _rand: random.Random = field(default_factory=random.Random)

    def _figures(self, source: str) -> SourceOutbox:
        return self.figures.setdefault(source, SourceOutbox())

    async def enqueue(
        self, source: str, alerts: Sequence[Record], ids: Sequence[str | None]
    ) -> int:
        """Write one entry per alert and callback of ``source`` (an entry already queued for
        that alert stays as it is); the number written."""
        now = self.clock.time()
        written = 0
        for callback in self.callbacks.get(source, ()):
            cid = callback_id(callback)
            for order, (alert, alert_id) in enumerate(zip(alerts, ids, strict=True)):
                ident = idempotency_key(source, alert_id or record_digest(alert))
                entry = OutboxEntry(
                    key=f"{source}/{cid}/{ident}",
                    version=0,
                    source=source,
                    callback=cid,
                    label=str(getattr(callback, "label", "callback")),
                    alert=alert,
                    idempotency_key=ident,
                    created_at=now,
                    order=order,
                )
                with contextlib.suppress(StateConflictError):  # queued by an earlier try
                    await self.store.put(NAMESPACE, entry.key, entry.value(), if_version=0)
                    written += 1
        if written:
            figures = self._figures(source)
            figures.pending += written
            if figures.oldest_created_at is None:
                figures.oldest_created_at = now
            self._changed(source)
            self._wake.set()
        return written

    async def entries(self) -> list[OutboxEntry]:
        """Every pending entry, oldest first."""
        stored = await self.store.list(NAMESPACE)
        entries = [OutboxEntry.from_stored(k, v) for k, v in stored.items()]
        return sorted(entries, key=lambda e: (e.created_at, e.order, e.key))

    async def drain(self, *, due_only: bool = True) -> DrainResult:
        """One pass: call every callback with its due entries (all entries with ``due_only``
        false), acknowledge, reschedule or dead-letter each."""
        now = self.clock.time()
        entries = await self.entries()
        result = DrainResult()
        groups: dict[tuple[str, str], list[OutboxEntry]] = {}
        for e in entries:
            if not due_only or e.next_at <= now:
                groups.setdefault((e.source, e.callback), []).append(e)
        for (source, cid), group in groups.items():
            callback = self._callback(source, cid)
            for i in range(0, len(group), self.batch_size):
                await self._send(callback, group[i : i + self.batch_size], result)
        self._recount(await self.entries())
        return result

    def _callback(self, source: str, cid: str) -> Any:
        return next((c for c in self.callbacks.get(source, ()) if callback_id(c) == cid), None)

    async def _send(self, callback: Any, batch: list[OutboxEntry], result: DrainResult) -> None:
        source = batch[0].source
        try:
            if callback is None:
                raise LookupError(f"callback {batch[0].label!r} is no longer configured")
            await _call(callback, source, batch)
        except Exception as exc:
            await self._failed(batch, exc, result)
            return
        for entry in batch:
            await self.store.delete(NAMESPACE, entry.key)
        result.delivered += len(batch)
        self._figures(source).delivered += len(batch)

    async def _failed(self, batch: list[OutboxEntry], exc: Exception, result: DrainResult) -> None:
        source, label = batch[0].source, batch[0].label
        figures = self._figures(source)
        figures.failures += 1
        result.failed += len(batch)
        if self.on_failure is not None:
            self.on_failure(source, label, exc)
        now = self.clock.time()
        error = str(exc)[:500]
        attempts, at = batch[0].attempts + 1, None
        for entry in batch:
            attempts = entry.attempts + 1
            at = next_attempt_at(attempts, now, self.retry, self._rand.random())
            value = {**entry.value(), "attempts": attempts, "last_error": error}
            if at is None:
                await self.store.put(DEAD_NAMESPACE, entry.key, {**value, "failed_at": now})
                await self.store.delete(NAMESPACE, entry.key)
                result.dead_lettered += 1
                figures.dead_lettered += 1
            else:
                with contextlib.suppress(StateConflictError):
                    await self.store.put(
                        NAMESPACE, entry.key, {**value, "next_at": at}, if_version=entry.version
                    )
        if self.log is not None:
            self.log.warning(
                "callback failed; the alerts stay in the outbox",
                source=source,
                callback=label,
                alerts=len(batch),
                attempts=attempts,
                next_in=None if at is None else round(at - now, 3),
                error=error,
            )

    def _recount(self, entries: list[OutboxEntry]) -> None:
        pending: Counter[str] = Counter(e.source for e in entries)
        oldest: dict[str, float] = {}
        for e in entries:
            oldest.setdefault(e.source, e.created_at)
        for source in {*self.figures, *pending}:
            figures = self._figures(source)
            figures.pending = pending.get(source, 0)
            figures.oldest_created_at = oldest.get(source)
            self._changed(source)

    def _changed(self, source: str) -> None:
        if self.on_change is not None:
            self.on_change(source, self._figures(source))

    async def next_due_in(self) -> float | None:
        """Seconds until the earliest pending entry is due (``None``: the outbox is empty)."""
        entries = await self.entries()
        if not entries:
            return None
        return max(0.0, min(e.next_at for e in entries) - self.clock.time())

    async def run(self, stop: asyncio.Event, *, idle: float = 1.0) -> None:
        """Drain until ``stop`` is set: at once after an enqueue, else when the next entry is
        due (at most ``idle`` seconds apart). A failing store is logged and tried again."""
        while not stop.is_set():
            self._wake.clear()
            wait = idle
            try:
                await self.drain()
                due = await self.next_due_in()
                wait = idle if due is None else min(idle, due)
            except Exception as exc:
                if self.log is not None:
                    self.log.error("callback outbox: the state store failed", error=exc)
            waker = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({waker, stopper}, timeout=wait, return_when="FIRST_COMPLETED")
            finally:
                for task in (waker, stopper):
                    task.cancel()
                await asyncio.gather(waker, stopper, return_exceptions=True)


async def _call(callback: Any, source: str, batch: list[OutboxEntry]) -> None:
    alerts = [dict(e.alert) for e in batch]
    keys = [e.idempotency_key for e in batch]
    if _accepts_keys(callback):
        await callback(source, alerts, idempotency_keys=keys)
    else:
        await callback(source, alerts)


def _accepts_keys(callback: Any) -> bool:
    try:
        params = inspect.signature(callback).parameters
    except (TypeError, ValueError):
        return False
    return "idempotency_keys" in params
