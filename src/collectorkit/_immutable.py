"""Assigning to a field of an immutable config object: an error that says what to write.

Seed code enables options by assignment (``blueprint.default_strategy = "sequential"``,
``request.shards = [...]``). The objects stay frozen; :func:`explain_assignment` gives their
class a ``__setattr__`` whose :class:`~dataclasses.FrozenInstanceError` names the
``replace(...)`` line to write instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, NoReturn

__all__ = ["explain_assignment"]


def explain_assignment(
    cls: type, variable: str, then: str = "", hints: Mapping[str, str] | None = None
) -> None:
    """Make ``instance.field = value`` on ``cls`` raise an error naming
    ``variable = variable.replace(field=...)``, followed by ``then`` (e.g. how to put the new
    object back where it came from) and by ``hints[field]`` (another way, where there is one)."""
    extra = dict(hints or {})

    def refuse(self: Any, name: str, value: Any) -> NoReturn:
        raise dataclasses.FrozenInstanceError(
            f"{cls.__name__} is immutable: instead of `{variable}.{name} = ...`, write "
            f"`{variable} = {variable}.replace({name}=...)`{then}{extra.get(name, '')}"
        )

    cls.__setattr__ = refuse  # type: ignore[method-assign, assignment]
