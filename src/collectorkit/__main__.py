"""``python -m collectorkit``: the same command as ``collectorkit``."""

from collectorkit.cli import main

if __name__ == "__main__":
    main()
