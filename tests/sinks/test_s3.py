"""The s3 sink against a real S3 API (moto in server mode, started by the session fixture)."""

from __future__ import annotations

import base64
import gzip
import os
import sys
from typing import Any

import boto3
import orjson
import pytest

from collectorkit import ConfigError, Envelope, SinkError, record_key
from collectorkit.config._schema import config_json_schema
from collectorkit.sinks import S3Sink, build_sink

pytestmark = pytest.mark.integration


def _page(source: str, ids: range, **extra: Any) -> list[Envelope]:
    records = [
        {"id": i, "created_at": f"2026-03-0{1 + i % 2}T10:00:00Z", "msg": f"event {i}", **extra}
        for i in ids
    ]
    return [Envelope(source, record_key(source, r, ["id"]), r) for r in records]


def _objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    s3 = boto3.client("s3", endpoint_url=endpoint)
    names = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {n: s3.get_object(Bucket=bucket, Key=n)["Body"].read() for n in names}


def _stored_ids(endpoint: str, bucket: str) -> list[Any]:
    ids = []
    for name, body in _objects(endpoint, bucket).items():
        if name.endswith(".jsonl.gz"):
            ids += [orjson.loads(x)["data"]["id"] for x in gzip.decompress(body).splitlines()]
    return ids


def _sink(endpoint: str, bucket: str, **options: Any) -> S3Sink:
    return S3Sink(bucket, endpoint_url=endpoint, time_field="created_at", **options)


async def test_one_create_once_object_per_page_and_date(s3_endpoint: str, s3_bucket: str) -> None:
    async with _sink(s3_endpoint, s3_bucket, prefix="events") as sink:
        result = await sink.store(_page("xdr", range(10)))
    assert (result.written, result.duplicates) == (10, 0)
    names = sorted(n for n in _objects(s3_endpoint, s3_bucket) if not n.startswith("events/_"))
    assert [n.rsplit("/", 1)[0] for n in names] == [
        "events/xdr/dt=2026-03-01",
        "events/xdr/dt=2026-03-02",
    ]
    assert all(n.endswith(".jsonl.gz") for n in names)
    assert sorted(_stored_ids(s3_endpoint, s3_bucket)) == list(range(10))


async def test_a_page_stored_again_is_a_412_and_counts_as_duplicates(
    s3_endpoint: str, s3_bucket: str
) -> None:
    page = _page("xdr", range(6))
    async with _sink(s3_endpoint, s3_bucket) as sink:
        await sink.store(page)
    before = _objects(s3_endpoint, s3_bucket)
    # a new process (after a crash) stores the same page: same names, nothing rewritten
    async with _sink(s3_endpoint, s3_bucket) as sink:
        again = await sink.store(page)
    assert (again.written, again.duplicates) == (0, 6)
    assert _objects(s3_endpoint, s3_bucket) == before
    assert sorted(_stored_ids(s3_endpoint, s3_bucket)) == list(range(6))


async def test_a_create_on_an_existing_name_is_refused_by_the_store(
    s3_endpoint: str, s3_bucket: str
) -> None:
    """The guarantee rests on the server's If-None-Match: a fresh sink with no journal (another
    prefix for the journal is impossible, so the journal is deleted) still writes nothing."""
    page = _page("xdr", range(4))
    async with _sink(s3_endpoint, s3_bucket) as sink:
        await sink.store(page)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.delete_object(Bucket=s3_bucket, Key="_journal/xdr.json")
    before = _objects(s3_endpoint, s3_bucket)
    async with _sink(s3_endpoint, s3_bucket) as sink:
        again = await sink.store(page)
    assert (again.written, again.duplicates) == (0, 4)
    after = _objects(s3_endpoint, s3_bucket)
    assert {k: v for k, v in after.items() if "_journal" not in k} == before


async def test_a_refetched_page_that_grew_writes_only_the_new_records(
    s3_endpoint: str, s3_bucket: str
) -> None:
    async with _sink(s3_endpoint, s3_bucket) as sink:
        await sink.store(_page("xdr", range(5)))
    # killed before the checkpoint; meanwhile the API got 3 more records on that page
    async with _sink(s3_endpoint, s3_bucket) as sink:
        grown = await sink.store(_page("xdr", range(8)))
        # and killed again before the checkpoint: the page comes back once more
    async with _sink(s3_endpoint, s3_bucket) as sink:
        third = await sink.store(_page("xdr", range(9)))
    assert (grown.written, grown.duplicates) == (3, 5)
    assert (third.written, third.duplicates) == (1, 8)
    assert sorted(_stored_ids(s3_endpoint, s3_bucket)) == list(range(9))


