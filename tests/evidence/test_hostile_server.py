"""A hostile API server: it asks for endless waits, trickles its body, sends huge pages, hands
out fresh cursors over the same records forever. Each attack ends promptly, with an error or a
stop reason that names what happened, and the saved state untouched by what was refused."""

from __future__ import annotations

import contextlib
import gzip
import ipaddress
import itertools
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx2
import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer
from structlog.testing import capture_logs
from werkzeug import Request as WRequest
from werkzeug import Response as WResponse

from collectorkit import (
    APIClient,
    APIKeyAuthHandler,
    BearerTokenAuthHandler,
    CollectorBlueprint,
    CollectorClient,
    CollectorRequest,
    HTTPError,
    PaginationConfig,
    QuotaError,
    RequestTimeoutError,
    RetryPolicy,
    SQLiteSink,
    StopReason,
    TimeoutSettings,
    collect_into,
)
from collectorkit.http import ClientSettings, register_secret
from collectorkit.http._aiohttp_transport import AiohttpTransport
from collectorkit.http._httpx_transport import HttpxTransport
from collectorkit.testing import FakeClock
from tests.evidence._daemon import start_daemon, status_url, stop_daemon
from tests.evidence._support import write_config

TRANSPORTS = [AiohttpTransport, HttpxTransport]


