"""Faults: what can go wrong (:class:`FaultSpec`) and the command line's shorthand for it.

Every object is frozen and keyword-only; ``from_dict`` and :func:`parse_faults` accept the JSON
and text forms used by ``collectorkit simulate`` and ``POST /_sim/faults``; bad input raises
:class:`~collectorkit.ConfigError` naming the path, the field and the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from collectorkit._errors import ConfigError
from collectorkit.simulator._fields import checked_fields, fail, unvalidated

__all__ = [
    "DATA_FAULTS",
    "FAULT_KINDS",
    "FaultSpec",
    "RetryAfterFormat",
    "parse_faults",
]

FAULT_KINDS = (
    "ack_delay",
    "ack_lost",
    "ack_refused",
    "boundary_ties",
    "duplicates",
    "expired_cursor",
    "late_arrival",
    "malformed",
    "never_ending",
    "offset_drift",
    "rate_limit",
    "reset",
    "server_error",
    "slow",
    "token_expiry",
    "update",
)
"""Injectable faults; see :class:`FaultSpec`."""

DATA_FAULTS = frozenset(FAULT_KINDS) - {"rate_limit", "server_error", "reset", "slow"}
"""Faults that only make sense on a data endpoint (never on a token endpoint)."""

RetryAfterFormat = Literal["seconds", "http-date", "none"]


def _parse_requests(value: Any, path: str) -> tuple[int, ...]:
    """``3``, ``"3-5"``, ``"1,4,7-9"`` or ``[3, "5-6"]`` → sorted request numbers (1-based)."""
    items: Iterable[Any]
    if isinstance(value, int) and not isinstance(value, bool):
        items = [value]
    elif isinstance(value, str):
        items = [p.strip() for p in value.split(",") if p.strip()]
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise fail(path, f"{value!r} is not a request number, range '3-5' or list of them")
    out: set[int] = set()
    for item in items:
        text = str(item)
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
        if not m:
            raise fail(path, f"{item!r} is not a request number or range like '3-5'")
        lo, hi = int(m[1]), int(m[2] or m[1])
        if lo < 1 or hi < lo:
            raise fail(path, f"{item!r}: request numbers start at 1 and ranges go upwards")
        out.update(range(lo, hi + 1))
    return tuple(sorted(out))


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSpec:
    """One injectable fault and when it fires.

    ``target`` selects endpoints: ``"*"`` (every profile's data endpoints), a profile name
    (``"okta"``: its data endpoints), ``"graph.token"`` (exactly that endpoint) or ``"graph.*"``
    (every endpoint of the profile, token endpoints included).

    When: each fault counts the requests it applies to (1-based). It fires on request *n* when
    every given condition holds: ``every`` (n % every == 0), ``requests`` (n is listed, e.g.
    ``"3-5"``) and ``probability`` (a draw from the fault's own RNG seeded from the simulator
    seed, so a sequential client sees the same pattern every run). No condition → every request.
    ``burst`` makes each firing also hit the next ``burst - 1`` requests; ``max_times`` caps the
    number of injections.

    Parameters used by some kinds: ``status`` (server_error: 500/502/503/504, default 503;
    rate_limit: 429 or 403 for GitHub; expired_cursor: vendor default), ``retry_after`` seconds and
    ``retry_after_format`` (``seconds``, ``http-date`` or ``none``; default: the vendor's
    dialect; on server_error a ``Retry-After`` is sent only when the format is given),
    ``delay`` (slow), ``count`` (records inserted/updated/duplicated/tied),
    ``late_by`` (late_arrival: how old the new records' event time is), ``at`` (boundary_ties:
    index, in ascending time order, of the page boundary the tie straddles).
    """

    kind: str
    target: str = "*"
    probability: float | None = None
    every: int | None = None
    requests: tuple[int, ...] | None = None
    burst: int = 1
    max_times: int | None = None
    status: int | None = None
    retry_after: float = 1.0
    retry_after_format: RetryAfterFormat | None = None
    delay: float = 1.0
    count: int = 5
    late_by: float = 600.0
    at: int = 100

    def __post_init__(self) -> None:
        if self.requests is not None:
            object.__setattr__(self, "requests", _parse_requests(self.requests, "fault.requests"))
        self.validate("fault")

    def validate(self, path: str) -> None:
        if self.kind not in FAULT_KINDS:
            raise fail(f"{path}.kind", f"{self.kind!r} is not one of {', '.join(FAULT_KINDS)}")
        if not isinstance(self.target, str) or not self.target:
            raise fail(f"{path}.target", f"{self.target!r} is not a profile or endpoint name")
        p = self.probability
        if p is not None and not (isinstance(p, int | float) and 0.0 <= p <= 1.0):
            raise fail(f"{path}.probability", f"{p!r} is not a number between 0 and 1")
        for name in ("every", "burst", "max_times", "count", "at"):
            v = getattr(self, name)
            if v is None and name in ("every", "max_times"):
                continue
            low = 0 if name in ("count", "at") else 1
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise fail(f"{path}.{name}", f"{v!r} is not an integer >= {low}")
        for name in ("retry_after", "delay", "late_by"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
                raise fail(f"{path}.{name}", f"{v!r} is not a number of seconds >= 0")
        if self.status is not None and not (
            isinstance(self.status, int) and 400 <= self.status <= 599
        ):
            raise fail(f"{path}.status", f"{self.status!r} is not an HTTP error status 400-599")
        fmt = self.retry_after_format
        if fmt is not None and fmt not in ("seconds", "http-date", "none"):
            raise fail(f"{path}.retry_after_format", f"{fmt!r} is not seconds, http-date or none")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "fault") -> FaultSpec:
        """Build from a JSON object; ``requests`` may be ``"3-5"``, ``4`` or a list."""
        kwargs = dict(checked_fields(cls, data, path, FAULT_KINDS))
        if kwargs.get("requests") is not None:
            kwargs["requests"] = _parse_requests(kwargs["requests"], f"{path}.requests")
        spec = unvalidated(cls, kwargs)
        spec.validate(path)
        return spec

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.requests is not None:
            out["requests"] = list(self.requests)
        return out


_ALIASES = {
    "429": "rate_limit",
    "throttle": "rate_limit",
    "5xx": "server_error",
    "500": "server_error",
    "502": "server_error",
    "503": "server_error",
    "504": "server_error",
    "401": "token_expiry",
    "expiry": "token_expiry",
    "410": "expired_cursor",
    "cursor": "expired_cursor",
    "late": "late_arrival",
    "dup": "duplicates",
    "dups": "duplicates",
    "ties": "boundary_ties",
    "drift": "offset_drift",
    "endless": "never_ending",
}


def parse_faults(text: str, *, default_probability: float = 0.1) -> tuple[FaultSpec, ...]:
    """Faults from the command line's shorthand, or from JSON.

    ``"429,5xx:0.2,reset/10,slow"``: each item is a kind or alias (``429``, ``5xx``/``503``,
    ``reset``, ``slow``, ``malformed``, ``401``/``expiry``, ``410``/``cursor``, ``late``,
    ``dup``, ``ties``, ``update``, ``drift``, ``endless``), optionally ``:probability`` or
    ``/n`` (every n-th request); bare kinds fire with ``default_probability``. A status alias
    (``502``) sets the status. Text starting with ``[`` or ``{`` is read as JSON fault objects.
    """
    stripped = text.strip()
    if stripped.startswith(("[", "{")):
        try:
            doc = json.loads(stripped)
        except ValueError as exc:
            raise ConfigError(f"not valid JSON: {exc}", path="faults") from None
        items = doc if isinstance(doc, list) else [doc]
        return tuple(FaultSpec.from_dict(f, path=f"faults[{i}]") for i, f in enumerate(items))
    specs = []
    for i, item in enumerate(p.strip() for p in stripped.split(",") if p.strip()):
        m = re.fullmatch(r"([a-z0-9_]+)(?::([0-9.]+)|/(\d+))?", item.lower())
        if not m:
            raise fail(f"faults[{i}]", f"{item!r} is not 'kind', 'kind:probability' or 'kind/n'")
        name, prob, every = m[1], m[2], m[3]
        kind = _ALIASES.get(name, name)
        status = int(name) if name.isdigit() and name.startswith("5") else None
        try:
            probability = float(prob) if prob else None
        except ValueError:
            raise fail(f"faults[{i}]", f"{prob!r} is not a probability") from None
        if kind == "boundary_ties":
            specs.append(FaultSpec(kind=kind))
            continue
        if probability is None and every is None:
            probability = default_probability
        spec = FaultSpec.from_dict(
            {
                "kind": kind,
                "probability": probability,
                "every": int(every) if every else None,
                "status": status,
            },
            path=f"faults[{i}]",
        )
        specs.append(spec)
    return tuple(specs)
