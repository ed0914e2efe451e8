"""What the daemon knows about each source, for ``/status``, ``/metrics`` and the dashboard.

:class:`RuntimeMetrics` is plain in-memory bookkeeping updated by the scheduler and the source
runs; :func:`render_prometheus` turns a snapshot into the Prometheus text format through a private
registry (never the process-global one, so several daemons and tests never collide).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RuntimeMetrics", "SourceStats", "render_prometheus"]

_BREAKER_VALUES = {"closed": 0, "half_open": 1, "half-open": 1, "open": 2}
_RECENT_PAGES = 512
_RECENT_ERRORS = 20


@dataclass(slots=True)
class SourceStats:
    """Counters and the latest facts about one source. Times are wall-clock epoch seconds."""

    name: str
    schedule: str = ""
    state: str = "idle"
    records: int = 0
    pages: int = 0
    runs: int = 0
    runs_failed: int = 0
    http_429: int = 0
    retries: int = 0
    new_alerts: int = 0
    duplicates_skipped: int = 0
    stored: int = 0
    """Records the sinks stored for the first time."""
    duplicates: int = 0
    """Records delivered again and absorbed by the sinks' keys (re-fetched, or repeated)."""
    findings: list[dict[str, Any]] = field(default_factory=list)
    """The last run's self-check findings (``Finding.to_dict()``): the source is degraded."""
    callbacks_failed: int = 0
    callbacks_delivered: int = 0
    callbacks_dead_lettered: int = 0
    callbacks_pending: int = 0
    callbacks_oldest: float | None = None
    """When the oldest alert still waiting in the callback outbox was queued."""
    breaker_state: str = "closed"
    consecutive_failures: int = 0
    watermark: float | None = None
    last_success: float | None = None
    last_run_started: float | None = None
    last_run_finished: float | None = None
    next_run: float | None = None
    last_error: str | None = None
    last_stop_reason: str | None = None
    dev_mode: bool = False
    errors: Counter[str] = field(default_factory=Counter)
    stop_reasons: Counter[str] = field(default_factory=Counter)
    recent_pages: deque[tuple[float, int]] = field(
        default_factory=lambda: deque(maxlen=_RECENT_PAGES)
    )
    recent_errors: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=_RECENT_ERRORS)
    )

    def page(self, now: float, records: int) -> None:
        """One page was delivered (records stored and checkpointed)."""
        self.pages += 1
        self.records += records
        self.recent_pages.append((now, records))

    @property
    def degraded(self) -> str | None:
        """Why the source is degraded (its configuration does not match the responses), if it is."""
        if not self.findings:
            return None
        return "; ".join(str(f["text"]) for f in self.findings)

    @property
    def health(self) -> str:
        """``failing`` (the last run failed), ``degraded`` (self-check findings) or ``ok``."""
        if self.consecutive_failures or self.state in ("backing_off", "failed"):
            return "failing"
        return "degraded" if self.findings else "ok"

    def error(self, now: float, kind: str, message: str) -> None:
        from collectorkit.http._redact import redact_text

        message = redact_text(message)
        self.errors[kind] += 1
        self.last_error = f"{kind}: {message}"
        self.recent_errors.append({"time": now, "kind": kind, "message": message})

    def throughput(self, now: float, window: float = 60.0) -> float:
        """Records per second over the last ``window`` seconds."""
        total = sum(n for t, n in self.recent_pages if now - t <= window)
        return total / window

    def series(self, now: float, *, buckets: int = 30, width: float = 10.0) -> list[int]:
        """Records per ``width``-second bucket for the last ``buckets`` buckets, oldest first."""
        out = [0] * buckets
        for t, n in self.recent_pages:
            index = int((now - t) // width)
            if 0 <= index < buckets:
                out[buckets - 1 - index] += n
        return out

    def snapshot(self, now: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "schedule": self.schedule,
            "state": self.state,
            "dev_mode": self.dev_mode,
            "records": self.records,
            "pages": self.pages,
            "runs": self.runs,
            "runs_failed": self.runs_failed,
            "http_429": self.http_429,
            "retries": self.retries,
            "new_alerts": self.new_alerts,
            "duplicates_skipped": self.duplicates_skipped,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "health": self.health,
            "degraded": self.degraded,
            "findings": list(self.findings),
            "callbacks_failed": self.callbacks_failed,
            "callbacks_delivered": self.callbacks_delivered,
            "callbacks_dead_lettered": self.callbacks_dead_lettered,
            "callbacks_pending": self.callbacks_pending,
            "callbacks_lag": (
                0.0 if self.callbacks_oldest is None else max(0.0, now - self.callbacks_oldest)
            ),
            "breaker_state": self.breaker_state,
            "consecutive_failures": self.consecutive_failures,
            "errors": dict(self.errors),
            "stop_reasons": dict(self.stop_reasons),
            "watermark": self.watermark,
            "watermark_age": None if self.watermark is None else max(0.0, now - self.watermark),
            "last_success": self.last_success,
            "last_run_started": self.last_run_started,
            "last_run_finished": self.last_run_finished,
            "next_run": self.next_run,
            "next_run_in": None if self.next_run is None else max(0.0, self.next_run - now),
            "last_error": self.last_error,
            "last_stop_reason": self.last_stop_reason,
            "throughput_1m": round(self.throughput(now), 3),
            "series_10s": self.series(now),
            "recent_errors": list(self.recent_errors),
        }


class RuntimeMetrics:
    """All sources' :class:`SourceStats`, plus daemon-level facts (started, ready, stopping)."""

    def __init__(self, *, started_at: float, mode: str = "daemon") -> None:
        self.started_at = started_at
        self.mode = mode
        self.ready = False
        self.stopping = False
        self.stop_reason: str | None = None
        self._sources: dict[str, SourceStats] = {}
        self.fleet: Callable[[float], dict[str, Any]] | None = None
        """``collectorkit worker``: the fleet's view (sources, holders, stalls) at ``now``."""

    def source(self, name: str) -> SourceStats:
        stats = self._sources.get(name)
        if stats is None:
            stats = self._sources[name] = SourceStats(name=name)
        return stats

    def __iter__(self) -> Iterator[SourceStats]:
        return iter(self._sources.values())

    def snapshot(self, now: float) -> dict[str, Any]:
        sources = [s.snapshot(now) for s in self._sources.values()]
        fleet = {} if self.fleet is None else {"fleet": self.fleet(now)}
        return {
            **fleet,
            "mode": self.mode,
            "ready": self.ready,
            "stopping": self.stopping,
            "stop_reason": self.stop_reason,
            "started_at": self.started_at,
            "uptime": max(0.0, now - self.started_at),
            "now": now,
            "totals": {
                "records": sum(s["records"] for s in sources),
                "pages": sum(s["pages"] for s in sources),
                "errors": sum(sum(s["errors"].values()) for s in sources),
                "stored": sum(s["stored"] for s in sources),
                "duplicates": sum(s["duplicates"] for s in sources),
                "failing": sum(s["health"] == "failing" for s in sources),
                "degraded": sum(s["health"] == "degraded" for s in sources),
            },
            "sources": sources,
        }


def _families(snapshot: Mapping[str, Any]) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    sources: list[dict[str, Any]] = snapshot["sources"]
    counters = {
        "records": ("collectorkit_records", "Records delivered to every sink."),
        "pages": ("collectorkit_pages", "Pages delivered and checkpointed."),
        "http_429": ("collectorkit_http_429", "HTTP 429 responses honoured."),
        "retries": ("collectorkit_retries", "Requests retried."),
        "new_alerts": ("collectorkit_new_alerts", "Records seen for the first time (callbacks)."),
        "callbacks_failed": ("collectorkit_callbacks_failed", "Callback invocations that failed."),
        "callbacks_delivered": (
            "collectorkit_callbacks_delivered",
            "Alerts a callback acknowledged (outbox entries done).",
        ),
        "callbacks_dead_lettered": (
            "collectorkit_callbacks_dead_lettered",
            "Alerts given up on after the last callback attempt (callback_dead_letter).",
        ),
    }
    for key, (name, doc) in counters.items():
        family = CounterMetricFamily(name, doc, labels=["source"])
        for s in sources:
            family.add_metric([s["name"]], s[key])
        yield family
    runs = CounterMetricFamily(
        "collectorkit_runs", "Source runs by outcome.", labels=["source", "outcome"]
    )
    errors = CounterMetricFamily(
        "collectorkit_errors", "Errors by kind.", labels=["source", "kind"]
    )
    stops = CounterMetricFamily(
        "collectorkit_stop_reasons", "Why runs stopped paginating.", labels=["source", "reason"]
    )
    breaker = GaugeMetricFamily(
        "collectorkit_breaker_state",
        "Circuit breaker: 0 closed, 1 half-open, 2 open.",
        labels=["source"],
    )
    wm_age = GaugeMetricFamily(
        "collectorkit_watermark_age_seconds",
        "Age of the newest delivered record.",
        labels=["source"],
    )
    last_ok = GaugeMetricFamily(
        "collectorkit_last_success_timestamp_seconds",
        "End of the last successful run.",
        labels=["source"],
    )
    failing = GaugeMetricFamily(
        "collectorkit_consecutive_failures", "Failed runs in a row.", labels=["source"]
    )
    stored = CounterMetricFamily(
        "collectorkit_records_stored",
        "Records stored by the sinks: new, or a duplicate absorbed by the record key.",
        labels=["source", "outcome"],
    )
    degraded = GaugeMetricFamily(
        "collectorkit_degraded",
        "1 when the last run's self-checks found the configuration does not match the API.",
        labels=["source"],
    )
    findings = GaugeMetricFamily(
        "collectorkit_self_check_finding",
        "A self-check finding of the last run (the check and the configured path).",
        labels=["source", "check", "path"],
    )
    pending = GaugeMetricFamily(
        "collectorkit_callbacks_pending",
        "Alerts waiting in the callback outbox.",
        labels=["source"],
    )
    lag = GaugeMetricFamily(
        "collectorkit_callbacks_lag_seconds",
        "How long the oldest alert in the callback outbox has waited.",
        labels=["source"],
    )
    for s in sources:
        name = s["name"]
        pending.add_metric([name], s["callbacks_pending"])
        lag.add_metric([name], s["callbacks_lag"])
        runs.add_metric([name, "success"], s["runs"] - s["runs_failed"])
        runs.add_metric([name, "failure"], s["runs_failed"])
        for kind, count in sorted(s["errors"].items()):
            errors.add_metric([name, kind], count)
        for reason, count in sorted(s["stop_reasons"].items()):
            stops.add_metric([name, reason], count)
        breaker.add_metric([name], _BREAKER_VALUES.get(s["breaker_state"], 0))
        if s["watermark_age"] is not None:
            wm_age.add_metric([name], s["watermark_age"])
        if s["last_success"] is not None:
            last_ok.add_metric([name], s["last_success"])
        failing.add_metric([name], s["consecutive_failures"])
        stored.add_metric([name, "new"], s["stored"])
        stored.add_metric([name, "duplicate"], s["duplicates"])
        degraded.add_metric([name], 1 if s["findings"] else 0)
        for finding in s["findings"]:
            findings.add_metric([name, finding["check"], finding["path"]], 1)
    yield from (runs, errors, stops, breaker, wm_age, last_ok, failing, stored, degraded, findings)
    yield from (pending, lag)
    if "fleet" in snapshot:
        yield from _fleet_families(snapshot["fleet"])
    up = GaugeMetricFamily("collectorkit_ready", "1 when the daemon is ready.")
    up.add_metric([], 1 if snapshot["ready"] else 0)
    yield up


def _fleet_families(fleet: Mapping[str, Any]) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    held = GaugeMetricFamily(
        "collectorkit_fleet_source_held",
        "1 while a worker of the fleet runs the source.",
        labels=["source", "worker"],
    )
    epoch = GaugeMetricFamily(
        "collectorkit_fleet_source_epoch", "The source's fencing epoch.", labels=["source"]
    )
    stalls = CounterMetricFamily(
        "collectorkit_fleet_stalls_recovered",
        "Runs taken over from a stalled worker.",
        labels=["source"],
    )
    since = GaugeMetricFamily(
        "collectorkit_fleet_last_run_age_seconds",
        "Seconds since the source's last run started, on any worker.",
        labels=["source"],
    )
    for s in fleet.get("sources", []):
        if s.get("holder"):
            held.add_metric([s["name"], s["holder"]], 1)
        epoch.add_metric([s["name"]], s["epoch"])
        stalls.add_metric([s["name"]], s["stalls_recovered"])
        if s.get("last_run_age") is not None:
            since.add_metric([s["name"]], s["last_run_age"])
    yield from (held, epoch, stalls, since)


class _SnapshotCollector:
    def __init__(self, snapshot: Mapping[str, Any]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Any]:
        return _families(self._snapshot)


def render_prometheus(snapshot: Mapping[str, Any]) -> bytes:
    """The Prometheus text exposition of a :meth:`RuntimeMetrics.snapshot`."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot))
    return generate_latest(registry)
