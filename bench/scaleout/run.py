"""`make bench` entry: measure sandbox containers (when this host can run them), then simulate.

The measurement needs root, podman and the sandbox image (`make image`); without them the
last measurement in bench/results/scaleout-measure.json is used and the reason is printed.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from bench.scaleout import measure, simulate
from sdnlab.classroom import podspec


def _cannot_measure() -> str | None:
    if os.geteuid() != 0:
        return "not root"
    if not shutil.which("podman"):
        return "podman is not installed"
    image = podspec.SandboxSpec().image
    if subprocess.run(["podman", "image", "exists", image], capture_output=True).returncode != 0:
        return f"the image {image} is missing (make image)"
    return None


def main() -> int:
    """Measure (if possible) and simulate; 0 on success."""
    reason = _cannot_measure()
    if reason:
        print(f"scaleout: not measuring ({reason}); using {measure.OUT.name} as it is")
    else:
        result = measure.main(4)
        print(f"scaleout: measured {result['sandboxes']} sandboxes, {result['memory_mib_mean']} MiB each")
    for run in simulate.main()["runs"]:
        latency = run["start_latency_s"]
        print(f"scaleout: {run['scenario']['name']}: rejected {run['rejected']}, p95 {latency['p95']} s")
    return 0
