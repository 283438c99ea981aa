"""Smoke test of ``benchmarks/run.py --quick``: it runs, checks its methods agree, and writes.

Timings are not tested (they are measurements, see ``docs/benchmarks.md``). Agreement is:
every Hessian method's largest entry difference from hsc_ref's, relative to ``max|H|``, is at
rounding level (``1e-12``, far above ``n * eps`` = 1e-14 at n = 42 and far below any real
error), and every step route's difference from the spectral reference, relative to
``lr * max|g|``, is within ``ROUNDING_FACTOR`` times the Cholesky route's bound
``n * eps * (1 + ||H||^2)`` with the benchmark's ``||H|| = 10``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from examples_support import run_single_threaded

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmark_runs_and_its_methods_agree(tmp_path):
    proc = run_single_threaded(
        sys.executable,
        str(ROOT / "benchmarks" / "run.py"),
        "--quick",
        "--no-peers",
        "--widths",
        "4",
        "--step-sizes",
        "40",
        "--sections",
        "hessian",
        "steps",
        "--out-dir",
        str(tmp_path),
        "--name",
        "smoke",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "smoke.json").read_text())
    assert "## Exact Hessian" in (tmp_path / "smoke.md").read_text()
    assert result["machine"]["blas_pools"]
    hessians = [r for r in result["hessian"] if "median_s" in r]
    assert {r["method"] for r in hessians} >= {"hsc_ref.hessian (batched)", "autograd.hessian"}
    assert all(r["rel_diff_vs_hsc_ref"] <= 1e-12 for r in hessians)
    steps = [r for r in result["steps"] if "median_s" in r]
    assert {"hsc_ref cholesky", "hsc_ref auto"} <= {r["method"] for r in steps}  # not vacuous
    for r in steps:
        bound = 10 * r["n"] * 2.3e-16 * (1 + 10.0**2)  # ROUNDING_FACTOR * Cholesky bound
        assert r["rel_err_vs_spectral"] <= bound, r["method"]


def _targets_module():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import targets
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return targets


def _record(n, method, median_s):
    return {"n": n, "method": method, "median_s": median_s}


def test_targets_table_judges_each_ratio_against_its_limit():
    targets = _targets_module()
    result = {
        "allocator": "keep",
        "hessian": [
            _record(249, targets.HSC, 0.02),
            _record(249, targets.TORCH, 0.02),  # ratio 1: "no slower" holds
            _record(249, targets.JAX, 0.01),  # no JAX target at this n
            _record(3962, targets.HSC, 2.0),
            _record(3962, "hsc_ref batched, workers=2", 1.5),
            _record(3962, targets.TORCH, 1.9),  # 2.0 / 1.9 > 1: missed
            _record(3962, targets.JAX, 1.0),  # 1.5 / 1.0 = 1.5: within 1.5x
            {"n": 3962, "method": targets.JAX + " extra", "note": "skipped"},
        ],
    }
    rows = targets.hessian_rows(result)
    verdicts = {row.split(" | ")[0].lstrip("| "): row.rsplit("|", 2)[-2].strip() for row in rows}
    assert verdicts == {
        "n = 249, no slower than torch.func; hsc_ref 1 thread, allocator keep": "yes",
        "n = 249, vs JAX (no target at this n); hsc_ref 1 thread, allocator keep": "—",
        "n = 3962, no slower than torch.func; hsc_ref 1 thread, allocator keep": "no",
        "n = 3962, within 1.5x of JAX; hsc_ref 1 thread, allocator keep": "no",
        "n = 3962, no slower than torch.func; hsc_ref workers=2, allocator keep": "yes",
        "n = 3962, within 1.5x of JAX; hsc_ref workers=2, allocator keep": "yes",
    }


def test_targets_table_judges_the_four_step_targets():
    targets = _targets_module()
    steps = [
        _record(1000, "hsc_ref auto", 0.1),
        _record(1000, "literal: scipy pinvh twice", 1.0),  # 10x: reached, at the limit
        _record(4000, "hsc_ref auto", 1.0),
        _record(4000, "literal: scipy pinvh twice", 49.0),  # 49x < 50x: missed
        _record(4000, "scipy eigh evd step", 6.0),
        _record(4000, targets.JAX_STEP, 5.0),  # the best peer: 5x, reached at the limit
        {**_record(4000, "hsc_ref cholesky", 1.6), "flop_floor_s": 1.0},  # 1.6x > 1.5x
    ]
    rows = targets.step_rows({"steps": steps, "dgemm_gflops": 100.0})
    verdicts = [row.rsplit("|", 2)[-2].strip() for row in rows]
    assert verdicts == ["yes", "no", "yes", "no"]
    assert f"best peer ({targets.JAX_STEP}) 5 s: 5.0x" in rows[2]
