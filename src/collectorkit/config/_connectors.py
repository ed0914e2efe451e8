"""Sources that name a connector: the definition expanded under the source's own settings.

``{name: okta_logs, connector: okta, base_url: …, auth: {…}, options: {…}}`` becomes the full
source the connector describes, then is validated like any other source — the same model, the
same error paths (``sources[0].options.org: is required by connector 'github_audit'``).
The configuration's ``connectors_dir`` adds the definitions of a folder while it is validated.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from collectorkit._errors import ConfigError
from collectorkit.connectors import Connector, get_connector

if TYPE_CHECKING:
    from collectorkit.collect import CollectorBlueprint

__all__ = ["connector_blueprint", "connectors_from", "expand_connector", "find_connector"]

_DIR: ContextVar[str | None] = ContextVar("collectorkit_connectors_dir", default=None)


@contextlib.contextmanager
def connectors_from(folder: str | os.PathLike[str] | None) -> Iterator[None]:
    """Connector names resolve in ``folder`` too while the block runs (a file's
    ``connectors_dir``)."""
    token = _DIR.set(None if folder is None else os.fspath(folder))
    try:
        yield
    finally:
        _DIR.reset(token)


def find_connector(name: object, *, path: str = "connector") -> Connector:
    """The connector called ``name`` (shipped, entry point or the current folder)."""
    return get_connector(name, _DIR.get(), path=path)


def expand_connector(data: Any) -> Any:
    """``data`` with its connector's settings merged under it (unchanged without one); a
    problem is a pydantic error whose field names the place in the source."""
    if not isinstance(data, Mapping) or data.get("connector") is None:
        if isinstance(data, Mapping) and data.get("options"):
            raise PydanticCustomError(
                "config_error",
                "{reason}",
                {
                    "reason": "options are a connector's; name one with connector:",
                    "field": "options",
                },
            )
        return data
    try:
        return find_connector(data["connector"]).expand(data)
    except ConfigError as exc:
        field = exc.path or "connector"
        if field.startswith(("/", ".", "<", "entry point")) or ":" in field:
            raise PydanticCustomError("config_error", "{reason}", {"reason": str(exc)}) from None
        raise PydanticCustomError(
            "config_error", "{reason}", {"reason": exc.reason, "field": field}
        ) from None


def connector_blueprint(
    connector: str,
    *,
    base_url: str,
    auth: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    name: str | None = None,
    connectors_dir: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> CollectorBlueprint:
    """The blueprint of ``connector`` for your ``base_url``, ``auth`` (an auth kind and its
    options, as in a file: ``{"type": "api_key", "key": "…"}``) and ``options``.

    ``overrides`` are any other source settings (``request={"params": {"limit": 200}}``,
    ``retry={"max_attempts": 3}``), merged over the connector's. Validation is the
    configuration file's: a mistake raises :class:`~collectorkit.config.ConfigValidationError`
    naming the setting.
    """
    # imported here: the source model imports this module to expand connectors
    from collectorkit.config._build import build_blueprint
    from collectorkit.config._issues import ConfigValidationError, translate_errors
    from collectorkit.config._source import SourceConfig

    data: dict[str, Any] = {
        "name": name or connector,
        "connector": connector,
        "base_url": base_url,
        **({"auth": dict(auth)} if auth is not None else {}),
        **({"options": dict(options)} if options is not None else {}),
        **overrides,
    }
    with connectors_from(connectors_dir):
        try:
            source = SourceConfig.model_validate(data)
        except ValidationError as exc:
            issues = translate_errors(exc.errors(), data, SourceConfig)
            raise ConfigValidationError(issues, origin=f"connector {connector!r}") from None
    return build_blueprint(source)
