"""Counters and response-time figures of one client."""

from __future__ import annotations

import math
from collections import deque

__all__ = ["ClientMetrics"]

_WINDOW = 1024  # response times kept for the p95


class ClientMetrics:
    """What a client did since it was created (or last :meth:`reset`).

    ``total_requests`` counts calls to ``request``; each ends in ``successful_requests`` or
    ``failed_requests``. ``total_retries`` counts re-sends, ``rate_limit_hits`` 429 responses,
    ``rate_limit_waits`` times the client held a request back, ``auth_errors`` 401/403 responses,
    ``timeouts`` and ``service_errors`` (5xx) each attempt that ended so. Response times are per
    attempt, in milliseconds; the p95 is over the last 1024 attempts.
    """

    __slots__ = (
        "_max",
        "_min",
        "_recent",
        "_sum",
        "_timed",
        "auth_errors",
        "circuit_breaker_opens",
        "failed_requests",
        "rate_limit_hits",
        "rate_limit_waits",
        "service_errors",
        "successful_requests",
        "timeouts",
        "total_requests",
        "total_retries",
    )

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total_requests = 0
        self.successful_requests = 0
        self.failed_requests = 0
        self.total_retries = 0
        self.rate_limit_hits = 0
        self.rate_limit_waits = 0
        self.circuit_breaker_opens = 0
        self.auth_errors = 0
        self.timeouts = 0
        self.service_errors = 0
        self._timed = 0
        self._sum = 0.0
        self._min = math.inf
        self._max = 0.0
        self._recent: deque[float] = deque(maxlen=_WINDOW)

    def observe_response_time(self, elapsed_ms: float) -> None:
        self._timed += 1
        self._sum += elapsed_ms
        if elapsed_ms < self._min:
            self._min = elapsed_ms
        if elapsed_ms > self._max:
            self._max = elapsed_ms
        self._recent.append(elapsed_ms)

    @property
    def average_response_time_ms(self) -> float:
        return self._sum / self._timed if self._timed else 0.0

    @property
    def min_response_time_ms(self) -> float:
        return self._min if self._timed else 0.0

    @property
    def max_response_time_ms(self) -> float:
        return self._max

    @property
    def p95_response_time_ms(self) -> float:
        if not self._recent:
            return 0.0
        ordered = sorted(self._recent)
        return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def success_rate(self) -> float:
        done = self.successful_requests + self.failed_requests
        return self.successful_requests / done if done else 1.0

    def snapshot(self) -> dict[str, float]:
        """Every figure by name, e.g. for a status page or Prometheus."""
        names = [n for n in self.__slots__ if not n.startswith("_")]
        figures: dict[str, float] = {name: float(getattr(self, name)) for name in sorted(names)}
        figures |= {
            "average_response_time_ms": self.average_response_time_ms,
            "min_response_time_ms": self.min_response_time_ms,
            "max_response_time_ms": self.max_response_time_ms,
            "p95_response_time_ms": self.p95_response_time_ms,
        }
        return figures

    def __repr__(self) -> str:
        return f"ClientMetrics({self.snapshot()!r})"
