"""Crash test of the at-least-once sinks: ``collectorkit run`` collecting from the simulator into
Splunk HEC (the simulator's HEC endpoint, with delayed and lost acks and 503s), syslog (a real
rsyslogd) or Kafka (a Tansu broker) is SIGKILLed at random moments and restarted, while the
simulator adds records between runs and injects 5xx, resets and slow pages.

After a final clean run every record the simulator served reached the destination at least
once: zero lost, none that never existed. Repeats are allowed (these destinations have no
idempotent write) and counted; print them with ``-s``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from collectorkit.simulator import FaultSpec, ProfileConfig, SimulatorConfig, SimulatorServer
from collectorkit.simulator._vendor_splunk_hec import SplunkHECAPI
from tests._servers import RunningServer, start_or_skip
from tests._stream_servers import RunningRsyslog, start_kafka, start_rsyslog
from tests.evidence._daemon import final_run, sigkill_runs
from tests.evidence._support import generic_source, read_state, timed_simulator, write_config

pytestmark = [pytest.mark.slow, pytest.mark.integration]

KILLS = int(os.environ.get("EVIDENCE_AT_LEAST_ONCE_KILLS", "12"))
SOURCE = "crash_events"

Reader = Callable[[], list[str]]


async def _kafka_ids(bootstrap: str, topic: str) -> list[str]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    ids: list[str] = []
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=300)
            if not batches:
                return ids
            ids += [str(json.loads(m.value)["id"]) for p in batches.values() for m in p]
    finally:
        await consumer.stop()


def _destination(
    kind: str, sim: SimulatorServer, servers: list[RunningServer]
) -> tuple[dict[str, Any], Reader]:
    """The sink's config and a reader of the ids the destination holds."""
    if kind == "splunk_hec":
        api = sim.simulator.api("splunk_hec")
        assert isinstance(api, SplunkHECAPI)
        sink = {
            "type": "splunk_hec",
            "url": sim.url("splunk_hec"),
            "token": "${EVIDENCE_HEC_TOKEN}",
            "ack_timeout": 1.0,
            "ack_poll_interval": 0.05,
            "time_field": "created_at",
        }
        return sink, lambda: [str(e["event"]["id"]) for e in api.indexed(time.time())]
    if kind == "syslog":
        rsyslog = start_or_skip(start_rsyslog)
        servers.append(rsyslog)
        assert isinstance(rsyslog, RunningRsyslog)
        sink = {"type": "syslog", "host": "127.0.0.1", "port": rsyslog.port}
        return sink, lambda: [str(json.loads(m["msg"])["id"]) for m in rsyslog.messages()]
    broker = start_or_skip(start_kafka)
    servers.append(broker)
    topic = f"crash-{random.randrange(10**8)}"
    sink = {"type": "kafka", "bootstrap_servers": broker.url, "topic": topic}
    sink |= {"idempotence": False, "timeout": 10}  # Tansu refuses InitProducerId
    return sink, lambda: asyncio.run(_kafka_ids(broker.url, topic))


@pytest.fixture
def servers() -> Iterator[list[RunningServer]]:
    started: list[RunningServer] = []
    yield started
    for server in started:
        server.stop()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["splunk_hec", "syslog", "kafka"])
def test_sigkilled_daemon_loses_nothing(
    kind: str, tmp_path: Path, servers: list[RunningServer]
) -> None:
    faults = (
        FaultSpec(kind="server_error", target="generic", probability=0.05),
        FaultSpec(kind="reset", target="generic", probability=0.03),
        FaultSpec(kind="slow", target="generic", probability=0.3, delay=0.03),
        FaultSpec(kind="ack_delay", target="splunk_hec.event", probability=0.3, delay=0.2),
        FaultSpec(kind="ack_lost", target="splunk_hec.event", probability=0.05),
        FaultSpec(kind="server_error", target="splunk_hec.event", probability=0.05),
    )
    profiles = (ProfileConfig(kind="generic", records=800), ProfileConfig(kind="splunk_hec"))
    rng = random.Random(f"crash-{kind}")
    with timed_simulator(SimulatorConfig(seed=23, profiles=profiles, faults=faults)) as (sim, _):
        sink, stored = _destination(kind, sim, servers)
        state_url = f"sqlite:///{tmp_path / 'state.db'}"
        config = {
            "state": state_url,
            "sinks": [sink],
            "shutdown_grace": "5s",
            "status": {"host": "127.0.0.1", "port": 0},
            "defaults": {"retry": {"max_attempts": 10, "initial_delay": 0.02, "max_delay": 0.2}},
            "sources": [generic_source(SOURCE, sim.url("generic"), limit=25, interval="0.5s")],
        }
        path = write_config(tmp_path / "collectorkit.yaml", config)
        env = {
            **os.environ,
            "EVIDENCE_GENERIC_TOKEN": sim.credentials("generic")["token"],
            "EVIDENCE_HEC_TOKEN": sim.credentials("splunk_hec")["token"],
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        kills = 0
        for killed in sigkill_runs(path, env, tmp_path, KILLS, rng):
            kills += killed
            read_state(state_url, SOURCE)  # raises if unreadable
            sim.add_records("generic", rng.randint(20, 100))

        with final_run(path, env, tmp_path / "final.log") as daemon:
            existing = sim.ledger.existing("generic")
            daemon.wait_until(
                lambda: existing <= set(stored()),
                poll=0.3,
                failure=lambda: (
                    f"the final run never caught up: {len(existing - set(stored()))} missing"
                ),
            )

        counts = Counter(stored())
        comparison = sim.ledger.compare("generic", counts)
        repeated = sum(1 for n in counts.values() if n > 1)
        print(
            f"\n[crash {kind}] kills={kills} existing={len(existing)} "
            f"delivered={sum(counts.values())} lost={len(comparison.lost)} "
            f"unexpected={len(comparison.unexpected)} repeated={repeated}"
        )
        assert kills >= KILLS * 0.9
        assert not comparison.lost
        assert not comparison.unexpected
        assert set(counts) == existing
