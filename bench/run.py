"""`make bench`: run every benchmark under bench/ (each a `bench.<name>.run.main()`).

Results are written as JSON to bench/results/.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    only = set(filter(None, os.environ.get("BENCH", "").split(",")))
    names = sorted(p.parent.name for p in HERE.glob("*/run.py"))
    failed = []
    for name in names:
        if only and name not in only:
            continue
        print(f"=== bench {name}", flush=True)
        try:
            code = importlib.import_module(f"bench.{name}.run").main()
        except Exception:
            traceback.print_exc()
            code = 1
        if code:
            failed.append(name)
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
