"""The exam watcher: ``python -m sdnlab.certification.watch ATTEMPT_DIR`` submits at the deadline."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main(directory: str) -> int:
    """Sleep until the attempt's deadline, then submit it unless someone already did."""
    from sdnlab.certification import attempt

    while True:
        state = attempt.load(Path(directory))
        if state.data["status"] != "running":
            return 0
        left = state.data["deadline"] - time.time()
        if left <= 0:
            attempt.settle(state, time.time())
            return 0
        time.sleep(min(left, 30.0))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
