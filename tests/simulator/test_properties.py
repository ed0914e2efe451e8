"""Properties: whatever the page size and window, a fault-free walk serves each record once."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectorkit import FakeClock
from collectorkit.simulator import FaultSpec, ProfileConfig, SimulatorConfig, SimulatorServer
from collectorkit.simulator._timefmt import iso
from tests.simulator.walkers import walk_generic, walk_links, walk_onepassword, walk_slack

ANCHOR = 1_790_000_000.0
N = 120
SETTINGS = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def prop_sim() -> Iterator[SimulatorServer]:
    kinds = ("generic", "github", "slack", "onepassword")
    cfg = SimulatorConfig(
        seed=3,
        anchor_time=ANCHOR,
        clock=FakeClock(start=ANCHOR),
        profiles=tuple(ProfileConfig(kind=k, records=N, window=600) for k in kinds),
    )
    with SimulatorServer(cfg) as sim:
        yield sim


@pytest.fixture(scope="module")
def prop_client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


window = st.tuples(st.integers(0, N), st.integers(0, N)).map(sorted)


@SETTINGS
@given(limit=st.integers(1, 60), bounds=window)
def test_generic_window_walk_is_exact(
    prop_sim: SimulatorServer, prop_client: httpx.Client, limit: int, bounds: list[int]
) -> None:
    everything = prop_sim.simulator.records("generic")
    stamps = sorted({r["created_at"] for r in everything})
    lo = stamps[min(bounds[0], len(stamps) - 1)]
    hi = stamps[min(bounds[1], len(stamps) - 1)]
    url = prop_sim.url("generic") + "/v1/events"
    got = walk_generic(prop_client, url, "sim-generic-token", limit=limit, since=lo, until=hi)
    assert [r["id"] for r in got] == [r["id"] for r in everything if lo <= r["created_at"] < hi]


@SETTINGS
@given(
    per_page=st.integers(1, 100),
    order=st.sampled_from(["asc", "desc"]),
    start=st.integers(0, N - 1),
)
def test_github_walk_is_exact_in_both_orders(
    prop_sim: SimulatorServer, prop_client: httpx.Client, per_page: int, order: str, start: int
) -> None:
    everything = prop_sim.simulator.records("github")
    since = everything[start]["@timestamp"]
    params = {"per_page": per_page, "order": order, "phrase": f"created:>={iso(since)}"}
    h = {"Authorization": "Bearer sim-github-token"}
    got, _ = walk_links(prop_client, prop_sim.credentials("github")["url"], h, params)
    expected = [r["_document_id"] for r in everything if r["@timestamp"] >= since]
    assert [r["_document_id"] for r in got] == (expected if order == "asc" else expected[::-1])


@SETTINGS
@given(limit=st.integers(1, 50))
def test_slack_and_onepassword_walks_are_exact(
    prop_sim: SimulatorServer, prop_client: httpx.Client, limit: int
) -> None:
    slack = walk_slack(
        prop_client, prop_sim.url("slack") + "/audit/v1/logs", "xoxp-sim-slack-token", limit=limit
    )
    assert sorted(e["id"] for e in slack) == sorted(
        r["id"] for r in prop_sim.simulator.records("slack")
    )
    url = prop_sim.url("onepassword") + "/api/v1/signinattempts"
    items, _ = walk_onepassword(prop_client, url, "sim-onepassword-token", {"limit": limit})
    assert len(items) == len({i["uuid"] for i in items}) == N


transient = st.sampled_from(["rate_limit", "server_error", "reset", "malformed"])


@SETTINGS
@given(
    faults=st.lists(
        st.tuples(transient, st.sets(st.integers(1, 12), min_size=1, max_size=4)),
        min_size=1,
        max_size=3,
    ),
    limit=st.integers(10, 60),
)
def test_transient_faults_serve_nothing_so_a_retrying_walk_is_exact(
    prop_sim: SimulatorServer,
    prop_client: httpx.Client,
    faults: list[tuple[str, set[int]]],
    limit: int,
) -> None:
    prop_sim.simulator.reset_counters()
    prop_sim.set_faults(
        *(FaultSpec(kind=k, target="generic", requests=sorted(r), retry_after=0) for k, r in faults)
    )
    url = prop_sim.url("generic") + "/v1/events"
    h = {"Authorization": "Bearer sim-generic-token"}
    got: list[str] = []
    failures = 0
    cursor = None
    try:
        for _ in range(200):
            try:
                r = prop_client.get(
                    url,
                    params={"limit": limit, **({"cursor": cursor} if cursor else {})},
                    headers=h,
                )
                body = r.raise_for_status().json()
            except (httpx.HTTPError, ValueError):
                failures += 1
                continue
            got += [e["id"] for e in body["data"]["events"]]
            cursor = body["meta"]["next_cursor"]
            if not cursor:
                break
    finally:
        prop_sim.clear_faults()
    assert sorted(got) == sorted(prop_sim.ledger.existing("generic"))
    assert prop_sim.ledger.served("generic") == dict.fromkeys(got, 1)
    fired = prop_sim.stats.snapshot()["faults"]
    assert failures == sum(fired.values())  # every fault that took effect failed one request
