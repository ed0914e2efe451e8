"""The webhook sink against a real local HTTP server (pytest-httpserver)."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectorkit import Envelope, SinkError, record_key
from collectorkit.sinks import WebhookSink


def _batch(ids: range) -> list[Envelope]:
    return [Envelope("xdr", record_key("xdr", {"id": i}, ["id"]), {"id": i}) for i in ids]


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), request.get_data()))
        return Response(status=202)


@pytest.fixture
def recorder(httpserver: HTTPServer) -> Recorder:
    rec = Recorder()
    httpserver.expect_request("/hook", method="POST").respond_with_handler(rec)
    return rec


async def test_batched_json_posts(httpserver: HTTPServer, recorder: Recorder) -> None:
    async with WebhookSink(httpserver.url_for("/hook"), batch_size=4) as sink:
        result = await sink.store(_batch(range(10)))
    assert result.written == 10
    sizes = [len(orjson.loads(body)) for _, body in recorder.requests]
    assert sizes == [4, 4, 2]
    headers, body = recorder.requests[0]
    assert headers["Content-Type"] == "application/json"
    assert orjson.loads(body)[0] == {"key": "xdr:0", "source": "xdr", "data": {"id": 0}}
    assert len(headers["Idempotency-Key"]) == 64


async def test_gzip_ndjson(httpserver: HTTPServer, recorder: Recorder) -> None:
    async with WebhookSink(httpserver.url_for("/hook"), format="ndjson", gzip=True) as sink:
        await sink.store(_batch(range(3)))
    headers, body = recorder.requests[0]
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"] == "application/x-ndjson"
    lines = gzip.decompress(body).splitlines()
    assert [orjson.loads(x)["data"]["id"] for x in lines] == [0, 1, 2]


async def test_error_status_raises_and_secret_headers_stay_hidden(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("no", status=503)
    sink = WebhookSink(httpserver.url_for("/hook"), headers={"Authorization": "Bearer s3cr3t"})
    with pytest.raises(SinkError, match="503") as info:
        await sink.store(_batch(range(1)))
    await sink.aclose()
    assert "s3cr3t" not in str(info.value)
    assert "s3cr3t" not in repr(sink)


async def test_index_never_resends_a_delivered_record(
    httpserver: HTTPServer, recorder: Recorder, tmp_path: Path
) -> None:
    index = tmp_path / "sent.db"
    async with WebhookSink(httpserver.url_for("/hook"), index_path=index) as sink:
        await sink.store(_batch(range(3)))
    async with WebhookSink(httpserver.url_for("/hook"), index_path=index) as sink:
        result = await sink.store(_batch(range(5)))
    assert (result.written, result.duplicates) == (2, 3)
    assert [len(orjson.loads(b)) for _, b in recorder.requests] == [3, 2]


def test_bad_options_are_config_errors() -> None:
    from collectorkit import ConfigError

    with pytest.raises(ConfigError, match="format"):
        WebhookSink("http://127.0.0.1/x", format="xml")
    with pytest.raises(ConfigError, match="url"):
        WebhookSink("ftp://x")
