"""Per-page work of a walk stays linear in the records of a run (issue: performance).

Each test feeds the per-page helpers the pages of a long run and bounds the CPU time they take:
a quadratic cost shows as seconds, the linear one as milliseconds.
"""

from __future__ import annotations

import time

from collectorkit.collect import StopReason
from collectorkit.collect._paginator import NewKeyWatch


def _page(n: int, size: int = 500) -> list[dict[str, object]]:
    return [{"id": f"p{n}-{i}", "n": i} for i in range(size)]


def test_new_key_watch_forgets_its_oldest_keys_in_linear_time() -> None:
    watch = NewKeyWatch(3, memory=50_000)
    pages = [_page(n) for n in range(300)]
    start = time.process_time()
    for page in pages:
        assert watch.after_page(page, None) is None
    assert time.process_time() - start < 1.0


def test_new_key_watch_remembers_at_least_its_memory() -> None:
    watch = NewKeyWatch(2, memory=1_000)
    for n in range(10):
        watch.after_page(_page(n, 100), None)
    # the last 1,000 keys (pages 0-9) are all remembered: repeating two of them stops the walk
    assert watch.after_page(_page(0, 100), None) is None
    assert watch.after_page(_page(5, 100), None) is StopReason.NO_NEW_KEYS


def test_may_repeat_is_told_by_an_identifying_field() -> None:
    from collectorkit.collect import CollectorState
    from collectorkit.collect._resume import PageProgress

    unique = _page(0)
    assert not PageProgress(CollectorState(), unique).may_repeat
    assert PageProgress(CollectorState(), [*unique, unique[0]]).may_repeat
    assert PageProgress(CollectorState(), [{"a": 1}, {"a": 1}]).may_repeat


def test_new_key_watch_memory_stays_small_over_a_long_run() -> None:
    import tracemalloc

    watch = NewKeyWatch(3)
    tracemalloc.start()
    try:
        for n in range(400):  # 200,000 records with ~30-character ids
            watch.after_page(
                [{"id": f"alert-{n:05d}-{i:04d}-0123456789ab"} for i in range(500)], None
            )
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 6 * 1024 * 1024  # the ids themselves: ~20 MB
