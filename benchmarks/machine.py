"""Facts about the machine and the libraries, recorded with every benchmark result."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from typing import Any

ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "XLA_FLAGS",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_ARENA_MAX",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(module: str) -> str | None:
    try:
        mod = __import__(module)
    except ImportError:
        return None
    if hasattr(mod, "__version__"):
        return str(mod.__version__)
    try:  # autograd has no __version__
        return importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _blas() -> list[dict[str, Any]]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"note": "threadpoolctl not installed: BLAS facts unknown"}]
    keys = ("user_api", "internal_api", "prefix", "version", "num_threads", "architecture")
    out = []
    for pool in threadpool_info():
        entry = {k: pool.get(k) for k in keys}
        entry["library"] = os.path.basename(pool.get("filepath", ""))
        entry["owner"] = pool.get("filepath", "").split("site-packages/")[-1].split("/")[0]
        out.append(entry)
    return out


def _mem_total() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _thp() -> str | None:
    """The kernel's transparent-huge-page mode (the bracketed word), or None."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled", encoding="ascii") as fh:
            text = fh.read()
    except OSError:
        return None
    return text[text.find("[") + 1 : text.find("]")] if "[" in text else text.strip()


def facts() -> dict[str, Any]:
    """CPU, cores, load, memory, Python and library versions, BLAS pools, thread variables.

    Call after importing NumPy and SciPy (and the peers) so that every BLAS pool is listed.
    """
    return {
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "mem_total_bytes": _mem_total(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "libc": " ".join(platform.libc_ver()),
        "transparent_hugepages": _thp(),
        "versions": {
            m: _version(m) for m in ("numpy", "scipy", "autograd", "torch", "jax", "cupy")
        },
        "blas_pools": _blas(),
        "env": {k: os.environ.get(k) for k in ENV_VARS},
    }
