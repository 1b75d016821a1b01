"""Small timing helpers shared by the benchmarks (no test framework, no torch at import)."""
from __future__ import annotations

import datetime as _dt
import platform
import statistics
import subprocess
from pathlib import Path
import time
from typing import Callable


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> dict[str, str]:
    """CPU model, core count, torch version and date, for the header of a results table."""
    import os

    import torch

    model = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "cpu": model,
        "cores": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "threads": str(torch.get_num_threads()),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "load": load_average(),
    }


def load_average() -> str:
    """The 1/5/15-minute load averages: on a shared machine, how noisy the timings are."""
    import os

    try:
        return "/".join(f"{v:.1f}" for v in os.getloadavg())
    except (OSError, AttributeError):
        return "n/a"


def keep_freed_memory() -> bool:
    """Ask glibc malloc to reuse freed memory instead of returning it to the OS.

    Tensors above glibc's mmap threshold (at most 32 MiB by default; a (32, 4096, 64) float
    tensor is 32 MiB + a header) get fresh pages from the kernel on every allocation, and
    the page faults, expensive in a VM, then dominate element-wise work. Raising the
    threshold is what an allocator such as jemalloc or tcmalloc, the usual advice for
    PyTorch on CPU, achieves. Returns False where it does not apply (non-glibc).
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, 1 << 30) == 1
        return ok and libc.mallopt(m_trim_threshold, (1 << 31) - 1) == 1
    except (OSError, AttributeError):
        return False


def machine_line() -> str:
    """``machine()`` as the one line a results table's header carries."""
    m = machine()
    return f"{m['cpu']}, {m['cores']} cores, torch {m['torch']}, Python {m['python']}, {m['date']}"


def publish(text: str, out=None) -> None:
    """Print a results table and, with ``--out``, also write it there as Markdown."""
    print(text)
    if out:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
