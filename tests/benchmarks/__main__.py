"""Run every benchmark module in turn: ``python -m tests.benchmarks [name ...]``."""

from __future__ import annotations

import importlib
import sys

MODULES = ["qstash", "inbound", "relay", "costs", "ai", "campaign"]
# Not in `make bench` (needs Node.js and `npm ci` in tests/peers): `make bench-peers` runs it.
PEER_MODULES = ["peers"]


def main(argv: list[str]) -> int:
    for name in argv or MODULES:
        importlib.import_module(f"tests.benchmarks.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
