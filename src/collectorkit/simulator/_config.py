"""Simulator configuration: the seed, the profiles (one vendor-shaped API each), the faults.

Every object is frozen and keyword-only. ``from_dict``/``from_file`` accept the JSON/YAML shape
of a simulator config file; bad input raises
:class:`~collectorkit.ConfigError` naming the path, the field and the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from collectorkit._clock import Clock, SystemClock
from collectorkit._errors import ConfigError
from collectorkit.simulator._faultspec import FaultSpec
from collectorkit.simulator._fields import checked_fields, fail, unvalidated

__all__ = [
    "DESTINATION_KINDS",
    "PROFILE_KINDS",
    "ProfileConfig",
    "SimulatorConfig",
    "default_profiles",
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

DESTINATION_KINDS = ("splunk_hec",)
"""Profiles that receive events (for sink tests) instead of serving records; not in the
default profile set."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileConfig:
    """One vendor-shaped API served under ``/{name}`` (or ``prefix``).

    ``records`` are generated from the simulator seed with event times spread over ``window``
    seconds ending at the simulator's anchor time; ``growth_per_minute`` keeps adding new records
    as the clock moves (for daemon tests). Credentials default to fixed fake values
    (``sim-<kind>-token``); ``token_lifetime`` is the ``expires_in`` of OAuth tokens (default: the
    vendor's, Graph 3599 s, Okta 3600 s, CrowdStrike 1799 s).
    ``max_page_size`` overrides the vendor's cap, ``cursor_ttl`` makes cursors expire (410/400),
    ``rate_limit_per_minute`` enforces a real per-minute budget in the vendor's dialect,
    ``max_offset`` caps XDR's ``search_from`` (a 500 beyond it, as third parties report).
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
    max_offset: int | None = None

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.kind)
        self.validate("profile")

    def validate(self, path: str) -> None:
        kinds = (*PROFILE_KINDS, *DESTINATION_KINDS)
        if self.kind not in kinds:
            raise fail(f"{path}.kind", f"{self.kind!r} is not one of {', '.join(kinds)}")
        if not _NAME.match(self.name):
            raise fail(f"{path}.name", f"{self.name!r} must match [a-z0-9][a-z0-9_-]*")
        if self.prefix is not None and self.prefix and not self.prefix.startswith("/"):
            raise fail(f"{path}.prefix", f"{self.prefix!r} must be empty or start with '/'")
        if not isinstance(self.records, int) or self.records < 0:
            raise fail(f"{path}.records", f"{self.records!r} is not an integer >= 0")
        for name in ("window", "growth_per_minute", "token_lifetime"):
            v = getattr(self, name)
            if v is None and name == "token_lifetime":
                continue
            if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
                raise fail(f"{path}.{name}", f"{v!r} is not a number >= 0")
        for name in ("max_page_size", "rate_limit_per_minute", "max_offset"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise fail(f"{path}.{name}", f"{v!r} is not an integer >= 1")
        if self.cursor_ttl is not None and self.cursor_ttl <= 0:
            raise fail(f"{path}.cursor_ttl", f"{self.cursor_ttl!r} is not a number > 0")

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
        obj = unvalidated(
            cls, checked_fields(cls, data, path, (*PROFILE_KINDS, *DESTINATION_KINDS))
        )
        if not obj.name:
            object.__setattr__(obj, "name", obj.kind)
        obj.validate(path)
        return obj


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
                raise fail(f"profiles[{i}].name", f"{p.name!r} is used by another profile")
            if p.mount in mounts:
                raise fail(f"profiles[{i}].prefix", f"{p.mount!r} is used by another profile")
            names.add(p.name)
            mounts.add(p.mount)
        if not isinstance(self.seed, int):
            raise fail("seed", f"{self.seed!r} is not an integer")

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
            raise fail("<root>", f"expected an object, got {type(data).__name__}")
        allowed = {"seed", "profiles", "faults", "anchor_time", "admin", "records"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise fail(unknown[0], f"unknown field; known: {', '.join(sorted(allowed))}")
        records = data.get("records", 250)
        raw_profiles = data.get("profiles")
        if raw_profiles is None:
            profiles = default_profiles(records)
        else:
            if not isinstance(raw_profiles, list):
                raise fail("profiles", f"expected a list, got {raw_profiles!r}")
            profiles = tuple(
                ProfileConfig.from_dict(
                    {"records": records, **({"kind": p} if isinstance(p, str) else p)},
                    path=f"profiles[{i}]",
                )
                for i, p in enumerate(raw_profiles)
            )
        raw_faults = data.get("faults") or []
        if not isinstance(raw_faults, list):
            raise fail("faults", f"expected a list, got {raw_faults!r}")
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
