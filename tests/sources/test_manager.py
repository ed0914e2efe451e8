"""CollectionManager drives several sources together; one failure does not stop the others."""

from __future__ import annotations

import pytest

from collectorkit import ConfigError, SourceError
from collectorkit.compat import ICollectionManager, MockDataSource
from collectorkit.sources import CollectionManager, CollectionStatus


async def test_collects_from_every_source_and_isolates_failures() -> None:
    good = MockDataSource("good", [{"id": 1}, {"id": 2}])
    seed_style = MockDataSource("raw", b'{"id": 3}')
    broken = MockDataSource("broken", fail_on_collect=True)
    manager = CollectionManager([good, seed_style, broken], concurrency=2)
    assert isinstance(manager, ICollectionManager)
    async with manager:
        assert all(s.connected for s in (good, seed_style, broken))
        results = await manager.collect_all()
    assert results == {"good": [{"id": 1}, {"id": 2}], "raw": [{"id": 3}]}
    assert manager.status == {
        "good": CollectionStatus.COMPLETED,
        "raw": CollectionStatus.COMPLETED,
        "broken": CollectionStatus.FAILED,
    }
    assert isinstance(manager.errors["broken"], SourceError)
    assert not any(s.connected for s in (good, seed_style, broken))


async def test_add_remove_and_lookup() -> None:
    manager = CollectionManager()
    manager.add_source(MockDataSource("a", {"id": 1}))
    with pytest.raises(ConfigError, match="'a' is already managed"):
        manager.add_source(MockDataSource("a"))
    with pytest.raises(SourceError, match=r"no source 'b' \(managed: a\)"):
        manager.get_source("b")
    async with manager:
        assert await manager.collect("a") == [{"id": 1}]
    manager.remove_source("a")
    assert manager.sources == []
    assert manager.status == {}