async def test_a_journal_naming_an_object_never_created_skips_nothing(
    s3_endpoint: str, s3_bucket: str
) -> None:
    """Killed after the journal, before the object: those records are not stored, so they are
    written on the next try."""
    page = _page("xdr", range(3))
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    journal = {"objects": {"xdr/dt=2026-03-01/0123.jsonl.gz": [e.key for e in page]}}
    s3.put_object(Bucket=s3_bucket, Key="_journal/xdr.json", Body=orjson.dumps(journal))
    async with _sink(s3_endpoint, s3_bucket) as sink:
        result = await sink.store(page)
    assert result.written == 3
    assert sorted(_stored_ids(s3_endpoint, s3_bucket)) == [0, 1, 2]


async def test_large_pages_go_up_as_a_create_once_multipart_upload(
    s3_endpoint: str, s3_bucket: str
) -> None:
    blob = base64.b64encode(os.urandom(6 * 1024 * 1024)).decode()  # gzip cannot shrink it
    page = _page("xdr", range(1), blob=blob)
    mib5 = 5 * 1024 * 1024
    async with _sink(s3_endpoint, s3_bucket, multipart_threshold=mib5, part_size=mib5) as sink:
        first = await sink.store(page)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.delete_object(Bucket=s3_bucket, Key="_journal/xdr.json")  # only the 412 can stop it now
    async with _sink(s3_endpoint, s3_bucket, multipart_threshold=mib5, part_size=mib5) as sink:
        again = await sink.store(page)
    assert (first.written, again.duplicates) == (1, 1)
    objects = _objects(s3_endpoint, s3_bucket)
    data = [n for n in objects if n.endswith(".gz")]
    assert len(data) == 1
    assert len(objects[data[0]]) > mib5
    assert s3.head_object(Bucket=s3_bucket, Key=data[0])["ETag"].endswith('-2"')  # 2 parts
    assert not s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads")  # the loser aborted


async def test_parquet_objects_hold_key_source_and_the_record(
    s3_endpoint: str, s3_bucket: str
) -> None:
    page = _page("xdr", range(4))
    async with _sink(s3_endpoint, s3_bucket, format="parquet") as sink:
        await sink.store(page)
        again = await sink.store(page)
        back = await sink.query()
    assert again.duplicates == 4
    assert sorted(e.data["id"] for e in back) == [0, 1, 2, 3]
    assert {e.key for e in back} == {e.key for e in page}
    assert all(n.endswith(".parquet") for n in _objects(s3_endpoint, s3_bucket) if "_j" not in n)


def test_parquet_without_pyarrow_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ConfigError) as caught:
        build_sink({"type": "s3", "bucket": "events", "format": "parquet"}, path="sinks[2]")
    assert caught.value.path == "sinks[2].format"
    assert "collectorkit[parquet]" in str(caught.value)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"bucket": "a/b"}, "bucket"),
        ({"bucket": "ok", "format": "csv"}, "format"),
        ({"bucket": "ok", "part_size": 1024}, "part_size"),
        ({"bucket": "ok", "multipart_threshold": 6 * 1024 * 1024, "part_size": 7 * 1024 * 1024},
         "multipart_threshold"),
    ],
)  # fmt: skip
def test_bad_options_name_their_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_sink({"type": "s3", **options}, path="sinks[0]")
    assert caught.value.path == f"sinks[0].{field}"


async def test_credentials_from_the_config_are_used_and_never_shown(
    s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    secret = "very-secret-access-key-42"
    spec = {
        "type": "s3",
        "bucket": s3_bucket,
        "endpoint_url": s3_endpoint,
        "region": "eu-west-1",
        "access_key_id": "AKIDEXAMPLE",
        "secret_access_key": secret,
    }
    sink = build_sink(spec)
    assert secret not in repr(sink)
    async with sink:
        assert (await sink.store(_page("xdr", range(2)))).written == 2
    missing = build_sink({**spec, "bucket": "no-such-bucket-here"})
    with pytest.raises(SinkError) as caught:
        async with missing:
            await missing.store(_page("xdr", range(2)))
    assert "no-such-bucket-here" in str(caught.value)
    assert secret not in str(caught.value)


def test_the_schema_lists_the_s3_options() -> None:
    text = orjson.dumps(config_json_schema()).decode()
    for option in ("endpoint_url", "multipart_threshold", "secret_access_key", "partition"):
        assert option in text


async def test_an_unreachable_endpoint_is_a_sink_error_naming_the_object(s3_bucket: str) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = S3Sink(s3_bucket, endpoint_url=f"http://127.0.0.1:{port}", max_attempts=1)
    with pytest.raises(SinkError, match=rf"s3://{s3_bucket}/"):
        async with sink:
            await sink.store(_page("xdr", range(1)))
