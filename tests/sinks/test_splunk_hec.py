"""The Splunk HEC sink against the simulator's HEC endpoint (indexer acknowledgement with delayed,
lost and refused acks, 503 busy): every record is indexed at least once, and a page counts as
stored only once the indexer acknowledged it. Simulator and sink share a fake clock, so ack
delays and timeouts take no real time."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from collectorkit import (
    ConfigError,
    Envelope,
    FakeClock,
    RetryPolicy,
    SinkError,
    collect_into,
    record_key,
)
from collectorkit.config import config_json_schema
from collectorkit.simulator import FaultSpec, ProfileConfig, SimulatorConfig, SimulatorServer
from collectorkit.simulator._vendor_splunk_hec import SplunkHECAPI
from collectorkit.sinks import SplunkHECSink, build_sink
from collectorkit.state import SQLiteStateStore
from tests.sinks._support import generic_blueprint

TOKEN = "sim-splunk_hec-token"
HEC = ProfileConfig(kind="splunk_hec", records=0)


def _batch(n: int, start: int = 0) -> list[Envelope]:
    return [
        Envelope("xdr", record_key("xdr", {"id": i}, ["id"]), {"id": i, "ts": 1_700_000_000 + i})
        for i in range(start, start + n)
    ]


def _sink(sim: SimulatorServer, clock: FakeClock, **options: Any) -> SplunkHECSink:
    return SplunkHECSink(
        sim.url("splunk_hec"),
        token=TOKEN,
        clock=clock,
        retry=RetryPolicy(max_attempts=4, initial_delay=0.5),
        **{"batch_size": 10, "ack_timeout": 10.0, **options},
    )


def _hec(sim: SimulatorServer) -> SplunkHECAPI:
    api = sim.simulator.api("splunk_hec")
    assert isinstance(api, SplunkHECAPI)
    return api


def _indexed(sim: SimulatorServer, clock: FakeClock) -> dict[Any, int]:
    counts: dict[Any, int] = {}
    for event in _hec(sim).indexed(clock.time()):
        counts[event["event"]["id"]] = counts.get(event["event"]["id"], 0) + 1
    return counts


def _config(clock: FakeClock, *faults: FaultSpec, extra: tuple[ProfileConfig, ...] = ()) -> Any:
    return SimulatorConfig(seed=3, profiles=(HEC, *extra), faults=faults, clock=clock)


async def test_events_carry_time_source_index_and_the_record_key() -> None:
    clock = FakeClock()
    async with SimulatorServer(_config(clock)) as sim:
        sink = _sink(sim, clock, index="security", sourcetype="xdr:alert", time_field="ts")
        async with sink:
            result = await sink.store(_batch(3))
        events = _hec(sim).indexed(clock.time())
    assert result.written == 3
    assert [e["time"] for e in events] == [1_700_000_000, 1_700_000_001, 1_700_000_002]
    assert {(e["index"], e["sourcetype"], e["source"]) for e in events} == {
        ("security", "xdr:alert", "xdr")
    }
    assert [e["fields"]["record_key"] for e in events] == [e.key for e in _batch(3)]
    assert events[0]["event"] == {"id": 0, "ts": 1_700_000_000}


async def test_gzip_and_source_placeholders() -> None:
    clock = FakeClock()
    async with SimulatorServer(_config(clock)) as sim:
        sink = _sink(sim, clock, gzip=True, index="sec-{source}", sourcetype="ck:{source}")
        async with sink:
            await sink.store(_batch(3))
        events = _hec(sim).indexed(clock.time())
    assert {(e["index"], e["sourcetype"], e["source"]) for e in events} == {
        ("sec-xdr", "ck:xdr", "xdr")
    }
    assert [e["event"]["id"] for e in events] == [0, 1, 2]


async def test_a_delayed_ack_is_waited_for_not_resent() -> None:
    clock = FakeClock()
    delayed = FaultSpec(kind="ack_delay", target="splunk_hec.event", requests="1", delay=4.0)
    async with SimulatorServer(_config(clock, delayed)) as sim:
        sink = _sink(sim, clock)
        async with sink:
            await sink.store(_batch(5))
        indexed = _indexed(sim, clock)
    assert indexed == dict.fromkeys(range(5), 1)
    assert sink.resent == 0
    assert sum(clock.sleeps) >= 4.0  # it polled until the indexer had the events


async def test_a_lost_ack_is_resent_after_the_ack_timeout() -> None:
    clock = FakeClock()
    lost = FaultSpec(kind="ack_lost", target="splunk_hec.event", requests="2")
    async with SimulatorServer(_config(clock, lost)) as sim:
        sink = _sink(sim, clock, ack_timeout=5.0)
        async with sink:
            await sink.store(_batch(30))
        indexed = _indexed(sim, clock)
    assert set(indexed) == set(range(30))
    assert sink.resent == 1
    assert max(indexed.values()) == 1  # the lost request was never indexed: its resend once


async def test_a_refused_ack_query_resends_what_was_pending() -> None:
    clock = FakeClock()
    faults = (
        FaultSpec(kind="ack_delay", target="splunk_hec.event", requests="1", delay=3.0),
        FaultSpec(kind="ack_refused", target="splunk_hec.ack", requests="1"),
    )
    async with SimulatorServer(_config(clock, *faults)) as sim:
        sink = _sink(sim, clock)
        async with sink:
            await sink.store(_batch(20))
        indexed = _indexed(sim, clock)
    assert set(indexed) == set(range(20))
    assert sink.resent == 2  # both requests were pending when the channel was refused
    assert max(indexed.values()) == 2  # at-least-once: the second request was indexed twice


async def test_server_busy_503_is_retried_with_backoff() -> None:
    clock = FakeClock()
    busy = FaultSpec(kind="server_error", target="splunk_hec.event", requests="1-2", status=503)
    async with SimulatorServer(_config(clock, busy)) as sim:
        sink = _sink(sim, clock)
        async with sink:
            await sink.store(_batch(4))
        indexed = _indexed(sim, clock)
    assert indexed == dict.fromkeys(range(4), 1)
    assert sink.metrics.total_retries == 2
    assert clock.sleeps  # backed off between the attempts


async def test_without_acknowledgement_a_200_counts_as_stored() -> None:
    clock = FakeClock()
    lost = FaultSpec(kind="ack_lost", target="splunk_hec.event")
    async with SimulatorServer(_config(clock, lost)) as sim:
        sink = _sink(sim, clock, ack=False)
        async with sink:
            result = await sink.store(_batch(5))
        requests = sim.stats.snapshot()["requests"]
    assert result.written == 5
    assert requests == {"splunk_hec.event": 1, "total": 1}  # the ack was never asked for
    assert clock.sleeps == []


async def test_acks_that_never_come_fail_the_page_after_the_resends() -> None:
    clock = FakeClock()
    lost = FaultSpec(kind="ack_lost", target="splunk_hec.event")
    async with SimulatorServer(_config(clock, lost)) as sim:
        sink = _sink(sim, clock, ack_timeout=2.0, max_resends=2)
        with pytest.raises(SinkError, match="not acknowledged") as info:
            async with sink:
                await sink.store(_batch(3))
        requests = sim.stats.snapshot()["requests"]
    assert TOKEN not in str(info.value)
    assert sink.resent == 2
    assert requests["splunk_hec.event"] == 3  # the first send and two resends
    assert requests["splunk_hec.ack"] >= 3  # each polled until its timeout


async def test_collect_into_hec_under_every_fault_loses_no_record(tmp_path: Path) -> None:
    clock = FakeClock()
    faults = (
        FaultSpec(kind="ack_delay", target="splunk_hec.event", every=2, delay=3.0),
        FaultSpec(kind="ack_lost", target="splunk_hec.event", requests="3,8"),
        FaultSpec(kind="ack_refused", target="splunk_hec.ack", requests="4"),
        FaultSpec(kind="server_error", target="splunk_hec.event", every=5, status=503),
    )
    generic = ProfileConfig(kind="generic", records=200)
    state = SQLiteStateStore(tmp_path / "state.db")
    async with SimulatorServer(_config(clock, *faults, extra=(generic,))) as sim:
        sink = _sink(sim, clock, batch_size=15, time_field="created_at")
        async with sink:
            report = await collect_into(
                generic_blueprint(sim.url("generic"), page_size=40), sinks=[sink], state=state
            )
        served = sim.ledger.served_ids("generic")
        indexed = _indexed(sim, clock)
    await state.aclose()
    assert len(served) == 200
    assert report.stored == 200
    assert {str(i) for i in indexed} >= served  # none lost
    assert sink.resent > 0
    assert max(indexed.values()) >= 2  # at-least-once, and the faults made it show


async def test_no_checkpoint_when_the_indexer_never_acknowledges(tmp_path: Path) -> None:
    clock = FakeClock()
    lost = FaultSpec(kind="ack_lost", target="splunk_hec.event")
    generic = ProfileConfig(kind="generic", records=30)
    async with SimulatorServer(_config(clock, lost, extra=(generic,))) as sim:
        failing = _sink(sim, clock, ack_timeout=1.0, max_resends=1)
        state = SQLiteStateStore(tmp_path / "state.db")
        with pytest.raises(SinkError):
            async with failing:
                await collect_into(
                    generic_blueprint(sim.url("generic"), page_size=40),
                    sinks=[failing],
                    state=state,
                )
        assert await state.get("collector_state", "sim") is None
        sim.clear_faults()
        sink = _sink(sim, clock)
        async with sink:
            report = await collect_into(
                generic_blueprint(sim.url("generic"), page_size=40), sinks=[sink], state=state
            )
        await state.aclose()
        indexed = _indexed(sim, clock)
    assert report.stored == 30
    assert len(indexed) == 30


def test_config_builds_the_sink_and_names_bad_options() -> None:
    channel = str(uuid.uuid4())
    sink = build_sink(
        {
            "type": "splunk_hec",
            "url": "https://splunk:8088",
            "token": "t0k3n-abcdef",
            "channel": channel,
        }
    )
    assert isinstance(sink, SplunkHECSink)
    assert sink.channel == channel
    assert "t0k3n-abcdef" not in repr(sink)
    with pytest.raises(ConfigError, match=r"sinks\[0\]\.channel.*GUID"):
        build_sink({"type": "splunk_hec", "url": "https://s:8088", "token": "x", "channel": "c1"})
    with pytest.raises(ConfigError, match=r"sinks\[0\]\.url"):
        build_sink({"type": "splunk_hec", "url": "splunk:8088", "token": "x"})


def test_the_schema_shows_the_options_and_the_token_as_a_credential() -> None:
    text = json.dumps(config_json_schema())
    start = text.index('"const": "splunk_hec"')
    options = text[start : text.index('"required"', start)]
    for option in ("sourcetype", "ack_timeout", "max_resends", "channel", "time_field"):
        assert f'"{option}"' in options
    assert "A credential" in options  # the token is read from ${ENV_VAR} or a file
