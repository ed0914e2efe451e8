"""Benchmark of the at-least-once sinks beside a bare client doing the same writes, side by side
in one run, against the servers the test suite uses (started here on 127.0.0.1, stopped at the
end):

- splunk_hec: ``SplunkHECSink.store`` per page (events with the record key, one request per
  100 events, indexer acknowledgement polled) vs bare aiohttp POSTs of the same bodies on one
  channel and one ack query per page — against the simulator's HEC endpoint;
- syslog: ``SyslogSink.store`` per page (RFC 5424, octet counting) vs a bare asyncio stream
  writing the same frames and draining per page — against rsyslogd;
- kafka: ``KafkaSink.store`` per page (key = record key, ``acks=all``, flush) vs a bare
  aiokafka producer sending the same messages and flushing per page — against Tansu.

The same 40 pages × 500 records (~450 bytes each); rounds alternate between the contenders and
the best of ``ROUNDS`` counts. Prints records/s and the ratio (ours / bare). Run:
``python bench/bench_stream_sinks.py``.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_object_sinks import PAGE_SIZE, PAGES, ROUNDS, compare
from tests._stream_servers import start_kafka, start_rsyslog

from collectorkit import Envelope
from collectorkit.simulator import ProfileConfig, SimulatorConfig, SimulatorServer
from collectorkit.sinks import KafkaSink, SplunkHECSink, SyslogSink

TOKEN = "sim-splunk_hec-token"
Run = Callable[[str, list[list[Envelope]]], Awaitable[None]]


async def ours_hec(url: str, pages: list[list[Envelope]]) -> None:
    sink = SplunkHECSink(url, token=TOKEN, time_field="created_at")
    async with sink:
        for page in pages:
            await sink.store(page)


async def bare_hec(url: str, pages: list[list[Envelope]]) -> None:
    import aiohttp

    sink = SplunkHECSink(url, token=TOKEN, time_field="created_at")  # the same event bodies
    headers = {"Authorization": f"Splunk {TOKEN}", "X-Splunk-Request-Channel": str(uuid.uuid4())}
    async with aiohttp.ClientSession(headers=headers) as http:
        for page in pages:
            ids = []
            for i in range(0, len(page), 100):
                body = sink._body(page[i : i + 100])
                async with http.post(f"{url}/services/collector/event", data=body) as answer:
                    ids.append((await answer.json())["ackId"])
            async with http.post(f"{url}/services/collector/ack", json={"acks": ids}) as answer:
                acks = (await answer.json())["acks"]
            assert all(acks.values())


async def ours_syslog(address: str, pages: list[list[Envelope]]) -> None:
    host, port = address.rsplit(":", 1)
    async with SyslogSink(host, int(port), time_field="created_at") as sink:
        for page in pages:
            await sink.store(page)


async def bare_syslog(address: str, pages: list[list[Envelope]]) -> None:
    host, port = address.rsplit(":", 1)
    frames = SyslogSink(host, int(port), time_field="created_at")  # the same messages
    _, writer = await asyncio.open_connection(host, int(port))
    try:
        for page in pages:
            for e in page:
                message = frames.message(e)
                writer.write(b"%d %s" % (len(message), message))
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()


async def ours_kafka(bootstrap: str, pages: list[list[Envelope]]) -> None:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    async with KafkaSink(bootstrap, topic, idempotence=False) as sink:  # Tansu: no InitProducerId
        for page in pages:
            await sink.store(page)


async def bare_kafka(bootstrap: str, pages: list[list[Envelope]]) -> None:
    from aiokafka import AIOKafkaProducer

    topic = f"bench-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for page in pages:
            futures = [
                await producer.send(topic, value=orjson.dumps(e.data), key=e.key.encode())
                for e in page
            ]
            await producer.flush()
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


def main() -> int:
    config = SimulatorConfig(profiles=(ProfileConfig(kind="splunk_hec", records=0),))
    rsyslog, kafka = start_rsyslog(), start_kafka()
    try:
        with SimulatorServer(config) as sim:
            pairs: dict[str, tuple[str, Run, Run]] = {
                "splunk_hec (simulator)": (sim.url("splunk_hec"), ours_hec, bare_hec),
                "syslog (rsyslogd)": (f"127.0.0.1:{rsyslog.port}", ours_syslog, bare_syslog),
                "kafka (tansu)": (kafka.url, ours_kafka, bare_kafka),
            }
            best = asyncio.run(compare(pairs))
    finally:
        rsyslog.stop()
        kafka.stop()
    print(f"{PAGES} pages x {PAGE_SIZE} records, best of {ROUNDS} rounds")
    print(f"{'sink':28} {'ours rec/s':>12} {'bare rec/s':>12} {'ratio':>7}")
    for name, (ours, bare) in best.items():
        print(f"{name:28} {ours:12,.0f} {bare:12,.0f} {ours / bare:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
