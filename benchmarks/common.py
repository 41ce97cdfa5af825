"""Helpers shared by the benchmarks: the shared corpora folder and peak memory of this process."""

from __future__ import annotations

import os
import resource
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = Path(os.environ.get("DEEPQA_SHARED_DATASETS", PROJECT_ROOT.parent / "shared" / "datasets"))


def peak_memory_mib() -> float:
    """Peak resident memory of this process and of its finished children, in MiB (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)
