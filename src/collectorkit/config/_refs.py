"""``${ENV_VAR}``, ``${ENV_VAR:-default}`` and ``${file:/path}`` references in configuration.

References are resolved in every string of the loaded YAML before validation. ``$${`` writes a
literal ``${``. A missing variable (without a default) or an unreadable file is an error naming the
YAML path. Values substituted under a secret-looking key (``token``, ``password``, ``api_key`` ...)
or from a secret-looking variable (``${XDR_AUTH_TOKEN}``), and everything read from a file, are
returned as secrets, so the caller can register them with the log redactor (and no error echoes
them, wherever they were put). A referenced file larger than :data:`MAX_FILE_REFERENCE_BYTES` is
refused (a secret is a line, not ``/dev/zero``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from collectorkit.config._types import is_secret_name

__all__ = [  # noqa: RUF022 - plain sorted(), the order tests/test_exported_members.py checks
    "ConfigIssue",
    "MAX_FILE_REFERENCE_BYTES",
    "format_path",
    "resolve_references",
]

MAX_FILE_REFERENCE_BYTES = 64 * 1024
"""The largest file a ``${file:/path}`` reference reads."""

_REF = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

ConfigIssue = tuple[str, str]
"""``(path, message)``: one problem found in a configuration file."""


def format_path(loc: tuple[Any, ...]) -> str:
    """``("sources", 0, "auth", "token")`` -> ``sources[0].auth.token``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


class _Resolver:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.issues: list[ConfigIssue] = []
        self.secrets: list[str] = []

    def walk(self, value: Any, loc: tuple[Any, ...]) -> Any:
        if isinstance(value, dict):
            return {k: self.walk(v, (*loc, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.walk(v, (*loc, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and "$" in value:
            return self.substitute(value, loc)
        return value

    def substitute(self, text: str, loc: tuple[Any, ...]) -> str:
        names = [part for part in loc if isinstance(part, str)]
        secret_key = bool(names) and is_secret_name(names[-1])

        def one(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            ref = match.group(1)
            resolved = self.lookup(ref, loc)
            if resolved is not None and (
                secret_key or ref.startswith("file:") or is_secret_name(ref.partition(":-")[0])
            ):
                self.secrets.append(resolved)
            return resolved or ""

        return _REF.sub(one, text)

    def lookup(self, ref: str, loc: tuple[Any, ...]) -> str | None:
        path = format_path(loc)
        if ref.startswith("file:"):
            return self.read_file(ref[5:], path)
        name, sep, default = ref.partition(":-")
        if not _NAME.fullmatch(name):
            self.issues.append(
                (
                    path,
                    f"${{{ref}}} is not a valid reference (use ${{VAR}}, ${{VAR:-default}}"
                    " or ${file:/path})",
                )
            )
            return None
        if name in self.env:
            return self.env[name]
        if sep:
            return default
        self.issues.append(
            (
                path,
                f"environment variable {name} is not set (use ${{{name}:-default}} for a default)",
            )
        )
        return None

    def read_file(self, file_name: str, path: str) -> str | None:
        try:
            with Path(file_name).expanduser().open("rb") as handle:
                data = handle.read(MAX_FILE_REFERENCE_BYTES + 1)
            if len(data) > MAX_FILE_REFERENCE_BYTES:
                self.issues.append(
                    (
                        path,
                        f"file too large: {file_name} is larger than"
                        f" {MAX_FILE_REFERENCE_BYTES} bytes (the limit of ${{file:}} references)",
                    )
                )
                return None
            return data.decode("utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.issues.append((path, f"cannot read secret file {file_name}: {reason}"))
            return None


def resolve_references(
    data: Any, env: Mapping[str, str]
) -> tuple[Any, list[ConfigIssue], list[str]]:
    """``data`` with references substituted, the problems found, and the secret values read."""
    resolver = _Resolver(env)
    resolved = resolver.walk(data, ())
    return resolved, resolver.issues, resolver.secrets
