"""What a server says about when to come back: Retry-After and the rate-limit header families.

Pure functions of the headers and the wall-clock ``now`` (epoch seconds); they never read a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from collectorkit.http._headers import Headers

__all__ = [
    "parse_retry_after",
    "pause_header",
    "quota_exhausted",
    "reset_wait",
    "server_pause",
    "server_wait",
]

_RESET_HEADERS = ("x-ratelimit-reset", "ratelimit-reset", "x-rate-limit-reset")
_REMAINING_HEADERS = ("x-ratelimit-remaining", "ratelimit-remaining", "x-rate-limit-remaining")
# Values above this are epoch timestamps, below are deltas (1e9 s is September 2001).
_EPOCH_THRESHOLD = 1e9
_EPOCH_MS_THRESHOLD = 1e12


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and number >= 0 else None  # NaN check


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP date."""
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive result means "-0000"
        return None
    return max(0.0, when.timestamp() - now)


def _epoch_or_delta(value: float, now: float) -> float:
    if value >= _EPOCH_MS_THRESHOLD:
        value /= 1000.0
    if value >= _EPOCH_THRESHOLD:
        return max(0.0, value - now)
    return value


def reset_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until the quota window resets, from ``X-RateLimit-Reset`` and its spellings
    (epoch seconds, epoch milliseconds or a delta) or CrowdStrike's ``X-RateLimit-RetryAfter``
    (epoch seconds)."""
    crowdstrike = _number(headers.get("x-ratelimit-retryafter"))
    if crowdstrike is not None:
        return _epoch_or_delta(crowdstrike, now)
    for name in _RESET_HEADERS:
        value = _number(headers.get(name))
        if value is not None:
            return _epoch_or_delta(value, now)
    return None


def server_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the headers name: ``Retry-After`` first, then the reset headers.

    This reads the headers without judging the response; whether they ask for a wait depends
    on the status and the remaining quota, which :func:`server_pause` decides.
    """
    wait = parse_retry_after(headers.get("retry-after"), now)
    return wait if wait is not None else reset_wait(headers, now)


def pause_header(headers: Mapping[str, str]) -> str:
    """``Name: value`` of the headers that ask for a wait, for messages about it."""
    names = ("retry-after", "x-ratelimit-retryafter", *_RESET_HEADERS)
    found = [f"{_title(n)}: {v}" for n in names if (v := headers.get(n)) is not None]
    return ", ".join(found) or "no wait header"


def _title(name: str) -> str:
    return "-".join("RateLimit" if p == "ratelimit" else p.title() for p in name.split("-"))


def quota_exhausted(headers: Mapping[str, str]) -> bool:
    """Whether a ``*-RateLimit-Remaining`` header says no request is left in this window."""
    if type(headers) is Headers:  # one call for the three spellings, on every response
        text = headers.first(_REMAINING_HEADERS)
        if text is None:
            return False
        value = _number(text)
        if value is not None:
            return value < 1
    for name in _REMAINING_HEADERS:
        value = _number(headers.get(name))
        if value is not None:
            return value < 1
    return False


def server_pause(status_code: int | None, headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asked us to stay away after a response with ``status_code``, or
    ``None`` when it did not ask (the caller's own backoff applies).

    ``Retry-After`` counts on a 429 and on a 5xx. The reset headers mean "wait until the
    window resets" only when the quota is spent: on a 429, or when ``*-RateLimit-Remaining``
    is 0 (GitHub's 403 included). APIs that send the rate-limit headers on every response,
    a 503 among them, with quota left, are not asking for a pause until the reset.
    """
    if status_code is not None and (status_code == 429 or status_code >= 500):
        wait = parse_retry_after(headers.get("retry-after"), now)
        if wait is not None:
            return wait
    if status_code == 429 or quota_exhausted(headers):
        return reset_wait(headers, now)
    return None
