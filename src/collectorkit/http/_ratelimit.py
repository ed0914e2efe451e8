"""Client-side rate limiting: a token bucket, plus pauses the server asks for.

:class:`TokenBucket` is sans-I/O: it is told ``now`` (monotonic seconds) and answers how long to
wait. The client sleeps; the bucket never does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from collectorkit._errors import ConfigError
from collectorkit.http._timeouts import DurationInput, parse_duration

__all__ = ["RateLimitPolicy", "SharedRateLimit", "TokenBucket"]


def _positive(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"must be a number > 0, got {value!r}", path=path)
    if math.isinf(value):
        raise ConfigError(f"must be finite, got {value!r}", path=path)
    return float(value)


@dataclass(frozen=True, slots=True, kw_only=True, init=False)
class RateLimitPolicy:
    """At most ``rate_per_second`` requests per second on average, ``burst`` at once.

    ``burst`` defaults to ``max(1, ceil(rate_per_second))``. With ``respect_server_limits`` (the
    default), a 429 or an exhausted ``X-RateLimit-Remaining`` pauses the *whole* client until the
    server's reset, so concurrent requests wait instead of hitting the wall one by one.
    Use :meth:`per` for "100 per minute".
    """

    rate_per_second: float
    burst: int
    respect_server_limits: bool

    def __init__(
        self,
        *,
        rate_per_second: float,
        burst: int | None = None,
        respect_server_limits: bool = True,
    ) -> None:
        rate = _positive(rate_per_second, "RateLimitPolicy.rate_per_second")
        if burst is None:
            burst = max(1, math.ceil(rate))
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ConfigError(
                f"must be an integer >= 1, got {burst!r}", path="RateLimitPolicy.burst"
            )
        object.__setattr__(self, "rate_per_second", rate)
        object.__setattr__(self, "burst", burst)
        object.__setattr__(self, "respect_server_limits", bool(respect_server_limits))

    @classmethod
    def per(
        cls,
        requests: int,
        *,
        seconds: DurationInput = 1.0,
        burst: int | None = None,
        respect_server_limits: bool = True,
    ) -> RateLimitPolicy:
        """``requests`` per ``seconds`` (``RateLimitPolicy.per(100, seconds=60)``, or ``"1m"``);
        ``burst`` defaults to ``requests``."""
        count = _positive(requests, "RateLimitPolicy.per.requests")
        window = parse_duration(seconds, field="RateLimitPolicy.per.seconds")
        if window == 0:
            raise ConfigError(f"must be > 0, got {seconds!r}", path="RateLimitPolicy.per.seconds")
        return cls(
            rate_per_second=count / window,
            burst=burst if burst is not None else max(1, int(count)),
            respect_server_limits=respect_server_limits,
        )


class TokenBucket:
    """Tokens refill at ``rate_per_second`` up to ``burst``; each request takes one.

    :meth:`reserve` takes a token even when none is left (the balance goes negative), and returns
    how long the caller must wait for it. Reserving ahead keeps concurrent waiters in order and
    the long-run rate exact. Without a policy only server pauses apply.
    """

    __slots__ = ("_paused_until", "_stamp", "_tokens", "policy")

    def __init__(self, policy: RateLimitPolicy | None, *, now: float) -> None:
        self.policy = policy
        self._tokens = float(policy.burst) if policy else 0.0
        self._stamp = now
        self._paused_until = -math.inf

    def _refill(self, now: float) -> None:
        policy = self.policy
        if policy is None or now <= self._stamp:
            return
        elapsed = now - self._stamp
        self._tokens = min(float(policy.burst), self._tokens + elapsed * policy.rate_per_second)
        self._stamp = now

    def reserve(self, now: float) -> float:
        """Take one token; the seconds to wait before sending (0.0: send now)."""
        pause = self._paused_until - now
        policy = self.policy
        if policy is None:
            return pause if pause > 0.0 else 0.0
        if now > self._stamp:  # _refill, inline: this runs on every request
            tokens = self._tokens + (now - self._stamp) * policy.rate_per_second
            self._tokens = tokens if tokens < policy.burst else float(policy.burst)
            self._stamp = now
        self._tokens -= 1.0
        wait = 0.0 if self._tokens >= 0 else -self._tokens / policy.rate_per_second
        return wait if wait > pause else (pause if pause > 0.0 else 0.0)

    def wait_for_reserved(self, now: float) -> float:
        """Seconds until the tokens already reserved are covered (0.0 when they are)."""
        if self.policy is None:
            return 0.0
        self._refill(now)
        return 0.0 if self._tokens >= 0 else -self._tokens / self.policy.rate_per_second

    def refund(self, now: float) -> None:
        """Give back a reserved token that was not used (the request was abandoned)."""
        if self.policy is not None:
            self._refill(now)
            self._tokens = min(float(self.policy.burst), self._tokens + 1.0)

    def pause_until(self, until: float) -> None:
        """Send nothing before ``until`` (monotonic seconds); a later pause wins."""
        self._paused_until = max(self._paused_until, until)

    def paused_for(self, now: float) -> float:
        """Seconds left of a server-requested pause (0.0 when not paused)."""
        return max(0.0, self._paused_until - now)

    def available(self, now: float) -> float:
        """Tokens available now (negative while waiters hold reservations)."""
        self._refill(now)
        return self._tokens


class SharedRateLimit(Protocol):
    """A rate limit shared with other processes using the same credential (the fleet keeps one
    in PostgreSQL): a client with one asks it before every request, before its own bucket.

    :meth:`pause` is called when the server asks this client to pause (a 429, an exhausted
    quota); the pause is published to every sharer with the next :meth:`acquire`, which takes
    one token and returns the seconds to wait before sending (the longer of the token's wait
    and any pause a sharer published).
    """

    def pause(self, seconds: float) -> None: ...

    async def acquire(self) -> float: ...
