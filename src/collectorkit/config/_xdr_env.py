"""Seed 002's single-source configuration from environment variables and command-line flags.

==========================  =========================================  ====================
variable                    meaning                                    flag (overrides it)
==========================  =========================================  ====================
``XDR_BASE_URL``            API base URL                               ``--base-url``
``XDR_AUTH_TOKEN``          API key (``dev-dummy-token``: dev mode)    ``--auth-token``
``XDR_AUTH_ID``             API key id sent as ``x-xdr-auth-id``
``XDR_POLL_INTERVAL``       seconds (or ``30s``, ``5m``) between polls ``--interval``
``XDR_POLL_ENABLED``        ``true``/``false``
``XDR_MAX_ALERTS_PER_POLL`` alerts per poll at most
``XDR_ALERTS_DIR``          where alert files go (default ``alerts``)
``COLLECTORKIT_STATE``      state store URL (else ``STORAGE_SERVICE_URL``, else
                            ``./collectorkit.db``)
==========================  =========================================  ====================

``--debug`` sets the log level to debug. In development mode the daemon runs its loop without
calling the API and says so. :func:`explain_xdr_failure` words a refused key for the operator.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from collectorkit._errors import AuthenticationError
from collectorkit.config._issues import ConfigValidationError
from collectorkit.config._load import load_config
from collectorkit.config._models import Config
from collectorkit.config._refs import ConfigIssue
from collectorkit.config._source import DEV_TOKEN
from collectorkit.config._types import parse_duration

__all__ = ["XDR_ALERTS_ENDPOINT", "config_from_env", "explain_xdr_failure", "xdr_variables_set"]

XDR_ALERTS_ENDPOINT = "/public_api/v1/alerts/get_alerts_multi_events"
_DEV_BASE_URL = "https://api.xdr.example.com"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class _Reader:
    """Reads one setting from a flag or a variable, collecting problems named after their origin."""

    def __init__(self, env: Mapping[str, str], overrides: Mapping[str, Any]) -> None:
        self.env, self.overrides = env, overrides
        self.issues: list[ConfigIssue] = []

    def raw(self, var: str, flag: str | None) -> tuple[Any, str]:
        key = flag.removeprefix("--").replace("-", "_") if flag else None
        if key is not None and self.overrides.get(key) is not None:
            return self.overrides[key], str(flag)
        return self.env.get(var), var

    def duration(self, var: str, flag: str | None, default: float) -> float:
        value, origin = self.raw(var, flag)
        if value is None or value == "":
            return default
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.issues.append((origin, str(exc)))
            return default
        if seconds <= 0:
            self.issues.append((origin, f"{value!r} must be > 0 seconds"))
        return seconds

    def boolean(self, var: str, default: bool) -> bool:
        value, origin = self.raw(var, None)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in _TRUE | _FALSE:
            return str(value).strip().lower() in _TRUE
        self.issues.append((origin, f"{value!r} is not a boolean (true or false)"))
        return default

    def integer(self, var: str) -> int | None:
        value, origin = self.raw(var, None)
        if value is None or value == "":
            return None
        try:
            number = int(value)
        except ValueError:
            self.issues.append((origin, f"{value!r} is not an integer"))
            return None
        if number < 1:
            self.issues.append((origin, f"{value!r} must be >= 1"))
        return number


def _request(page_size: int) -> dict[str, Any]:
    return {
        "endpoint": XDR_ALERTS_ENDPOINT,
        "method": "POST",
        "json": {
            "request_data": {
                "filters": [{"field": "creation_time", "operator": "gte", "value": "{start}"}],
                "sort": {"field": "creation_time", "keyword": "asc"},
            }
        },
        "data_path": "reply.alerts",
        "pagination": {
            "mode": "offset",
            "offset_param": "request_data.search_from",
            "offset_end_param": "request_data.search_to",
            "page_size": page_size,
            "param_location": "body",
            "total_path": "reply.total_count",
        },
        "incremental": {
            "timestamp_field": "creation_time",
            "id_field": "alert_id",
            "time_format": "epoch_ms",
        },
    }


def config_from_env(
    env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Config:
    """A one-source :class:`Config` polling XDR alerts, from seed 002's variables and flags.

    ``overrides`` holds the flags by name (``interval``, ``debug``, ``base_url``,
    ``auth_token``); a flag that is ``None`` leaves the variable in charge. Problems are reported
    together, each named after its variable or flag.
    """
    env = os.environ if env is None else env
    read = _Reader(env, overrides or {})
    token, token_origin = read.raw("XDR_AUTH_TOKEN", "--auth-token")
    base_url, url_origin = read.raw("XDR_BASE_URL", "--base-url")
    dev_mode = token == DEV_TOKEN
    if not token:
        read.issues.append(("XDR_AUTH_TOKEN", "is not set (use dev-dummy-token for development)"))
    if not base_url and not dev_mode:
        read.issues.append(("XDR_BASE_URL", "is not set (e.g. https://api-tenant.xdr.example.com)"))
    interval = read.duration("XDR_POLL_INTERVAL", "--interval", 30.0)
    enabled = read.boolean("XDR_POLL_ENABLED", True)
    limit = read.integer("XDR_MAX_ALERTS_PER_POLL") or 100
    if read.issues:
        raise ConfigValidationError(read.issues, origin="the environment")
    auth: dict[str, Any] = {"type": "api_key", "key": _literal(token)}
    auth["header_name"] = "Authorization"
    if env.get("XDR_AUTH_ID"):
        auth |= {"key_id": env["XDR_AUTH_ID"], "key_id_header": "x-xdr-auth-id"}
    source = {
        "name": "xdr_alerts",
        "base_url": _literal(base_url or _DEV_BASE_URL).rstrip("/"),
        "auth": auth,
        "enabled": enabled,
        "dev_mode": dev_mode,
        "interval": interval,
        "limit": limit,
        "key_fields": ["alert_id"],
        "request": _request(min(limit, 100)),
    }
    data: dict[str, Any] = {
        "log_level": "debug" if (overrides or {}).get("debug") else "info",
        "sinks": [
            {
                "type": "json_files",
                "directory": env.get("XDR_ALERTS_DIR") or "alerts",
                "filename": "alert_{id}_{timestamp}.json",
                "id_field": "alert_id",
            }
        ],
        "sources": [source],
    }
    if env.get("COLLECTORKIT_STATE"):  # else the command picks it, as for a file without state:
        data["state"] = env["COLLECTORKIT_STATE"]
    try:
        return load_config(data, env={})
    except ConfigValidationError as exc:
        origins = {"base_url": url_origin, "key": token_origin}
        raise ConfigValidationError(
            [(_origin(path, origins), message) for path, message in exc.issues],
            origin="the environment",
        ) from None


def xdr_variables_set(env: Mapping[str, str] | None = None) -> bool:
    """Whether any ``XDR_*`` variable is set (the env-only poller was meant)."""
    env = os.environ if env is None else env
    return any(name.startswith("XDR_") and value for name, value in env.items())


def explain_xdr_failure(exc: BaseException, env: Mapping[str, str] | None = None) -> str | None:
    """What an operator of the env-only poller should do about ``exc`` (``None``: nothing to add).

    Cortex XDR answers 401 to a standard API key sent without its id.
    """
    if not isinstance(exc, AuthenticationError):
        return None
    env = os.environ if env is None else env
    if not env.get("XDR_AUTH_ID"):
        return (
            "Cortex XDR refused the API key: XDR_AUTH_ID is not set. Set XDR_AUTH_ID to the "
            "key's ID (the ID column beside the key under Settings > API Keys); it is sent as "
            "the x-xdr-auth-id header with XDR_AUTH_TOKEN"
        )
    return (
        "Cortex XDR refused the API key: check that XDR_AUTH_TOKEN is the key and XDR_AUTH_ID "
        "its ID, that the key has not expired, and that its role may read alerts"
    )


def _origin(path: str, origins: Mapping[str, str]) -> str:
    leaf = path.rsplit(".", 1)[-1]
    return origins.get(leaf, path)


def _literal(value: object) -> str:
    """``value`` protected from ``${...}`` substitution (it came from the environment already)."""
    return str(value).replace("${", "$${")
