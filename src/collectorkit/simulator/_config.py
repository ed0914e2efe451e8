"""Simulator configuration: profiles (one vendor-shaped API each) and faults.

Every object is frozen and keyword-only. ``from_dict`` accepts the JSON/YAML shape used by
``collectorkit simulate --config`` and by ``POST /_sim/faults``; bad input raises
:class:`~collectorkit.ConfigError` naming the path, the field and the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, cast

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import ConfigError

__all__ = [  # noqa: RUF022 - plain sorted(), the order tests/test_exported_members.py checks
    "DATA_FAULTS",
    "FAULT_KINDS",
    "FaultSpec",
    "PROFILE_KINDS",
    "ProfileConfig",
    "SimulatorConfig",
    "default_profiles",
    "parse_faults",
]

PROFILE_KINDS = (
    "xdr",
    "okta",
    "graph",
    "github",
    "generic",
    "slack",
    "onepassword",
    "crowdstrike",
    "otx",
)
"""Vendor shapes the simulator can serve; see ``collectorkit/simulator/README.md``."""

FAULT_KINDS = (
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
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _fail(path: str, message: str) -> ConfigError:
    return ConfigError(message, path=path)


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
        raise _fail(path, f"{value!r} is not a request number, range '3-5' or list of them")
    out: set[int] = set()
    for item in items:
        text = str(item)
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
        if not m:
            raise _fail(path, f"{item!r} is not a request number or range like '3-5'")
        lo, hi = int(m[1]), int(m[2] or m[1])
        if lo < 1 or hi < lo:
            raise _fail(path, f"{item!r}: request numbers start at 1 and ranges go upwards")
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
            raise _fail(f"{path}.kind", f"{self.kind!r} is not one of {', '.join(FAULT_KINDS)}")
        if not isinstance(self.target, str) or not self.target:
            raise _fail(f"{path}.target", f"{self.target!r} is not a profile or endpoint name")
        p = self.probability
        if p is not None and not (isinstance(p, int | float) and 0.0 <= p <= 1.0):
            raise _fail(f"{path}.probability", f"{p!r} is not a number between 0 and 1")
        for name in ("every", "burst", "max_times", "count", "at"):
            v = getattr(self, name)
            if v is None and name in ("every", "max_times"):
                continue
            low = 0 if name in ("count", "at") else 1
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise _fail(f"{path}.{name}", f"{v!r} is not an integer >= {low}")
        for name in ("retry_after", "delay", "late_by"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
                raise _fail(f"{path}.{name}", f"{v!r} is not a number of seconds >= 0")
        if self.status is not None and not (
            isinstance(self.status, int) and 400 <= self.status <= 599
        ):
            raise _fail(f"{path}.status", f"{self.status!r} is not an HTTP error status 400-599")
        fmt = self.retry_after_format
        if fmt is not None and fmt not in ("seconds", "http-date", "none"):
            raise _fail(f"{path}.retry_after_format", f"{fmt!r} is not seconds, http-date or none")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "fault") -> FaultSpec:
        """Build from a JSON object; ``requests`` may be ``"3-5"``, ``4`` or a list."""
        if not isinstance(data, Mapping):
            raise _fail(path, f"expected an object with 'kind', got {data!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise _fail(f"{path}.{unknown[0]}", f"unknown field; known: {', '.join(sorted(known))}")
        if "kind" not in data:
            raise _fail(f"{path}.kind", "missing; one of " + ", ".join(FAULT_KINDS))
        kwargs = dict(data)
        if kwargs.get("requests") is not None:
            kwargs["requests"] = _parse_requests(kwargs["requests"], f"{path}.requests")
        try:
            spec = cls.__new__(cls)
            for f in fields(cls):
                default = f.default
                object.__setattr__(spec, f.name, kwargs.get(f.name, default))
        except TypeError as exc:  # pragma: no cover - defensive
            raise _fail(path, str(exc)) from None
        spec.validate(path)
        return spec

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.requests is not None:
            out["requests"] = list(self.requests)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileConfig:
    """One vendor-shaped API served under ``/{name}`` (or ``prefix``).

    ``records`` are generated from the simulator seed with event times spread over ``window``
    seconds ending at the simulator's anchor time; ``growth_per_minute`` keeps adding new records
    as the clock moves (for daemon tests). Credentials default to fixed fake values
    (``sim-<kind>-token``); ``token_lifetime`` is the ``expires_in`` of OAuth tokens (default: the
    vendor's, Graph 3599 s, Okta 3600 s, CrowdStrike 1799 s).
    ``max_page_size`` overrides the vendor's cap, ``cursor_ttl`` makes cursors expire (410/400),
    ``rate_limit_per_minute`` enforces a real per-minute budget in the vendor's dialect.
    """

    kind: str
    name: str = ""
    prefix: str | None = None
    records: int = 250
    window: float = 86_400.0
    growth_per_minute: float = 0.0
    token: str | None = None
    key_id: str = "1"
    client_id: str = "sim-client"
    client_secret: str | None = None
    token_lifetime: float | None = None
    max_page_size: int | None = None
    cursor_ttl: float | None = None
    rate_limit_per_minute: int | None = None

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.kind)
        self.validate("profile")

    def validate(self, path: str) -> None:
        if self.kind not in PROFILE_KINDS:
            raise _fail(f"{path}.kind", f"{self.kind!r} is not one of {', '.join(PROFILE_KINDS)}")
        if not _NAME.match(self.name):
            raise _fail(f"{path}.name", f"{self.name!r} must match [a-z0-9][a-z0-9_-]*")
        if self.prefix is not None and self.prefix and not self.prefix.startswith("/"):
            raise _fail(f"{path}.prefix", f"{self.prefix!r} must be empty or start with '/'")
        if not isinstance(self.records, int) or self.records < 0:
            raise _fail(f"{path}.records", f"{self.records!r} is not an integer >= 0")
        for name in ("window", "growth_per_minute", "token_lifetime"):
            v = getattr(self, name)
            if v is None and name == "token_lifetime":
                continue
            if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
                raise _fail(f"{path}.{name}", f"{v!r} is not a number >= 0")
        for name in ("max_page_size", "rate_limit_per_minute"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise _fail(f"{path}.{name}", f"{v!r} is not an integer >= 1")
        if self.cursor_ttl is not None and self.cursor_ttl <= 0:
            raise _fail(f"{path}.cursor_ttl", f"{self.cursor_ttl!r} is not a number > 0")

    @property
    def mount(self) -> str:
        """The path prefix this profile is served under ("" = the root)."""
        return f"/{self.name}" if self.prefix is None else self.prefix.rstrip("/")

    @property
    def secret(self) -> str:
        """The API token / key the profile accepts (a fixed fake unless configured)."""
        if self.token:
            return self.token
        return "xoxp-sim-slack-token" if self.kind == "slack" else f"sim-{self.kind}-token"

    @property
    def oauth_secret(self) -> str:
        """The OAuth client secret (Graph, Okta OAuth)."""
        return self.client_secret or f"sim-{self.kind}-secret"

    def __repr__(self) -> str:
        return f"ProfileConfig(kind={self.kind!r}, name={self.name!r}, records={self.records})"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "profile") -> ProfileConfig:
        if not isinstance(data, Mapping):
            raise _fail(path, f"expected an object with 'kind', got {data!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise _fail(f"{path}.{unknown[0]}", f"unknown field; known: {', '.join(sorted(known))}")
        if "kind" not in data:
            raise _fail(f"{path}.kind", "missing; one of " + ", ".join(PROFILE_KINDS))
        obj = cls.__new__(cls)
        for f in fields(cls):
            object.__setattr__(obj, f.name, data.get(f.name, f.default))
        if not obj.name:
            object.__setattr__(obj, "name", obj.kind)
        obj.validate(path)
        return obj


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
            raise _fail(f"faults[{i}]", f"{item!r} is not 'kind', 'kind:probability' or 'kind/n'")
        name, prob, every = m[1], m[2], m[3]
        kind = _ALIASES.get(name, name)
        status = int(name) if name.isdigit() and name.startswith("5") else None
        try:
            probability = float(prob) if prob else None
        except ValueError:
            raise _fail(f"faults[{i}]", f"{prob!r} is not a probability") from None
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


def default_profiles(records: int = 250) -> tuple[ProfileConfig, ...]:
    """One profile of every kind, each with ``records`` records."""
    return tuple(ProfileConfig(kind=k, records=records) for k in PROFILE_KINDS)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatorConfig:
    """The whole simulator: seed, profiles, faults active from the start, clock.

    ``anchor_time`` (epoch seconds) is where the generated time window ends; by default the
    clock's time when the simulator starts. With a fixed ``seed`` and ``anchor_time`` (or a
    :class:`~collectorkit.FakeClock`) every record, id and timestamp is reproducible.
    """

    seed: int = 0
    profiles: tuple[ProfileConfig, ...] = field(default_factory=default_profiles)
    faults: tuple[FaultSpec, ...] = ()
    anchor_time: float | None = None
    clock: Clock = field(default_factory=SystemClock)
    admin: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "profiles", tuple(self.profiles))
        object.__setattr__(self, "faults", tuple(self.faults))
        names: set[str] = set()
        mounts: set[str] = set()
        for i, p in enumerate(self.profiles):
            if p.name in names:
                raise _fail(f"profiles[{i}].name", f"{p.name!r} is used by another profile")
            if p.mount in mounts:
                raise _fail(f"profiles[{i}].prefix", f"{p.mount!r} is used by another profile")
            names.add(p.name)
            mounts.add(p.mount)
        if not isinstance(self.seed, int):
            raise _fail("seed", f"{self.seed!r} is not an integer")

    def profile(self, name: str) -> ProfileConfig:
        for p in self.profiles:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.profiles)
        raise ConfigError(f"no profile named {name!r}; known: {known}", path="profiles")

    def with_faults(self, *faults: FaultSpec) -> SimulatorConfig:
        """A copy with ``faults`` added to the start-up faults."""
        return replace(self, faults=(*self.faults, *faults))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimulatorConfig:
        """Build from ``{"seed": 1, "profiles": [{"kind": "okta"}, "xdr"], "faults": [...]}``.

        ``records`` at the top level is the default count of every profile.
        """
        if not isinstance(data, Mapping):
            raise _fail("<root>", f"expected an object, got {type(data).__name__}")
        allowed = {"seed", "profiles", "faults", "anchor_time", "admin", "records"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise _fail(unknown[0], f"unknown field; known: {', '.join(sorted(allowed))}")
        records = data.get("records", 250)
        raw_profiles = data.get("profiles")
        if raw_profiles is None:
            profiles = default_profiles(records)
        else:
            if not isinstance(raw_profiles, list):
                raise _fail("profiles", f"expected a list, got {raw_profiles!r}")
            profiles = tuple(
                ProfileConfig.from_dict(
                    {"records": records, **({"kind": p} if isinstance(p, str) else p)},
                    path=f"profiles[{i}]",
                )
                for i, p in enumerate(raw_profiles)
            )
        raw_faults = data.get("faults") or []
        if not isinstance(raw_faults, list):
            raise _fail("faults", f"expected a list, got {raw_faults!r}")
        faults = tuple(
            FaultSpec.from_dict(f, path=f"faults[{i}]") for i, f in enumerate(raw_faults)
        )
        return cls(
            seed=cast(int, data.get("seed", 0)),
            profiles=profiles,
            faults=faults,
            anchor_time=data.get("anchor_time"),
            admin=bool(data.get("admin", True)),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> SimulatorConfig:
        """Load a JSON (or YAML, by extension) file."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read simulator config: {exc.strerror}", path=str(p)
            ) from None
        if p.suffix in (".yaml", ".yml"):
            import yaml

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise ConfigError(f"not valid YAML: {exc}", path=str(p)) from None
        else:
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise ConfigError(f"not valid JSON: {exc}", path=str(p)) from None
        return cls.from_dict(data)
