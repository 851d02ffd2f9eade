"""``python -m tests.chaos [--messages N]``: one chaos run; prints ``name: value`` lines and exits
non-zero on a lost or duplicated message after the DLQ retry, a wrong final status, or a count
mismatch (the reasons go to stderr)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tests.chaos.run import ChaosError, failures, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--messages", "-n", type=int, default=1000, help="distinct inbound messages (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="the traffic's and the faults' random seed")
    parser.add_argument("--fault-share", type=float, default=0.2, help="deliveries to inbound failed on the way")
    parser.add_argument("--http-timeout", type=float, default=2.0, help="the app's ZAPLINE_HTTP_TIMEOUT, seconds")
    parser.add_argument(
        "--budget", type=float, default=None, help="seconds before the run gives up (default 240 + 0.15 N)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the app's and the sandbox's logs and data")
    args = parser.parse_args(argv)
    if args.messages < 1:
        parser.error("--messages must be at least 1")
    os.chdir(Path(__file__).resolve().parents[2])
    try:
        figures = run(args.messages, seed=args.seed, share=args.fault_share, http_timeout=args.http_timeout,
                      budget_s=args.budget, keep=args.keep)  # fmt: skip
    except ChaosError as exc:
        for name, value in getattr(exc, "figures", {}).items():
            print(f"{name}: {value}", flush=True)
        print(f"chaos: FAILED: {exc}", file=sys.stderr)
        return 2
    for name, value in figures.items():
        print(f"{name}: {value}", flush=True)
    problems = failures(figures)
    for problem in problems:
        print(f"chaos: FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
