"""The StateStore contract, identical for every store (see ``conftest.py`` for the list)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectorkit import ConfigError, StateConflictError
from collectorkit.typing import StateStore

VALUE: dict[str, Any] = {
    "cursor": "abc/def?x=1",
    "page": 3,
    "ratio": 0.25,
    "done": False,
    "none": None,
    "nested": {"ids": [1, 2, 3], "text": "naïve ✓ 日本"},
}


async def test_missing_key_and_empty_namespace(store: StateStore) -> None:
    assert await store.get("ns", "nothing") is None
    assert await store.list("empty") == {}
    assert await store.delete("ns", "nothing") is False


async def test_round_trip_keeps_json_exactly(store: StateStore) -> None:
    before = time.time()
    version = await store.put("ns", "k", VALUE)
    stored = await store.get("ns", "k")
    assert version == 1
    assert stored is not None
    assert stored.value == VALUE
    assert stored.version == 1
    assert before - 1 <= stored.updated_at <= time.time() + 1


async def test_unconditional_put_bumps_the_version(store: StateStore) -> None:
    assert await store.put("ns", "k", {"n": 1}) == 1
    assert await store.put("ns", "k", {"n": 2}) == 2
    stored = await store.get("ns", "k")
    assert stored is not None
    assert (stored.value, stored.version) == ({"n": 2}, 2)


async def test_if_version_zero_only_creates(store: StateStore) -> None:
    assert await store.put("ns", "k", {"n": 1}, if_version=0) == 1
    with pytest.raises(StateConflictError, match="ns/k"):
        await store.put("ns", "k", {"n": 2}, if_version=0)
    stored = await store.get("ns", "k")
    assert stored is not None
    assert stored.value == {"n": 1}


async def test_if_version_must_match_the_stored_version(store: StateStore) -> None:
    await store.put("ns", "k", {"n": 1})
    assert await store.put("ns", "k", {"n": 2}, if_version=1) == 2
    with pytest.raises(StateConflictError):
        await store.put("ns", "k", {"n": 3}, if_version=1)
    with pytest.raises(StateConflictError):
        await store.put("ns", "missing", {"n": 3}, if_version=5)
    stored = await store.get("ns", "k")
    assert stored is not None
    assert (stored.value, stored.version) == ({"n": 2}, 2)
    assert await store.get("ns", "missing") is None


async def test_two_writers_from_the_same_read_one_loses(store: StateStore) -> None:
    await store.put("ns", "k", {"owner": "nobody"})
    seen = await store.get("ns", "k")
    assert seen is not None
    await store.put("ns", "k", {"owner": "first"}, if_version=seen.version)
    with pytest.raises(StateConflictError):
        await store.put("ns", "k", {"owner": "second"}, if_version=seen.version)
    final = await store.get("ns", "k")
    assert final is not None
    assert final.value == {"owner": "first"}


async def test_delete_then_recreate(store: StateStore) -> None:
    await store.put("ns", "k", {"n": 1})
    await store.put("ns", "k", {"n": 2})
    assert await store.delete("ns", "k") is True
    assert await store.get("ns", "k") is None
    assert await store.delete("ns", "k") is False
    assert await store.put("ns", "k", {"n": 3}, if_version=0) == 1


async def test_list_is_per_namespace_and_sorted(store: StateStore) -> None:
    await store.put("a", "z", {"v": "az"})
    await store.put("a", "b/c", {"v": "abc"})
    await store.put("b", "z", {"v": "bz"})
    listed = await store.list("a")
    assert list(listed) == ["b/c", "z"]
    assert {k: v.value for k, v in listed.items()} == {"b/c": {"v": "abc"}, "z": {"v": "az"}}
    assert list(await store.list("b")) == ["z"]


@pytest.mark.parametrize("key", ["with space", "slash/in/key", "ünïcödé", "a" * 512, "q?x=1&y=%2F"])
async def test_awkward_keys_round_trip(store: StateStore, key: str) -> None:
    await store.put("ns", key, {"key": key})
    stored = await store.get("ns", key)
    assert stored is not None
    assert stored.value == {"key": key}
    assert list(await store.list("ns")) == [key]
    assert await store.delete("ns", key) is True


@pytest.mark.parametrize(
    ("namespace", "key", "field"),
    [
        ("", "k", "namespace"),
        ("has/slash", "k", "namespace"),
        ("ns", "", "key"),
        ("ns", "a\nb", "key"),
    ],
)
async def test_invalid_names_are_config_errors(
    store: StateStore, namespace: str, key: str, field: str
) -> None:
    with pytest.raises(ConfigError, match=field):
        await store.put(namespace, key, {"x": 1})


async def test_values_must_be_json_objects(store: StateStore) -> None:
    with pytest.raises(ConfigError, match="value"):
        await store.put("ns", "k", {"when": object()})
    with pytest.raises(ConfigError, match="mapping"):
        await store.put("ns", "k", ["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="if_version"):
        await store.put("ns", "k", {"x": 1}, if_version=-1)


async def _increment(store: StateStore, key: str, times: int) -> int:
    conflicts = 0
    for _ in range(times):
        while True:
            current = await store.get("counters", key)
            count = current.value["count"] if current else 0
            try:
                await store.put(
                    "counters",
                    key,
                    {"count": count + 1},
                    if_version=current.version if current else 0,
                )
                break
            except StateConflictError:
                conflicts += 1
    return conflicts


async def test_concurrent_writers_lose_no_increment(store: StateStore) -> None:
    writers, times = 8, 10
    conflicts = await asyncio.gather(*(_increment(store, "c", times) for _ in range(writers)))
    stored = await store.get("counters", "c")
    assert stored is not None
    assert stored.value == {"count": writers * times}
    assert stored.version == writers * times
    assert sum(conflicts) >= 0  # how many depends on scheduling; the total above is what counts


_KEYS = st.sampled_from(["a", "b", "c/d"])
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), _KEYS, st.integers(0, 9), st.none() | st.integers(0, 4)),
        st.tuples(st.just("delete"), _KEYS, st.just(0), st.none()),
        st.tuples(st.just("get"), _KEYS, st.just(0), st.none()),
    ),
    max_size=25,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=_OPS)
async def test_behaves_like_the_reference_model(store: StateStore, ops: list[Any]) -> None:
    """Any sequence of puts, conditional puts, deletes and gets matches a plain dict model."""
    namespace = f"model{uuid.uuid4().hex[:8]}"
    model: dict[str, tuple[int, int]] = {}  # key -> (value, version)
    for op, key, value, if_version in ops:
        if op == "put":
            current = model.get(key, (0, 0))[1]
            if if_version is not None and if_version != current:
                with pytest.raises(StateConflictError):
                    await store.put(namespace, key, {"v": value}, if_version=if_version)
                continue
            assert (
                await store.put(namespace, key, {"v": value}, if_version=if_version) == current + 1
            )
            model[key] = (value, current + 1)
        elif op == "delete":
            assert await store.delete(namespace, key) is (model.pop(key, None) is not None)
        else:
            stored = await store.get(namespace, key)
            expected = model.get(key)
            assert (None if stored is None else (stored.value["v"], stored.version)) == expected
    listed = await store.list(namespace)
    assert {k: (v.value["v"], v.version) for k, v in listed.items()} == model
