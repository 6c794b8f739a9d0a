"""Keep large freed blocks in the heap instead of handing them back to the kernel after every frame.

glibc serves blocks above its mmap threshold (128 KB at first) with fresh mappings
and unmaps them when freed, so a detection pass that allocates its input and feature
maps anew each time faults in tens of megabytes of zeroed pages per pass: system time
that showed up as a large share of the CPU per frame on 1080p video (README, "How it works").
Serving every block from the heap (no mmap) and trimming it only above 256 MB lets it
reuse those blocks; the largest (a detector's workspace) exceed the highest mmap
threshold glibc accepts, so raising that threshold is not enough.
"""
from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # mallopt parameters (malloc.h)
TRIM_ABOVE = 256 << 20


def keep_large_blocks() -> bool:
    """Raise glibc's thresholds for this process; False where the C library is not glibc (or not Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    mallopt = getattr(libc, "mallopt", None)
    return bool(mallopt) and bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_ABOVE))
