"""Benchmark of the s3 and opensearch sinks beside a bare client doing the same writes, side by
side in one run, against the servers the test suite uses (moto, osmem-server; both started
here by ``tests/_servers.py`` on 127.0.0.1 and stopped at the end).

The same 40 pages × 500 records (~450 bytes each, distinct keys) go through:

- S3: ``S3Sink.store`` per page (gzip JSONL, one create-once object per page and date, and the
  page journal written before it) vs a bare aiobotocore ``put_object`` of the same gzip JSONL
  with ``If-None-Match: *`` per page — the sink's extra cost is the journal PUT;
- OpenSearch: ``OpenSearchSink.store`` per page (``_bulk`` ``create``, ``_id`` = record key,
  per-item outcome read) vs a bare ``AsyncOpenSearch.bulk`` of the same NDJSON body.

Each round writes into a fresh bucket / index; rounds alternate between the contenders and the
best of ``ROUNDS`` counts. Prints records/s and the ratio (ours / bare). Run:
``python bench/bench_object_sinks.py``.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests._servers import start_moto, start_opensearch

from collectorkit import Envelope, record_key
from collectorkit.sinks import OpenSearchSink, S3Sink

PAGE_SIZE = 500
PAGES = 40
ROUNDS = 3
SOURCE = "bench"
_names = itertools.count()


def _pages() -> list[list[Envelope]]:
    pages = []
    for page in range(PAGES):
        records = [
            {
                "id": f"evt-{page:05d}-{i:04d}",
                "created_at": "2024-05-01T12:00:00.000Z",
                "severity": ("low", "medium", "high")[i % 3],
                "source": {"ip": f"10.0.{i % 256}.{page % 256}", "host": f"host-{i % 97}"},
                "user": {"name": f"user{i % 500}", "domain": "CORP", "id": f"S-1-5-21-{i:06d}"},
                "message": "user login succeeded after multi-factor challenge from managed device",
                "tags": ["auth", "sso", f"t{i % 13}"],
            }
            for i in range(PAGE_SIZE)
        ]
        pages.append([Envelope(SOURCE, record_key(SOURCE, r, ["id"]), r) for r in records])
    return pages


async def ours_s3(endpoint: str, pages: list[list[Envelope]]) -> None:
    bucket = await _bucket(endpoint)
    async with S3Sink(bucket, endpoint_url=endpoint, time_field="created_at") as sink:
        for page in pages:
            await sink.store(page)


async def bare_s3(endpoint: str, pages: list[list[Envelope]]) -> None:
    from aiobotocore.session import get_session

    bucket = await _bucket(endpoint)
    async with get_session().create_client("s3", endpoint_url=endpoint) as s3:
        for number, page in enumerate(pages):
            lines = b"".join(
                orjson.dumps({"key": e.key, "source": e.source, "data": e.data}) + b"\n"
                for e in page
            )
            body = gzip.compress(lines, compresslevel=5)
            name = f"{SOURCE}/dt=2024-05-01/{number:08d}.jsonl.gz"
            await s3.put_object(Bucket=bucket, Key=name, Body=body, IfNoneMatch="*")


async def _bucket(endpoint: str) -> str:
    from aiobotocore.session import get_session

    name = f"bench-{os.getpid()}-{next(_names)}"
    async with get_session().create_client("s3", endpoint_url=endpoint) as s3:
        await s3.create_bucket(Bucket=name)
    return name


async def ours_opensearch(url: str, pages: list[list[Envelope]]) -> None:
    async with OpenSearchSink(url, index=f"bench-{next(_names)}") as sink:
        for page in pages:
            await sink.store(page)


async def bare_opensearch(url: str, pages: list[list[Envelope]]) -> None:
    from opensearchpy import AsyncOpenSearch

    index = f"bench-{next(_names)}"
    client = AsyncOpenSearch(hosts=[url], max_retries=0, http_compress=True)
    try:
        for page in pages:
            lines: list[bytes] = []
            for e in page:
                lines.append(orjson.dumps({"create": {"_index": index, "_id": e.key}}))
                lines.append(orjson.dumps(e.data))
            answer = await client.bulk(body=b"\n".join(lines) + b"\n")
            assert not answer["errors"]
    finally:
        await client.close()


Run = Callable[[str, list[list[Envelope]]], Awaitable[None]]


async def _rate(run: Run, target: str, pages: list[list[Envelope]]) -> float:
    start = time.perf_counter()
    await run(target, pages)
    return PAGES * PAGE_SIZE / (time.perf_counter() - start)


async def compare(pairs: dict[str, tuple[str, Run, Run]]) -> dict[str, tuple[float, float]]:
    pages = _pages()
    best = dict.fromkeys(pairs, (0.0, 0.0))
    for _ in range(ROUNDS):
        for name, (target, ours, bare) in pairs.items():
            a = await _rate(ours, target, pages)
            b = await _rate(bare, target, pages)
            best[name] = (max(best[name][0], a), max(best[name][1], b))
    return best


def measure() -> dict[str, dict[str, float]]:
    """Sink name -> records/s of ours and bare, and their ratio (servers started and stopped)."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    moto, osmem = start_moto(), start_opensearch()
    try:
        pairs: dict[str, tuple[str, Run, Run]] = {
            "s3": (moto.url, ours_s3, bare_s3),
            "opensearch": (osmem.url, ours_opensearch, bare_opensearch),
        }
        best = asyncio.run(compare(pairs))
    finally:
        moto.stop()
        osmem.stop()
    return {k: {"ours": o, "bare": b, "ratio": o / b} for k, (o, b) in best.items()}


def main() -> int:
    figures = measure()
    print(f"{PAGES} pages x {PAGE_SIZE} records, best of {ROUNDS} rounds")
    print(f"{'sink':12} {'ours rec/s':>12} {'bare rec/s':>12} {'ratio':>7}")
    for name, f in figures.items():
        print(f"{name:12} {f['ours']:12,.0f} {f['bare']:12,.0f} {f['ratio']:7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
