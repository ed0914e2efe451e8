"""The simulator's state (datasets, ledger, stats, faults) and its Starlette app.

``Simulator`` is the Python face tests use (``sim.ledger``, ``sim.faults``, ``sim.add_records``);
``create_app`` mounts every profile's vendor routes under its prefix and the admin API under
``/_sim``.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from collectorkit._errors import ConfigError
from collectorkit.simulator._config import ProfileConfig, SimulatorConfig
from collectorkit.simulator._dataset import Dataset
from collectorkit.simulator._engine import EndpointApp, VendorAPI
from collectorkit.simulator._faults import FaultPlan
from collectorkit.simulator._faultspec import FaultSpec
from collectorkit.simulator._ledger import Ledger, Stats
from collectorkit.simulator._vendors import VENDORS

__all__ = ["Simulator", "create_app"]


class Simulator:
    """All state of one simulator run. Thread-safe: the server thread and tests share it."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.clock = self.config.clock
        self.lock = threading.RLock()
        self.anchor_time = (
            self.config.anchor_time if self.config.anchor_time is not None else self.clock.time()
        )
        self.apis: dict[str, VendorAPI] = {}
        for profile in self.config.profiles:
            self.apis[profile.name] = self._build(profile)
        self.ledger = Ledger(self._existing)
        self.stats = Stats()
        self.faults = FaultPlan(self.config.seed)
        self.add_faults(*self.config.faults)

    def _build(self, profile: ProfileConfig) -> VendorAPI:
        cls = VENDORS[profile.kind]
        rng = random.Random(f"{self.config.seed}:{profile.name}")
        dataset = Dataset(
            factory=cls.make_fields, id_field=cls.id_field, rng=rng, granularity=cls.granularity
        )
        end_ms = int(self.anchor_time * 1000)
        dataset.generate(
            profile.records, start_ms=end_ms - int(profile.window * 1000), end_ms=end_ms
        )
        return cls(profile, dataset, rng)

    def _existing(self, profile: str) -> set[str]:
        with self.lock:
            return self.api(profile).dataset.ids()

    def api(self, profile: str) -> VendorAPI:
        try:
            return self.apis[profile]
        except KeyError:
            known = ", ".join(self.apis)
            raise ConfigError(
                f"no profile named {profile!r}; known: {known}", path="profile"
            ) from None

    @property
    def profiles(self) -> list[str]:
        return list(self.apis)

    # -- faults -----------------------------------------------------------------------------
    def add_faults(self, *specs: FaultSpec) -> None:
        """Install faults now. ``boundary_ties`` reshapes the matching datasets at once."""
        with self.lock:
            for spec in specs:
                if spec.kind == "boundary_ties":
                    for name, api in self.apis.items():
                        if spec.target in ("*", name) or spec.target.startswith(name + "."):
                            api.dataset.tie(spec.at, spec.count)
                            self.stats.fault(name, "boundary_ties")
            self.faults.add(*specs)

    def set_faults(self, *specs: FaultSpec) -> None:
        """Replace every installed fault."""
        self.faults.clear()
        self.add_faults(*specs)

    def clear_faults(self) -> None:
        self.faults.clear()

    # -- records ----------------------------------------------------------------------------
    def add_records(self, profile: str, count: int, *, late_by: float = 0.0) -> list[str]:
        """Insert ``count`` records now (event time ``late_by`` seconds ago); their ids."""
        with self.lock:
            now_ms = int(self.clock.time() * 1000)
            made = self.api(profile).dataset.add(count, now_ms=now_ms, age_ms=int(late_by * 1000))
            return [r.id for r in made]

    def update_records(self, profile: str, ids: list[str]) -> list[str]:
        """Bump version and update time of ``ids`` (they will be re-delivered)."""
        with self.lock:
            now_ms = int(self.clock.time() * 1000)
            return [r.id for r in self.api(profile).dataset.update(ids, now_ms=now_ms)]

    def records(self, profile: str) -> list[dict[str, Any]]:
        """Every record of ``profile`` as the vendor renders it, in event-time order."""
        with self.lock:
            api = self.api(profile)
            return [api.render(r) for r in api.dataset.view("event")[1]]

    def credentials(self, profile: str, base_url: str = "") -> dict[str, str]:
        """The fake credentials a client of ``profile`` needs (token, key id, client secret...)."""
        api = self.api(profile)
        return api.credentials(base_url.rstrip("/") + api.profile.mount)

    def reset_counters(self) -> None:
        """Forget the ledger and the stats (not the records)."""
        self.ledger.clear()
        self.stats.clear()

    def describe(self, base_url: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {"seed": self.config.seed, "profiles": {}}
        for name, api in self.apis.items():
            mount = base_url.rstrip("/") + api.profile.mount
            out["profiles"][name] = {
                "kind": api.kind,
                "base_url": mount,
                "records": len(api.dataset),
                "endpoints": {e.name: [mount + p for p in e.paths] for e in api.endpoints()},
                "credentials": self.credentials(name, base_url),
            }
        return out


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _admin_routes(sim: Simulator) -> list[BaseRoute]:
    async def index(request: Request) -> Response:
        return _json(sim.describe(str(request.base_url)))

    async def ledger(request: Request) -> Response:
        wanted = request.query_params.get("profile")
        names = [wanted] if wanted else sim.profiles
        try:
            return _json(sim.ledger.snapshot(sim.api(n).profile.name for n in names))
        except ConfigError as exc:
            return _json({"error": str(exc)}, 404)

    async def stats(request: Request) -> Response:
        return _json(sim.stats.snapshot())

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            sim.clear_faults()
        elif request.method == "POST":
            try:
                doc = orjson.loads(await request.body())
                items = (
                    doc.get("faults", []) if isinstance(doc, dict) and "kind" not in doc else doc
                )
                items = items if isinstance(items, list) else [items]
                specs = [FaultSpec.from_dict(f, path=f"faults[{i}]") for i, f in enumerate(items)]
            except (orjson.JSONDecodeError, ConfigError, AttributeError) as exc:
                return _json({"error": str(exc)}, 400)
            if isinstance(doc, dict) and doc.get("mode") == "replace":
                sim.set_faults(*specs)
            else:
                sim.add_faults(*specs)
        return _json({"faults": sim.faults.describe()})

    async def records(request: Request) -> Response:
        try:
            doc = orjson.loads(await request.body())
            profile = str(doc["profile"])
            if doc.get("update"):
                ids = sim.update_records(profile, [str(i) for i in doc["update"]])
            else:
                ids = sim.add_records(
                    profile, int(doc.get("count", 1)), late_by=float(doc.get("late_by", 0))
                )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            return _json({"error": f"bad request: {exc}"}, 400)
        return _json({"profile": profile, "ids": ids})

    async def reset(request: Request) -> Response:
        sim.reset_counters()
        return _json({"ok": True})

    return [
        Route("/_sim", index, methods=["GET"]),
        Route("/_sim/ledger", ledger, methods=["GET"]),
        Route("/_sim/stats", stats, methods=["GET"]),
        Route("/_sim/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sim/records", records, methods=["POST"]),
        Route("/_sim/reset", reset, methods=["POST"]),
    ]


def create_app(config: SimulatorConfig | Simulator | None = None) -> Starlette:
    """The ASGI app; ``app.state.simulator`` is the :class:`Simulator` behind it."""
    sim = config if isinstance(config, Simulator) else Simulator(config)
    routes: list[BaseRoute] = []
    for api in sim.apis.values():
        for endpoint in api.endpoints():
            handler = EndpointApp(sim, api, endpoint)
            methods = list(endpoint.methods)
            routes.extend(
                Route(api.profile.mount + p, handler, methods=methods) for p in endpoint.paths
            )
    if sim.config.admin:
        routes.extend(_admin_routes(sim))
    app = Starlette(routes=routes)
    app.state.simulator = sim
    return app
