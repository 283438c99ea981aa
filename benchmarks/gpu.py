"""GPU benchmark: ``decompose`` and the HSC step on CuPy arrays against the CPU path.

STATUS: NOT YET RUN. No GPU was available when this script was written (see
``docs/benchmarks.md``); it has been checked only for importing and argument parsing on a
CPU machine, where it exits with status 3 and says why.

Usage on a machine with an NVIDIA GPU and CuPy::

    python -m pytest -q tests/test_cupy.py          # correctness first
    python benchmarks/gpu.py --out runs/benchmarks/gpu.json

For each n (default 1024 ... 16384) and dtype (float64, float32) it times ``decompose``
(cuSOLVER ``syevd``) and ``hsc_step`` by the spectral and Cholesky routes on the GPU, and the
same calls on the CPU up to ``--cpu-max``; every GPU step is compared with the float64 CPU
or GPU spectral reference (relative to ``lr * max|g|``) so a fast wrong answer shows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent


def _matrix(n: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    sys.path.insert(0, str(HERE))
    from bench_steps import make_matrix

    H, g = make_matrix(n)
    return H.astype(dtype), g.astype(dtype)


def _time(fn: Any, sync: Any, repeats: int) -> tuple[float, Any]:
    out = fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _one_case(cp: Any, n: int, dtype: Any, cpu_max: int, repeats: int) -> dict[str, Any]:
    """Time decompose and both step routes at one (n, dtype) on the GPU (and the CPU)."""
    from hsc_ref.spectral import decompose
    from hsc_ref.steps import hsc_step

    def gpu_sync() -> None:
        cp.cuda.Stream.null.synchronize()

    def no_sync() -> None:
        return None

    H, g = _matrix(n, dtype)
    Hd, gd = cp.asarray(H), cp.asarray(g)
    row: dict[str, Any] = {"n": n, "dtype": np.dtype(dtype).name}
    row["gpu_decompose_s"], _ = _time(lambda: decompose(Hd), gpu_sync, repeats)
    row["gpu_spectral_step_s"], ref = _time(lambda: hsc_step(Hd, gd), gpu_sync, repeats)
    row["gpu_cholesky_step_s"], chol = _time(
        lambda: hsc_step(Hd, gd, route="cholesky"), gpu_sync, repeats
    )
    scale = float(np.abs(g).max())
    reference = cp.asnumpy(ref).astype(np.float64)
    row["gpu_cholesky_vs_spectral"] = float(np.abs(cp.asnumpy(chol) - reference).max() / scale)
    if n <= cpu_max:
        row["cpu_decompose_s"], _ = _time(lambda: decompose(H), no_sync, repeats)
        row["cpu_spectral_step_s"], cpu_ref = _time(lambda: hsc_step(H, g), no_sync, repeats)
        row["cpu_cholesky_step_s"], _ = _time(
            lambda: hsc_step(H, g, route="cholesky"), no_sync, repeats
        )
        row["gpu_spectral_vs_cpu"] = float(np.abs(reference - cpu_ref).max() / scale)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="hsc_ref on the GPU vs the CPU")
    p.add_argument("--sizes", type=int, nargs="*", default=[1024, 2048, 4096, 8192, 16384])
    p.add_argument("--cpu-max", type=int, default=8192, help="largest n timed on the CPU")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=None, help="JSON file for the results")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    args = p.parse_args(argv)
    try:
        import cupy as cp

        device = cp.cuda.Device()
        props = cp.cuda.runtime.getDeviceProperties(device.id)
    except Exception as exc:  # ImportError, or CUDA errors without a device
        print(f"no usable CuPy/CUDA device ({exc}); nothing measured", file=sys.stderr)
        return 3
    record: dict[str, Any] = {
        "device": props["name"].decode() if isinstance(props["name"], bytes) else props["name"],
        "cupy": cp.__version__,
        "cuda_runtime": cp.cuda.runtime.runtimeGetVersion(),
        "numpy": np.__version__,
        "results": [],
    }
    print(f"device: {record['device']}, CuPy {record['cupy']}", flush=True)

    for n in args.sizes:
        for dtype in (np.float64, np.float32):
            row = _one_case(cp, n, dtype, args.cpu_max, args.repeats)
            record["results"].append(row)
            print(json.dumps(row), flush=True)
            cp.get_default_memory_pool().free_all_blocks()
    if args.out is not None:
        from hsc_ref import _io

        args.out.parent.mkdir(parents=True, exist_ok=True)
        _io.atomic_write_json(args.out, record, overwrite=args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
