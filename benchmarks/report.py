"""Writing a benchmark's JSON: the measurements plus the versions and machine they ran on."""

from __future__ import annotations

import json
import os
import platform
from importlib.metadata import version
from pathlib import Path

PACKAGES = ("curate", "ase", "zarr", "numpy", "torch", "chgnet", "distributed")


def write_report(report: dict, out: Path) -> None:
    """Add versions, machine, cores and the load average at the end to ``report``, write it to
    ``out`` and print it."""
    report = {
        **report,
        "versions": {name: version(name) for name in PACKAGES},
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cores": len(os.sched_getaffinity(0)),
        "load_average_at_end": os.getloadavg(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
