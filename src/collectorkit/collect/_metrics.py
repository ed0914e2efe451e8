"""Counters of one collection, in the shape XSOAR-style command results expect."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from collectorkit._errors import (
    AuthenticationError,
    CollectorTimeoutError,
    QuotaError,
    RequestTimeoutError,
    ServiceError,
)

__all__ = ["ExecutionMetrics"]

# ExecutionMetrics field -> the APIClient metrics counter whose growth it reports
_CLIENT_COUNTERS = {
    "auth_error": "auth_errors",
    "quota_error": "rate_limit_hits",
    "service_error": "service_errors",
    "retry_error": "total_retries",
    "timeout_error": "timeouts",
}


@dataclass(slots=True, kw_only=True)
class ExecutionMetrics:
    """What one collection did: successful requests, errors by kind, retries, pages, records.

    ``quota_error`` counts every 429 (each also counts as a retry when retried);
    ``general_error`` counts failures that are none of auth, quota, service or timeout.
    ``records_beyond_window`` counts records dated after their incremental window's end
    (open-ended requests: after the collector's now), delivered with the watermark held at
    the window end.
    ``metrics`` gives the non-zero counters as ``[{"type": …, "count": …}]``.
    """

    success: int = 0
    auth_error: int = 0
    quota_error: int = 0
    service_error: int = 0
    general_error: int = 0
    retry_error: int = 0
    timeout_error: int = 0
    pages: int = 0
    records: int = 0
    cursor_resets: int = 0
    records_beyond_window: int = 0

    @property
    def metrics(self) -> list[dict[str, Any]]:
        return [{"type": k, "count": v} for k, v in self.as_dict().items() if v]

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def add_client_delta(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        """Add what the HTTP client counted between two ``metrics.snapshot()`` calls."""
        for name, counter in _CLIENT_COUNTERS.items():
            grown = _number(after.get(counter)) - _number(before.get(counter))
            setattr(self, name, getattr(self, name) + max(grown, 0))

    def count_failure(self, error: BaseException) -> None:
        """Count a final failure the client's own counters do not already cover."""
        if isinstance(error, AuthenticationError | QuotaError | ServiceError):
            return  # counted per response by the client
        if isinstance(error, RequestTimeoutError | CollectorTimeoutError):
            return
        self.general_error += 1

    def merge(self, other: ExecutionMetrics) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def _number(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
