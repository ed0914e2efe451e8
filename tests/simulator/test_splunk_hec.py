"""The simulator's Splunk HEC endpoint with a plain HTTP client, as Splunk's HEC documentation
describes it: token and channel checks, concatenated events, ack ids per channel, an ack
reported once, HEC's error codes, and the ack faults."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from collectorkit import FakeClock
from collectorkit.simulator import FaultSpec, ProfileConfig, SimulatorConfig, SimulatorServer
from collectorkit.simulator._vendor_splunk_hec import SplunkHECAPI

TOKEN = "sim-splunk_hec-token"
EVENTS = (
    b'{"event": {"id": 1}, "fields": {"record_key": "a"}}\n{"time": 1700000000.5, "event": "two"}'
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hec(clock: FakeClock) -> Iterator[SimulatorServer]:
    config = SimulatorConfig(profiles=(ProfileConfig(kind="splunk_hec", records=0),), clock=clock)
    with SimulatorServer(config) as sim:
        yield sim


def _post(
    sim: SimulatorServer,
    path: str,
    body: bytes,
    *,
    channel: str | None = "",
    token: str | None = TOKEN,
) -> tuple[int, Any]:
    headers = {} if token is None else {"Authorization": f"Splunk {token}"}
    if channel is not None:
        headers["X-Splunk-Request-Channel"] = channel or CHANNEL
    answer = httpx.post(sim.url("splunk_hec") + path, content=body, headers=headers)
    return answer.status_code, answer.json()


CHANNEL = str(uuid.uuid4())


def _api(sim: SimulatorServer) -> SplunkHECAPI:
    api = sim.simulator.api("splunk_hec")
    assert isinstance(api, SplunkHECAPI)
    return api


def test_events_are_acknowledged_once_then_released(hec: SimulatorServer) -> None:
    first = _post(hec, "/services/collector/event", EVENTS)
    second = _post(hec, "/services/collector", EVENTS)
    assert first == (200, {"text": "Success", "code": 0, "ackId": 0})
    assert second[1]["ackId"] == 1
    assert _post(hec, "/services/collector/ack", b'{"acks": [0, 1, 7]}') == (
        200,
        {"acks": {"0": True, "1": True, "7": False}},
    )
    assert _post(hec, "/services/collector/ack", b'{"acks": [0]}')[1] == {"acks": {"0": False}}
    events = _api(hec).indexed()
    assert [e["event"] for e in events] == [{"id": 1}, "two", {"id": 1}, "two"]
    assert _api(hec).indexed_counts("record_key")["a"] == 2


def test_ack_ids_count_per_channel(hec: SimulatorServer) -> None:
    other = str(uuid.uuid4())
    assert _post(hec, "/services/collector/event", EVENTS)[1]["ackId"] == 0
    assert _post(hec, "/services/collector/event", EVENTS, channel=other)[1]["ackId"] == 0


@pytest.mark.parametrize(
    ("body", "channel", "token", "status", "code"),
    [
        (EVENTS, "", None, 401, 2),
        (EVENTS, "", "wrong-token", 403, 4),
        (EVENTS, None, TOKEN, 400, 10),
        (EVENTS, "not-a-guid", TOKEN, 400, 11),
        (b"", "", TOKEN, 400, 5),
        (b'{"event": 1}{"event', "", TOKEN, 400, 6),
        (b'{"time": 1}', "", TOKEN, 400, 12),
        (b'{"event": ""}', "", TOKEN, 400, 13),
    ],
)
def test_errors_use_hec_codes(
    hec: SimulatorServer,
    body: bytes,
    channel: str | None,
    token: str | None,
    status: int,
    code: int,
) -> None:
    got_status, doc = _post(hec, "/services/collector/event", body, channel=channel, token=token)
    assert (got_status, doc["code"]) == (status, code)
    assert doc["text"]
    assert _api(hec).indexed() == []


def test_ack_faults(hec: SimulatorServer, clock: FakeClock) -> None:
    hec.add_faults(
        FaultSpec(kind="ack_delay", target="splunk_hec.event", requests="1", delay=5),
        FaultSpec(kind="ack_lost", target="splunk_hec.event", requests="2"),
        FaultSpec(kind="server_error", target="splunk_hec.event", requests="3", status=503),
    )
    assert _post(hec, "/services/collector/event", EVENTS)[1]["ackId"] == 0  # delayed
    assert _post(hec, "/services/collector/event", EVENTS)[1]["ackId"] == 1  # lost
    assert _post(hec, "/services/collector/event", EVENTS) == (
        503,
        {"text": "Server is busy", "code": 9},
    )
    query = b'{"acks": [0, 1]}'
    assert _post(hec, "/services/collector/ack", query)[1] == {"acks": {"0": False, "1": False}}
    clock.advance(5)
    assert _post(hec, "/services/collector/ack", query)[1] == {"acks": {"0": True, "1": False}}
    assert len(_api(hec).indexed()) == 2  # the delayed request's two events; the lost one never

    hec.set_faults(FaultSpec(kind="ack_refused", target="splunk_hec.ack", requests="1"))
    pending = _post(hec, "/services/collector/event", EVENTS)[1]["ackId"]
    refused = _post(hec, "/services/collector/ack", b'{"acks": [%d]}' % pending)
    assert refused == (400, {"text": "Invalid data channel", "code": 11})
    assert _post(hec, "/services/collector/ack", b'{"acks": [%d]}' % pending)[1] == {
        "acks": {str(pending): False}  # the channel's pending acks are gone
    }
