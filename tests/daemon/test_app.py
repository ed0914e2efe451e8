"""Assembly from a configuration: which sink commits the checkpoint, schedules, overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from collectorkit.config._load import load_config
from collectorkit.daemon._app import _checkpoint_sink, build_runtime, schedule_for
from collectorkit.daemon._job import CollectorJob, DevModeJob
from collectorkit.sinks import build_sink


def _config(tmp_path: Path, state: str, sinks: list[dict[str, Any]], **source: Any) -> Any:
    src = {
        "name": "s",
        "base_url": "http://127.0.0.1:9",
        "request": {"endpoint": "/x"},
        **source,
    }
    return load_config({"state": state, "sinks": sinks, "sources": [src]}, env={})


SQLITE = "sqlite:///{tmp}/a.db"
PG = "postgresql://u@127.0.0.1:1/db"
REDIS = "redis://127.0.0.1:1/0"


@pytest.mark.parametrize(
    ("state", "sinks", "expected"),
    [
        (SQLITE, [{"type": "sqlite", "path": "{tmp}/a.db"}], 0),
        (
            SQLITE,
            [{"type": "jsonl", "path": "{tmp}/o"}, {"type": "sqlite", "path": "{tmp}/a.db"}],
            1,
        ),
        (SQLITE, [{"type": "sqlite", "path": "{tmp}/b.db"}], None),
        ("memory://", [{"type": "sqlite", "path": "{tmp}/a.db"}], None),
        (PG, [{"type": "postgres", "url": PG}], 0),
        (PG, [{"type": "postgres", "url": PG + "2"}], None),
        (PG, [{"type": "postgres", "url": PG, "state_table": "other"}], None),
        (REDIS, [{"type": "redis", "url": REDIS}], 0),
    ],
)
def test_the_checkpoint_goes_with_the_records_only_where_the_store_reads_it(
    tmp_path: Path, state: str, sinks: list[dict[str, Any]], expected: int | None
) -> None:
    specs = [{k: str(v).replace("{tmp}", str(tmp_path)) for k, v in s.items()} for s in sinks]
    config = _config(tmp_path, state.replace("{tmp}", str(tmp_path)), specs)
    built = [build_sink({"type": s.type, **s.options}) for s in config.sinks]
    chosen = _checkpoint_sink(config.state, config.sinks, built)
    assert chosen is (None if expected is None else built[expected])


def test_schedules_from_the_configuration(tmp_path: Path) -> None:
    config = _config(tmp_path, "memory://", [{"type": "memory"}], interval="2m", jitter="5s")
    assert schedule_for(config.sources[0]).interval == 120
    assert schedule_for(config.sources[0]).effective_jitter == 5
    cron = _config(tmp_path, "memory://", [{"type": "memory"}], cron="*/5 * * * *")
    assert schedule_for(cron.sources[0]).cron == "*/5 * * * *"
    default = _config(tmp_path, "memory://", [{"type": "memory"}])
    assert schedule_for(default.sources[0]).interval == 60
    assert schedule_for(default.sources[0]).effective_jitter == 6


async def test_build_runtime_makes_one_job_per_enabled_source(tmp_path: Path) -> None:
    config = load_config(
        {
            "state": "memory://",
            "sinks": [{"type": "memory"}],
            "sources": [
                {"name": "live", "base_url": "http://127.0.0.1:9", "request": {"endpoint": "/x"}},
                {
                    "name": "dev",
                    "base_url": "http://127.0.0.1:9",
                    "auth": {"type": "bearer", "token": "dev-dummy-token"},
                    "request": {"endpoint": "/x"},
                },
                {
                    "name": "off",
                    "enabled": False,
                    "base_url": "http://127.0.0.1:9",
                    "request": {"endpoint": "/x"},
                },
            ],
        },
        env=dict(os.environ),
    )
    runtime = await build_runtime(config)
    try:
        kinds = {j.name: type(j) for j in runtime.jobs}
        assert kinds == {"live": CollectorJob, "dev": DevModeJob}
        assert runtime.dev_mode == ["dev"]
    finally:
        await runtime.aclose()
    with pytest.raises(KeyError, match="no source 'nope'"):
        await build_runtime(config, only="nope")
