"""Seed 002: bounded processed ids that survive restarts, and the three callback kinds."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from collectorkit import ConfigError
from collectorkit.delivery._callbacks import CallbackError, WebhookCallback, callback_from_spec
from collectorkit.delivery._processed import PersistentProcessedIds, ProcessedIds
from collectorkit.testing import no_backoff
from tests.delivery import hookfuncs


@given(st.lists(st.text(min_size=1, max_size=4)), st.integers(min_value=1, max_value=20))
def test_processed_ids_never_exceed_capacity_and_keep_the_newest(
    ids: list[str], capacity: int
) -> None:
    seen = ProcessedIds(capacity)
    seen.update(ids)
    assert len(seen) <= capacity
    newest = list(dict.fromkeys(reversed(ids)))[:capacity]
    assert set(newest) <= set(seen)


def test_new_returns_unseen_ids_once_in_order() -> None:
    seen = ProcessedIds(10, ["a", "b"])
    assert seen.new(["b", "c", "a", "d", "c"]) == ["c", "d"]
    with pytest.raises(ConfigError, match=r"dedup\.capacity: must be >= 1, got 0"):
        ProcessedIds(0)


async def test_processed_ids_survive_a_restart(tmp_path: Path) -> None:
    from collectorkit.state import open_state_store

    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = await open_state_store(url)
    try:
        first = PersistentProcessedIds(store, "xdr", capacity=3)
        await first.load()
        first.update(["1", "2", "3", "4"])
        await first.save()
    finally:
        await store.aclose()
    store = await open_state_store(url)
    try:
        again = PersistentProcessedIds(store, "xdr", capacity=3)
        await again.load()
        assert list(again) == ["2", "3", "4"]
        assert again.new(["4", "5"]) == ["5"]
    finally:
        await store.aclose()


async def test_python_callbacks_by_import_path() -> None:
    hookfuncs.CALLS.clear()
    await callback_from_spec({"python": "tests.delivery.hookfuncs:remember"})("xdr", [{"id": 1}])
    await callback_from_spec("tests.delivery.hookfuncs:remember_async")("xdr", [{"id": 2}])
    assert hookfuncs.CALLS == [(None, [1]), ("xdr", [2])]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"python": "tests.delivery.nope:f"}, "cannot import module 'tests.delivery.nope'"),
        ({"python": "tests.delivery.hookfuncs:missing"}, "has no attribute 'missing'"),
        ({"python": "tests.delivery.hookfuncs:NOT_CALLABLE"}, "is not callable"),
        ({"webhook": "ftp://x"}, "webhook needs an http(s) url"),
        ({"email": "me@example.com"}, "'email' is not a callback kind"),
        ("no_such_entry_point", "neither 'package.module:function' nor an entry point"),
    ],
)
def test_bad_callback_specs_name_the_problem(spec: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        callback_from_spec(spec, path="sources[0].callbacks[0]")
    assert message in str(info.value)
    assert str(info.value).startswith("sources[0].callbacks[0]")


async def test_command_callback_gets_json_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    script = f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"
    command = f'{sys.executable} -c "{script}"'
    await callback_from_spec({"command": command})("xdr", [{"id": 7, "severity": "high"}])
    assert json.loads(out.read_text()) == {
        "source": "xdr",
        "alerts": [{"id": 7, "severity": "high"}],
    }
    failing = callback_from_spec({"command": f"{sys.executable} -c 'import sys; sys.exit(3)'"})
    with pytest.raises(CallbackError, match="exited with status 3"):
        await failing("xdr", [{"id": 1}])


async def test_webhook_callback_posts_json(httpserver: HTTPServer) -> None:
    received: list[Any] = []

    def handler(request: Request) -> Response:
        received.append((request.headers.get("X-Hook-Key"), json.loads(request.data)))
        return Response("ok")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handler)
    hook = callback_from_spec(
        {"webhook": {"url": httpserver.url_for("/hook"), "headers": {"X-Hook-Key": "hk-123456"}}}
    )
    assert "hk-123456" not in repr(hook)
    assert isinstance(hook, WebhookCallback)
    async with hook:
        await hook("xdr", [{"id": 9}])
    assert received == [("hk-123456", {"source": "xdr", "alerts": [{"id": 9}]})]
    httpserver.expect_request("/down", method="POST").respond_with_data("no", status=500)
    down = callback_from_spec({"webhook": httpserver.url_for("/down")})
    assert isinstance(down, WebhookCallback)
    async with down:
        with no_backoff(), pytest.raises(CallbackError, match="HTTP 500"):
            await down("xdr", [{"id": 9}])
