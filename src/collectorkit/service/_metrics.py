"""Prometheus metrics of the storage service, in a registry of its own per app."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["ServiceMetrics"]


class ServiceMetrics:
    """Request counts and latencies, plus gauges refreshed from the store at each scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "collectorkit_storage_requests",
            "Storage service requests by method, route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "collectorkit_storage_request_seconds",
            "Storage service request latency",
            ["route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.watermarks = Gauge(
            "collectorkit_storage_watermarks", "Watermarks stored", registry=self.registry
        )
        self.failed = Gauge(
            "collectorkit_storage_failed_sources",
            "Sources whose last run failed",
            registry=self.registry,
        )
        self.malformed = Gauge(
            "collectorkit_storage_malformed_watermarks",
            "Stored watermark records that could not be read (skipped in lists)",
            registry=self.registry,
        )
        self.oldest_age = Gauge(
            "collectorkit_storage_oldest_watermark_age_seconds",
            "Age of the oldest last_successful_timestamp",
            registry=self.registry,
        )
        self.source_age = Gauge(
            "collectorkit_storage_watermark_age_seconds",
            "Seconds since each source's last_successful_timestamp (alert when it grows)",
            ["source_id"],
            registry=self.registry,
        )
        self.store_up = Gauge(
            "collectorkit_storage_store_up",
            "1 when the backing state store answered the last scrape",
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