def _url(server: HTTPServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def cursor_feed(
    server: HTTPServer,
    name: str,
    page: Callable[[WRequest], dict[str, Any]],
    *,
    max_pages: int | None = None,
    **options: Any,
) -> CollectorBlueprint:
    """A blueprint walking ``/v1/events`` by the cursor at ``next``, served by ``page``."""
    server.expect_request("/v1/events").respond_with_handler(
        lambda request: WResponse(orjson.dumps(page(request)), content_type="application/json")
    )
    pagination = PaginationConfig(
        mode="cursor", cursor_param="cursor", next_cursor_path="next", max_pages=max_pages
    )
    request = CollectorRequest(endpoint="/v1/events", data_path="data", pagination=pagination)
    return CollectorBlueprint(name=name, base_url=_url(server), request=request, **options)


async def collect(blueprint: CollectorBlueprint) -> Any:
    client = CollectorClient(blueprint)
    try:
        return await client.collect_events()
    finally:
        await client.aclose()


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    httpserver = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    httpserver.start()
    yield httpserver
    httpserver.clear()
    httpserver.stop()


@contextlib.contextmanager
def raw_server(reply: Callable[[socket.socket], None]) -> Iterator[str]:
    """A TCP server on 127.0.0.1 that reads one request per connection and lets ``reply`` write
    raw bytes (slow bodies, chunked bodies); its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    done = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            with contextlib.suppress(OSError):
                reply(conn)

    def accept() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        thread.join(2)
        listener.close()


# --- 5. server-requested waits are capped ------------------------------------------------------

FAR_FUTURE_WAITS = [
    ("Retry-After", "1e9"),
    ("Retry-After", "inf"),
    ("Retry-After", "Fri, 01 Jan 2100 00:00:00 GMT"),
    ("X-RateLimit-Reset", "4102444800"),  # 2100-01-01 in epoch seconds
]


@pytest.mark.parametrize(("header", "value"), FAR_FUTURE_WAITS)
async def test_a_far_future_server_wait_is_capped_and_reported(
    server: HTTPServer, header: str, value: str
) -> None:
    server.expect_ordered_request("/x").respond_with_json({}, status=429, headers={header: value})
    server.expect_ordered_request("/x").respond_with_json({"ok": True})
    clock = FakeClock()
    retry = RetryPolicy(max_attempts=2, initial_delay=2, jitter=False)
    with capture_logs() as logs:
        async with APIClient(base_url=_url(server), retry=retry, clock=clock) as client:
            response = await client.get("/x")
    assert response.body == {"ok": True}
    assert clock.sleeps, "the client retried without any wait"
    assert max(clock.sleeps) <= 300, clock.sleeps  # the default cap: five minutes
    reported = [e for e in logs if header in str(e) and value in str(e)]
    assert reported, f"no log line names {header}: {value}: {logs}"


async def test_a_refused_wait_is_named_in_the_final_error(server: HTTPServer) -> None:
    server.expect_request("/x").respond_with_json({}, status=429, headers={"Retry-After": "1e9"})
    retry = RetryPolicy(max_attempts=3, initial_delay=1, jitter=False)
    async with APIClient(base_url=_url(server), retry=retry, clock=FakeClock()) as client:
        with pytest.raises(QuotaError, match=r"Retry-After: 1e9.*max_server_wait"):
            await client.get("/x")
    assert len(server.log) == 3


async def test_the_cap_is_configurable_and_past_it_the_own_backoff_applies(
    server: HTTPServer,
) -> None:
    server.expect_ordered_request("/x").respond_with_json(
        {}, status=503, headers={"Retry-After": "30"}
    )
    server.expect_ordered_request("/x").respond_with_json({"ok": True})
    clock = FakeClock()
    retry = RetryPolicy(max_attempts=2, initial_delay=2, jitter=False, max_server_wait="10s")
    async with APIClient(base_url=_url(server), retry=retry, clock=clock) as client:
        await client.get("/x")
    assert clock.sleeps == [2.0]


def test_the_cap_is_in_the_configuration_schema() -> None:
    from collectorkit.config._schema import render_config_schema

    text = render_config_schema()
    assert "max_server_wait" in text
    assert "max_response_size" in text
    assert '"total"' in text


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_sigint_ends_once_while_it_waits_on_retry_after(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/v1/events").respond_with_json(
        {}, status=429, headers={"Retry-After": "120"}
    )
    config = {
        "state": f"sqlite:///{tmp_path / 'ck.db'}",
        "sinks": [{"type": "sqlite", "path": str(tmp_path / "ck.db")}],
        "sources": [
            {
                "name": "hostile",
                "base_url": _url(server),
                "request": {"endpoint": "/v1/events", "data_path": "data"},
                "retry": {"max_attempts": 3},
            }
        ],
    }
    path = write_config(tmp_path / "collectorkit.yaml", config)
    proc = subprocess.Popen(
        [sys.executable, "-m", "collectorkit", "once", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        while not server.log and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.log, "collectorkit once sent no request"
        time.sleep(0.3)  # it is now waiting on the server's Retry-After
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail("collectorkit once still running 15 s after SIGINT")
        assert time.monotonic() - sent < 10
        assert proc.returncode != 0
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate()[0].decode()
    assert "Traceback" not in output, output


# --- 6. a total per-request deadline, the time budget over body reads ------------------------


def _trickle(total: int, every: float) -> Callable[[socket.socket], None]:
    def reply(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {total}\r\n\r\n".encode()
        )
        for _ in range(total):
            conn.sendall(b" ")
            time.sleep(every)

    return reply


@pytest.mark.timeout(30)
@pytest.mark.parametrize("transport_class", TRANSPORTS)
async def test_a_body_sent_at_a_trickle_ends_at_the_total_deadline(
    transport_class: Callable[[], Any],
) -> None:
    with raw_server(_trickle(total=60, every=0.1)) as url:  # 6 s at the least, today
        timeouts = TimeoutSettings(read=1, total=1.0)
        retry = RetryPolicy.disabled()
        transport = transport_class()
        started = time.monotonic()
        async with APIClient(
            base_url=url, timeout=timeouts, retry=retry, transport=transport
        ) as client:
            with pytest.raises(RequestTimeoutError, match=r"total"):
                await client.get("/slow")
        await transport.aclose()
        assert time.monotonic() - started < 3


@pytest.mark.timeout(30)
async def test_the_time_budget_covers_a_trickling_body() -> None:
    with raw_server(_trickle(total=80, every=0.1)) as url:  # 8 s at the least, today
        blueprint = CollectorBlueprint(
            name="trickle",
            base_url=url,
            request=CollectorRequest(endpoint="/v1/events", data_path="data"),
            retry_policy=RetryPolicy.disabled(),
            timeout=TimeoutSettings(read=5, execution=1.5),
            time_margin=0.1,
        )
        started = time.monotonic()
        result = await collect(blueprint)
        assert result.stop_reason is StopReason.TIME_BUDGET
        assert time.monotonic() - started < 3.5


# --- 7. a maximum response size ----------------------------------------------------------------


def _chunked(pieces: int, size: int) -> Callable[[socket.socket], None]:
    def reply(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(pieces):
            conn.sendall(f"{size:x}\r\n".encode() + b" " * size + b"\r\n")
        conn.sendall(b"0\r\n\r\n")

    return reply


@pytest.mark.parametrize("transport_class", TRANSPORTS)
async def test_a_response_over_the_size_limit_by_content_length(
    server: HTTPServer, transport_class: Callable[[], Any]
) -> None:
    server.expect_request("/big").respond_with_data(b" " * 5000, content_type="application/json")
    transport = transport_class()
    timeouts = TimeoutSettings(max_response_size=1000)
    async with APIClient(base_url=_url(server), timeout=timeouts, transport=transport) as c:
        with pytest.raises(HTTPError, match=r"max_response_size.*1000"):
            await c.get("/big")
    await transport.aclose()
    assert len(server.log) == 1  # not retried: a retry gets the same page


@pytest.mark.parametrize("transport_class", TRANSPORTS)
async def test_a_compressed_response_is_limited_by_its_decoded_size(
    server: HTTPServer, transport_class: Callable[[], Any]
) -> None:
    bomb = gzip.compress(b" " * 1_000_000)  # 1 MB of JSON whitespace in about 1 kB
    server.expect_request("/bomb").respond_with_data(
        bomb, content_type="application/json", headers={"Content-Encoding": "gzip"}
    )
    transport = transport_class()
    timeouts = TimeoutSettings(max_response_size=100_000)
    async with APIClient(base_url=_url(server), timeout=timeouts, transport=transport) as c:
        with pytest.raises(HTTPError, match=r"max_response_size.*100000"):
            await c.get("/bomb")
    await transport.aclose()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("transport_class", TRANSPORTS)
async def test_a_chunked_response_over_the_size_limit(transport_class: Callable[[], Any]) -> None:
    with raw_server(_chunked(pieces=40, size=1000)) as url:
        transport = transport_class()
        timeouts = TimeoutSettings(max_response_size=10_000)
        async with APIClient(
            base_url=url, timeout=timeouts, retry=RetryPolicy.disabled(), transport=transport
        ) as client:
            with pytest.raises(HTTPError, match=r"max_response_size.*10000"):
                await client.get("/chunked")
        await transport.aclose()


async def test_a_page_over_the_size_limit_leaves_the_state_untouched(
    server: HTTPServer, tmp_path: Path
) -> None:
    big = [True]

    def page(request: WRequest) -> dict[str, Any]:
        if request.args.get("cursor") is None:
            return {"data": [{"id": 1}, {"id": 2}], "next": "c2"}
        if big[0]:
            return {"data": [{"id": n, "pad": "x" * 100} for n in range(3, 100)], "next": "c3"}
        return {"data": [{"id": 3}], "next": None}

    blueprint = cursor_feed(
        server,
        "big",
        page,
        timeout=TimeoutSettings(max_response_size=2000),
        retry_policy=RetryPolicy.disabled(),
    )
    db = tmp_path / "ck.db"
    with pytest.raises(HTTPError, match="max_response_size"):
        await collect_into(blueprint, sinks=[SQLiteSink(str(db))], state=f"sqlite:///{db}")
    big[0] = False
    report = await collect_into(blueprint, sinks=[SQLiteSink(str(db))], state=f"sqlite:///{db}")
    cursors = [request.args.get("cursor") for request, _ in server.log]
    assert cursors == [None, "c2", "c2"]  # resumed at the refused page, nothing skipped
    assert report.stored == 1


# --- 8. endless fresh cursors over the same records --------------------------------------------


@pytest.mark.parametrize(
    "records",
    [
        [{"id": 1, "kind": "a"}, {"id": 2, "kind": "a"}],
        [{"alert_id": "x-1"}, {"alert_id": "x-2"}],
        [{"message": "no identifying field"}],  # one record: keyed by its content
    ],
)
async def test_fresh_cursors_over_the_same_records_stop_with_a_named_reason(
    server: HTTPServer, records: list[dict[str, Any]]
) -> None:
    counter = itertools.count()
    blueprint = cursor_feed(
        server,
        "loop",
        lambda request: {"data": records, "next": f"c{next(counter)}"},
        max_pages=200,
    )
    result = await collect(blueprint)
    assert result.stop_reason is StopReason.NO_NEW_KEYS
    assert not result.stop_reason.exhausted  # the position is kept, the next run goes on
    assert len(server.log) == 4  # the first page, then three bringing nothing new
    assert result.events[: len(records)] == records


async def test_a_feed_that_moves_on_is_not_stopped(server: HTTPServer) -> None:
    def page(request: WRequest) -> dict[str, Any]:
        n = int(request.args.get("cursor", "0"))
        return {"data": [{"id": n}, {"id": n + 1}], "next": str(n + 1) if n < 20 else None}

    result = await collect(cursor_feed(server, "overlap", page))
    assert result.stop_reason is StopReason.NO_NEXT  # each page overlaps, but brings a new key
    assert len(server.log) == 21


# --- 12. credentials: no downgrade, custom headers, encoded forms ------------------------------


def _self_signed(tmp_path: Path) -> ssl.SSLContext:
    """A TLS context for 127.0.0.1 with a throwaway self-signed certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture
def other_server() -> Iterator[HTTPServer]:
    httpserver = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    httpserver.start()
    yield httpserver
    httpserver.clear()
    httpserver.stop()


TOKEN = "hostile-bearer-token-5d1e"


async def test_no_credentials_on_a_downgrade_to_http_even_for_allowed_hosts(
    tmp_path: Path, other_server: HTTPServer
) -> None:
    tls = HTTPServer(host="127.0.0.1", port=0, ssl_context=_self_signed(tmp_path))
    tls.start()
    try:
        plain = f"http://127.0.0.1:{other_server.port}/v1/events?cursor=2"
        tls.expect_request("/v1/events").respond_with_json({"data": [{"id": 1}], "next": plain})
        other_server.expect_request("/v1/events").respond_with_json({"data": [{"id": 2}]})
        blueprint = CollectorBlueprint(
            name="downgrade",
            base_url=f"https://127.0.0.1:{tls.port}",
            request=CollectorRequest(
                endpoint="/v1/events",
                data_path="data",
                pagination=PaginationConfig(mode="link", link_path="next"),
            ),
            auth_handler=BearerTokenAuthHandler(TOKEN),
            headers={"X-Auth": TOKEN},
            allowed_hosts=["127.0.0.1"],
            client_config=ClientSettings(verify_ssl=False),
        )
        result = await collect(blueprint)
        assert [e["id"] for e in result.events] == [1, 2]
        assert tls.log[0][0].headers["Authorization"] == f"Bearer {TOKEN}"
        downgraded = other_server.log[0][0].headers
        assert "Authorization" not in downgraded
        assert "X-Auth" not in downgraded
    finally:
        tls.clear()
        tls.stop()


@pytest.mark.parametrize(
    "client_kwargs",
    [
        {"auth": APIKeyAuthHandler("hostile-custom-key-77aa", header_name="X-Auth")},
        {"headers": {"X-Auth": "hostile-configured-secret-88bb"}},
    ],
    ids=["auth-handler-header", "configured-secret-header"],
)
async def test_custom_auth_headers_are_stripped_on_redirect_and_masked_in_debug(
    server: HTTPServer, other_server: HTTPServer, client_kwargs: dict[str, Any]
) -> None:
    secret = "hostile-configured-secret-88bb"
    register_secret(secret)  # what the configuration does with a ${file:} or ${ENV} secret
    value = client_kwargs.get("headers", {}).get("X-Auth") or "hostile-custom-key-77aa"
    elsewhere = f"http://127.0.0.1:{other_server.port}/landing"
    server.expect_request("/start").respond_with_data(
        "", status=302, headers={"Location": elsewhere}
    )
    other_server.expect_request("/landing").respond_with_json({"ok": True})
    with capture_logs() as logs:
        async with APIClient(
            base_url=_url(server), diagnostic_mode=True, **client_kwargs
        ) as client:
            await client.get("/start")
    assert server.log[0][0].headers.get("X-Auth") == value  # sent to the API itself
    assert "X-Auth" not in other_server.log[0][0].headers
    assert value not in str(logs)
    assert any("X-Auth" in str(e) for e in logs)  # the debug lines show the header, masked


QUERY_KEY = "hk+y/Zq=9w=="  # what a base64 API key looks like


async def test_an_api_key_with_url_special_characters_is_redacted_in_every_form(
    server: HTTPServer,
) -> None:
    server.expect_request("/v1/events").respond_with_json(
        {"error": f"bad key {quote(QUERY_KEY, safe='')}"}, status=400
    )
    auth = APIKeyAuthHandler(QUERY_KEY, query_param="k")
    with capture_logs() as logs:
        async with APIClient(
            base_url=_url(server), auth=auth, diagnostic_mode=True, retry=RetryPolicy.disabled()
        ) as client:
            with pytest.raises(HTTPError) as caught:
                await client.get("/v1/events")
    assert server.log[0][0].args["k"] == QUERY_KEY  # the API got the key
    shown = f"{caught.value}\n{caught.value!r}\n{logs}"
    forms = {QUERY_KEY, quote(QUERY_KEY, safe=""), quote_plus(QUERY_KEY), "hk%2by%2fZq%3d9w%3d%3d"}
    assert not [form for form in forms if form in shown], shown


@pytest.mark.timeout(60)
def test_an_encoded_api_key_never_reaches_the_watermark_or_the_output(
    server: HTTPServer, tmp_path: Path
) -> None:
    server.expect_request("/v1/events").respond_with_json({"error": "nope"}, status=500)
    db = tmp_path / "ck.db"
    config = {
        "state": f"sqlite:///{db}",
        "sinks": [{"type": "sqlite", "path": str(db)}],
        "sources": [
            {
                "name": "query_key",
                "base_url": _url(server),
                "auth": {"type": "api_key", "key": "${HOSTILE_KEY}", "query_param": "k"},
                "request": {"endpoint": "/v1/events", "data_path": "data"},
                "retry": {"max_attempts": 1},
            }
        ],
    }
    path = write_config(tmp_path / "collectorkit.yaml", config)
    done = subprocess.run(
        [sys.executable, "-m", "collectorkit", "once", str(path), "--debug"],
        capture_output=True,
        env={**os.environ, "HOSTILE_KEY": QUERY_KEY, "NO_COLOR": "1", "COLUMNS": "300"},
        timeout=50,
        check=False,
    )
    assert server.log, "no request was sent"
    stored = db.read_bytes().decode("latin-1") if db.exists() else ""
    shown = done.stdout.decode() + done.stderr.decode() + stored
    forms = {QUERY_KEY, quote(QUERY_KEY, safe=""), quote_plus(QUERY_KEY)}
    assert not [form for form in forms if form in shown], shown[-3000:]


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_an_encoded_api_key_never_reaches_status_metrics_or_the_daemon_log(
    server: HTTPServer, tmp_path: Path
) -> None:
    server.expect_request("/v1/events").respond_with_json(
        {"error": f"bad key {quote(QUERY_KEY, safe='')}"}, status=500
    )
    db = tmp_path / "ck.db"
    config = {
        "state": f"sqlite:///{db}",
        "sinks": [{"type": "sqlite", "path": str(db)}],
        "status": {"host": "127.0.0.1", "port": 0},
        "sources": [
            {
                "name": "query_key",
                "base_url": _url(server),
                "interval": "0.3s",
                "auth": {"type": "api_key", "key": "${HOSTILE_KEY}", "query_param": "k"},
                "request": {"endpoint": "/v1/events", "data_path": "data"},
                "retry": {"max_attempts": 1},
            }
        ],
    }
    path = write_config(tmp_path / "collectorkit.yaml", config)
    env = {**os.environ, "HOSTILE_KEY": QUERY_KEY}
    log = tmp_path / "daemon.log"
    proc = start_daemon(path, env, log, "--debug")
    try:
        url = status_url(proc, log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = httpx2.get(url + "/status").text
            if '"runs": 0' not in status and "error" in status:
                break
            time.sleep(0.1)
        pages = [httpx2.get(url + page).text for page in ("/status", "/metrics", "/")]
    finally:
        stop_daemon(proc)
    assert server.log, "no request was sent"
    shown = "\n".join([*pages, log.read_text(errors="replace")])
    assert "query_key" in shown
    forms = {QUERY_KEY, quote(QUERY_KEY, safe=""), quote_plus(QUERY_KEY), "hk%2by%2fzq%3d9w%3d%3d"}
    assert not [form for form in forms if form.lower() in shown.lower()], shown[-3000:]


def test_a_secret_environment_variable_is_never_echoed_in_configuration_errors(
    tmp_path: Path,
) -> None:
    config = {
        "state": "sqlite:///x.db",
        "sinks": [{"type": "sqlite", "path": "x.db"}],
        "sources": [
            {
                "name": "a",
                "base_url": "${HOSTILE_API_TOKEN}",  # a secret put in the wrong place
                "interval": "${HOSTILE_PASSWORD}",
                "request": {"endpoint": "/x"},
            }
        ],
    }
    path = write_config(tmp_path / "collectorkit.yaml", config)
    env = {
        **os.environ,
        "HOSTILE_API_TOKEN": "hostile-env-token-3c4d",
        "HOSTILE_PASSWORD": "hostile-env-password-5e6f",
    }
    done = subprocess.run(
        [sys.executable, "-m", "collectorkit", "validate", str(path)],
        capture_output=True,
        timeout=50,
        check=False,
        env=env,
    )
    shown = done.stdout.decode() + done.stderr.decode()
    assert done.returncode != 0
    assert "base_url" in shown
    assert "interval" in shown
    assert "hostile" not in shown, shown


def test_a_secret_file_is_never_echoed_in_configuration_errors(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text('hostile-line-one\nhostile "two"\\three\n')
    config = {
        "state": "sqlite:///x.db",
        "sinks": [{"type": "sqlite", "path": "x.db"}],
        "sources": [
            {
                "name": "a",
                "base_url": f"${{file:{secret}}}",
                "interval": f"${{file:{secret}}}",
                "request": {"endpoint": "/x"},
            }
        ],
    }
    path = write_config(tmp_path / "collectorkit.yaml", config)
    done = subprocess.run(
        [sys.executable, "-m", "collectorkit", "validate", str(path)],
        capture_output=True,
        timeout=50,
        check=False,
    )
    shown = done.stdout.decode() + done.stderr.decode()
    assert done.returncode != 0
    assert "base_url" in shown
    assert "interval" in shown
    assert "hostile" not in shown, shown
