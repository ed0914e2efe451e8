"""collectorkit.simulator: vendor-shaped APIs on localhost with injectable faults and a ledger.

A standalone fake of the outside world for the demo, the tests and the benchmarks: Cortex XDR
alerts, Okta System Log, Microsoft Graph alerts_v2 (with an OAuth2 token endpoint), GitHub audit
log, Slack audit logs, 1Password events, CrowdStrike alerts, AlienVault OTX pulses and a generic
cursor API, each generated from a seed.
Faults (429, 5xx, resets, slow and malformed pages, token expiry, expired cursors, late and
updated records, duplicates, ties, offset drift, never-ending cursors) are switched on at start or
at run time; the ledger knows every record served. See ``README.md`` in this folder::

    from collectorkit.simulator import FaultSpec, SimulatorConfig, SimulatorServer

    cfg = SimulatorConfig(seed=7).with_faults(FaultSpec(kind="rate_limit", every=5))
    with SimulatorServer(cfg) as sim:
        url = sim.url("generic") + "/v1/events"      # Bearer sim-generic-token
        ...
        assert sim.ledger.compare("generic", stored_ids).ok
"""

from collectorkit.simulator._app import Simulator, create_app
from collectorkit.simulator._config import (
    PROFILE_KINDS,
    ProfileConfig,
    SimulatorConfig,
    default_profiles,
)
from collectorkit.simulator._faultspec import FAULT_KINDS, FaultSpec, parse_faults
from collectorkit.simulator._ledger import Ledger, LedgerComparison, Stats
from collectorkit.simulator._server import SimulatorServer, build_config, run_simulator

__all__ = [  # noqa: RUF022 - plain sorted(), the order tests/test_exported_members.py checks
    "FAULT_KINDS",
    "FaultSpec",
    "Ledger",
    "LedgerComparison",
    "PROFILE_KINDS",
    "ProfileConfig",
    "Simulator",
    "SimulatorConfig",
    "SimulatorServer",
    "Stats",
    "build_config",
    "create_app",
    "default_profiles",
    "parse_faults",
    "run_simulator",
]
