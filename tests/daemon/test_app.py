"""Assembly from a configuration: schedules, jobs, overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from collectorkit.config._load import load_config
from collectorkit.daemon._app import build_runtime, schedule_for
from collectorkit.daemon._job import CollectorJob, DevModeJob


def _config(tmp_path: Path, state: str, sinks: list[dict[str, Any]], **source: Any) -> Any:
    src = {
        "name": "s",
        "base_url": "http://127.0.0.1:9",
        "request": {"endpoint": "/x"},
        **source,
    }
    return load_config({"state": state, "sinks": sinks, "sources": [src]}, env={})


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
