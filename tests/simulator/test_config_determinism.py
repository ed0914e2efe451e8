"""Configuration validation, determinism for a seed, and the command-line entry points."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from collectorkit import ConfigError, FakeClock
from collectorkit.simulator import (
    FaultSpec,
    ProfileConfig,
    Simulator,
    SimulatorConfig,
    SimulatorServer,
    build_config,
    create_app,
    parse_faults,
)

ANCHOR = 1_790_000_000.0


def _sim(seed: int) -> Simulator:
    return Simulator(SimulatorConfig(seed=seed, anchor_time=ANCHOR, clock=FakeClock(start=ANCHOR)))


def test_same_seed_same_records_different_seed_different() -> None:
    a, b, c = _sim(3), _sim(3), _sim(4)
    for kind in a.profiles:
        assert a.records(kind) == b.records(kind)
        assert a.records(kind) != c.records(kind)
        times = list(a.records(kind))
        assert len(times) == 250


def test_same_seed_same_responses_over_http() -> None:
    def first_pages() -> list[bytes]:
        cfg = SimulatorConfig(
            seed=9,
            anchor_time=ANCHOR,
            clock=FakeClock(start=ANCHOR),
            profiles=(
                ProfileConfig(kind="github", records=40),
                ProfileConfig(kind="generic", records=40),
            ),
        )
        with SimulatorServer(cfg) as sim, httpx.Client() as client:
            gh = client.get(
                sim.credentials("github")["url"],
                headers={"Authorization": "Bearer sim-github-token"},
            )
            gen = client.get(
                sim.url("generic") + "/v1/events", headers={"X-API-Key": "sim-generic-token"}
            )
            return [gh.content, gen.content, gh.headers["link"].replace(sim.base_url, "").encode()]

    assert first_pages() == first_pages()


def test_timestamps_spread_over_the_window() -> None:
    sim = Simulator(
        SimulatorConfig(
            anchor_time=ANCHOR, profiles=(ProfileConfig(kind="github", records=500, window=3600),)
        )
    )
    stamps = [r["@timestamp"] for r in sim.records("github")]
    assert ANCHOR * 1000 - 3_600_000 <= min(stamps) < max(stamps) < ANCHOR * 1000
    assert max(stamps) - min(stamps) > 3_000_000


def test_growth_adds_records_as_the_clock_moves() -> None:
    clock = FakeClock(start=ANCHOR)
    cfg = SimulatorConfig(
        anchor_time=ANCHOR,
        clock=clock,
        profiles=(ProfileConfig(kind="generic", records=10, growth_per_minute=30),),
    )
    with SimulatorServer(cfg) as sim, httpx.Client() as client:
        url, h = sim.url("generic") + "/v1/events", {"X-API-Key": "sim-generic-token"}
        assert len(client.get(url, headers=h).json()["data"]["events"]) == 10
        clock.advance(120)
        events = client.get(url, headers=h).json()["data"]["events"]
        assert len(events) == 70
        assert events[-1]["created_at"] > events[9]["created_at"]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"kind": "explode"}, "fault.kind: 'explode' is not one of"),
        ({"kind": "slow", "delay": -1}, "fault.delay: -1 is not a number of seconds"),
        ({"kind": "slow", "requests": "5-3"}, "fault.requests: '5-3'"),
        ({"kind": "slow", "every": 0}, "fault.every: 0 is not an integer >= 1"),
        ({"kind": "slow", "colour": "red"}, "fault.colour: unknown field"),
        ({"kind": "rate_limit", "retry_after_format": "minutes"}, "fault.retry_after_format"),
        ({"kind": "server_error", "status": 200}, "fault.status: 200 is not an HTTP error status"),
        ({"target": "okta"}, "fault.kind: missing"),
    ],
)
def test_fault_validation_names_field_and_value(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        FaultSpec.from_dict(doc)
    assert message in str(info.value)


def test_profile_and_simulator_validation() -> None:
    with pytest.raises(ConfigError, match=r"profiles\[1\]\.kind: 'splunk' is not one of"):
        SimulatorConfig.from_dict({"profiles": ["okta", {"kind": "splunk"}]})
    with pytest.raises(ConfigError, match=r"profiles\[1\]\.name: 'okta' is used by another"):
        SimulatorConfig(profiles=(ProfileConfig(kind="okta"), ProfileConfig(kind="okta")))
    with pytest.raises(ConfigError, match="records: -1"):
        ProfileConfig(kind="okta", records=-1)
    with pytest.raises(ConfigError, match="colour: unknown field"):
        SimulatorConfig.from_dict({"colour": 1})
    with pytest.raises(ConfigError, match="no profile named 'nope'"):
        _sim(1).api("nope")
    with pytest.raises(ConfigError, match=r"faults\[0\]\.kind"):
        build_config(faults='[{"kind": "x"}]')
    with pytest.raises(ConfigError, match="not valid JSON"):
        build_config(faults="[")


def test_from_dict_and_from_file(tmp_path: Path) -> None:
    doc = {
        "seed": 4,
        "records": 12,
        "profiles": ["okta", {"kind": "generic", "name": "events2", "records": 3}],
        "faults": [{"kind": "slow", "requests": 2}],
    }
    path = tmp_path / "sim.json"
    path.write_text(json.dumps(doc))
    cfg = SimulatorConfig.from_file(path)
    assert [(p.name, p.records) for p in cfg.profiles] == [("okta", 12), ("events2", 3)]
    assert cfg.faults[0].requests == (2,)
    yml = tmp_path / "sim.yaml"
    yml.write_text("seed: 4\nprofiles: [xdr]\n")
    assert SimulatorConfig.from_file(yml).profiles[0].kind == "xdr"
    yml.write_text("seed: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        SimulatorConfig.from_file(yml)
    with pytest.raises(ConfigError, match="cannot read"):
        SimulatorConfig.from_file(tmp_path / "missing.json")


def test_fault_shorthand_of_the_command_line() -> None:
    specs = parse_faults("429, 5xx:0.2, reset/10, 502/3, ties, slow")
    assert [(f.kind, f.probability, f.every, f.status) for f in specs] == [
        ("rate_limit", 0.1, None, None),
        ("server_error", 0.2, None, None),
        ("reset", None, 10, None),
        ("server_error", None, 3, 502),
        ("boundary_ties", None, None, None),
        ("slow", 0.1, None, None),
    ]
    assert parse_faults('[{"kind": "update", "count": 2}]')[0].count == 2
    with pytest.raises(ConfigError, match=r"faults\[1\]: 'x\?' is not"):
        parse_faults("429,x?")
    with pytest.raises(ConfigError, match=r"faults\[0\]\.kind: 'bogus'"):
        parse_faults("bogus")
    with pytest.raises(ConfigError, match=r"faults\[0\]\.probability"):
        parse_faults("429:1.5")


def test_build_config_from_simple_arguments() -> None:
    cfg = build_config(
        seed=2,
        profiles=["okta", "xdr"],
        records={"okta": 7},
        faults='{"kind": "reset", "every": 9}',
    )
    assert [(p.kind, p.records) for p in cfg.profiles] == [("okta", 7), ("xdr", 250)]
    assert cfg.faults == (FaultSpec(kind="reset", every=9),)
    assert len(build_config().profiles) == 9


def test_app_works_in_process_without_uvicorn() -> None:
    app = create_app(SimulatorConfig(profiles=(ProfileConfig(kind="generic", records=5),)))
    transport = httpx.ASGITransport(app=app)

    async def fetch() -> int:
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
            r = await c.get("/generic/v1/events", headers={"X-API-Key": "sim-generic-token"})
            return len(r.json()["data"]["events"])

    import asyncio

    assert asyncio.run(fetch()) == 5
    assert app.state.simulator.ledger.pages("generic") == 1


async def test_async_context_manager() -> None:
    cfg = SimulatorConfig(profiles=(ProfileConfig(kind="slack", records=3),))
    async with SimulatorServer(cfg) as sim, httpx.AsyncClient() as client:
        r = await client.get(
            sim.url("slack") + "/audit/v1/logs",
            headers={"Authorization": "Bearer xoxp-sim-slack-token"},
        )
        assert len(r.json()["entries"]) == 3


def test_run_simulator_serves_until_stopped(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "from collectorkit.simulator import run_simulator; "
        f"run_simulator('127.0.0.1', {port}, seed=1, profiles=['okta'], records=5, "
        "log_level='warning')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = httpx.get(
                    f"http://127.0.0.1:{port}/okta/api/v1/logs",
                    headers={"Authorization": "SSWS sim-okta-token"},
                )
                break
            except httpx.TransportError:
                assert proc.poll() is None
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert len(r.json()) == 5
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert proc.returncode == 0
