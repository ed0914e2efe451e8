"""open_state_store: a store by URL, reachable or a clear refusal; memory only when asked."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from collectorkit import ConfigError, FakeClock, StateStoreUnavailableError
from collectorkit.state import (
    MemoryStateStore,
    MockStorageClient,
    PostgresStateStore,
    RedisStateStore,
    SQLiteStateStore,
    StorageServiceClient,
    create_state_store,
    open_state_store,
)
from tests._servers import free_port


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORAGE_SERVICE_URL", raising=False)
    monkeypatch.delenv("STORAGE_SERVICE_TOKEN", raising=False)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("memory://", MemoryStateStore),
        ("sqlite:///./state.db", SQLiteStateStore),
        ("postgresql://u@localhost/db", PostgresStateStore),
        ("postgres://u@localhost/db", PostgresStateStore),
        ("redis://localhost:6379/0", RedisStateStore),
        ("http://storage:8000", StorageServiceClient),
        ("https://storage:8000", StorageServiceClient),
    ],
)
async def test_scheme_picks_the_store(url: str, kind: type) -> None:
    store = create_state_store(url)
    assert type(store) is kind
    await store.aclose()


async def test_sqlite_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = await open_state_store("sqlite:///sub/relative.db")
    assert isinstance(store, SQLiteStateStore)
    await store.put("ns", "k", {"a": 1})
    await store.aclose()
    assert (tmp_path / "sub" / "relative.db").exists()
    absolute = await open_state_store(f"sqlite:///{tmp_path}/abs.db")
    await absolute.aclose()
    assert (tmp_path / "abs.db").exists()
    with pytest.raises(ConfigError, match=r"sqlite:///relative\.db"):
        create_state_store("sqlite://")


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"state: unknown state store URL scheme 'ftp'; known: .*sqlite"
    ):
        create_state_store("ftp://x")


async def test_no_url_refuses_unless_memory_is_asked_for(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ConfigError, match="STORAGE_SERVICE_URL"):
        await open_state_store()
    with caplog.at_level(logging.WARNING, logger="collectorkit.state"):
        store = await open_state_store(fallback_to_memory=True)
    assert isinstance(store, MockStorageClient)
    assert "No storage service URL provided - using mock storage client" in caplog.text


async def test_env_selects_the_service_and_a_down_service_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    monkeypatch.setenv("STORAGE_SERVICE_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(StateStoreUnavailableError) as caught:
        await open_state_store(clock=FakeClock())
    message = str(caught.value)
    assert "refusing to start" in message
    assert f"127.0.0.1:{port}" in message
    assert "fallback_to_memory" not in message  # no Python argument in what a CLI user reads
    assert "memory://" in message


async def test_fallback_to_memory_is_loud(caplog: pytest.LogCaptureFixture) -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    with caplog.at_level(logging.WARNING, logger="collectorkit.state"):
        store = await open_state_store(url, fallback_to_memory=True)
    assert isinstance(store, MockStorageClient)
    error = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert "FALLING BACK TO MEMORY" in error.getMessage()
    assert "watermarks will not persist" in error.getMessage()
    assert "hunter2" not in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://admin:hunter2@127.0.0.1:{port}/db",
        "redis://:hunter2@127.0.0.1:{port}/0",
        "http://127.0.0.1:{port}",
    ],
)
async def test_unreachable_store_error_is_clear_and_hides_passwords(url: str) -> None:
    url = url.format(port=free_port())
    store = create_state_store(url, clock=FakeClock())
    if isinstance(store, PostgresStateStore):
        store = PostgresStateStore(url, connect_timeout=2)
    assert "hunter2" not in repr(store)
    with pytest.raises(StateStoreUnavailableError) as caught:
        await store.get("ns", "k")
    assert "hunter2" not in str(caught.value)
    assert "unreachable" in str(caught.value)
    await store.aclose()
