"""Which CPU a figure was measured on: int8 speed differs several-fold between CPUs with and without AVX512."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name and its widest vector extension, e.g. "AMD EPYC, AVX512" or "..., AVX2 only"."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        info = ""
    for line in info.splitlines():
        if line.startswith("model name"):
            name = line.split(":", 1)[1].strip()
            return name + (", AVX512" if "avx512f" in info else ", AVX2 only" if "avx2" in info else "")
    return platform.processor() or platform.machine()


def machine() -> str:
    """The CPU and its core count, as model cards and benchmark records give them."""
    return f"{cpu_name()}, {os.cpu_count()} cores"
