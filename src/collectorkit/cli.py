"""The ``collectorkit`` command. Imports nothing heavy at module level: ``--help`` must be fast."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print("collectorkit 0.1.0 — commands arrive with the runtime", file=sys.stderr)
    return 0 if args in ([], ["--help"]) else 2
