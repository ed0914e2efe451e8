from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import pytest

from collectorkit.simulator import ProfileConfig, SimulatorConfig, SimulatorServer

RECORDS = 237


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    """Every vendor profile with 237 records, shared by a module; faults reset per test."""
    kinds = (
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
    cfg = SimulatorConfig(
        seed=11, profiles=tuple(ProfileConfig(kind=k, records=RECORDS) for k in kinds)
    )
    with SimulatorServer(cfg) as sim:
        yield sim


@pytest.fixture
def sim(server: SimulatorServer) -> Iterator[SimulatorServer]:
    server.clear_faults()
    server.simulator.reset_counters()
    yield server
    server.clear_faults()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c
