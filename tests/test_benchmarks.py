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

import pytest
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
        "--out",
        str(tmp_path),
        "--name",
        "smoke",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "smoke.json").read_text())
    page = (tmp_path / "smoke.md").read_text()
    assert "## Targets" in page and "## Exact Hessian" in page
    assert result["machine"]["blas_pools"]
    hessians = [r for r in result["hessian"] if "median_s" in r]
    targets = _targets_module()
    assert {r["method"] for r in hessians} >= {targets.EXACT, targets.USER}  # not vacuous
    assert all(r["rel_diff_vs_autograd"] <= 1e-12 for r in hessians)
    steps = [r for r in result["steps"] if "median_s" in r]
    assert {"hsc_ref cholesky", "hsc_ref auto"} <= {r["method"] for r in steps}  # not vacuous
    for r in steps:
        bound = 10 * r["n"] * 2.3e-16 * (1 + 10.0**2)  # ROUNDING_FACTOR * Cholesky bound
        assert r["rel_err_vs_spectral"] <= bound, r["method"]


def test_default_output_is_outside_the_tracked_tree():
    proc = run_single_threaded(sys.executable, str(ROOT / "benchmarks" / "run.py"), "--help")
    assert proc.returncode == 0, proc.stderr
    assert str(ROOT / "runs" / "benchmarks") in " ".join(proc.stdout.split())
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "runs/" in ignored or "/runs/" in ignored


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
        "hessian": [
            _record(249, targets.EXACT, 0.005),
            _record(249, targets.JAX, 0.01),  # 0.5: reached at the limit
            _record(1017, targets.EXACT, 0.06),
            _record(1017, targets.JAX, 0.1),  # 0.6 > 0.5: missed by 1.2x
            _record(249, targets.USER, 0.05),
            _record(249, targets.TORCH, 0.04),  # 1.25 > 1: missed by 1.25x
            {"n": 3962, "method": targets.JAX, "note": "skipped"},  # no time: not measured
        ],
        "gan": [
            {"method": targets.GAN_ADAM, "median_s": 0.004},
            {"method": targets.GAN_HSC, "median_s": 0.012},  # 3.0: reached at the limit
            {"method": targets.GAN_BLOCKS, "median_s": 0.008},  # information only
        ],
    }
    rows = targets.target_rows(result)
    verdicts = {row.split(" | ")[0].lstrip("| "): row.rsplit("|", 2)[-2].strip() for row in rows}
    assert verdicts == {
        "exact Hessian, package MLP game, vs JAX, n = 249": "yes",
        "exact Hessian, package MLP game, vs JAX, n = 1017": "no: 1.20x over the limit",
        "exact Hessian, package MLP game, vs JAX, n = 3962": "not measured",
        "generic route, anp.tanh loss, workers=2, vs JAX, n = 3962": "not measured",
        "generic route, anp.tanh loss, vs torch.func, n = 249": "no: 1.25x over the limit",
        "generic route, anp.tanh loss, vs torch.func, n = 1017": "not measured",
        "generic route, anp.tanh loss, vs torch.func, n = 3962": "not measured",
        "hsc-ref gan: --method hsc vs --method adam, per step (ring)": "yes",
        "HSC step by the exact route's calls vs the adam trainer step (not the trainer)": "—",
    }
    assert "| 5 ms vs 10 ms | 0.5 | <= 0.5 | yes |" in rows[0]


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


def test_rerun_table_calls_a_target_reached_only_if_every_run_held_it():
    targets = _targets_module()
    jax_249 = _record(249, targets.JAX, 0.01)
    runs = [
        {"name": "a", "hessian": [_record(249, targets.EXACT, 0.004), jax_249]},  # 0.4
        {"name": "b", "hessian": [_record(249, targets.EXACT, 0.006), jax_249]},  # 0.6: missed
        {"name": "c", "hessian": [jax_249]},  # not measured
    ]
    first = targets.TARGETS[:1]
    assert targets.rerun_table(runs[:1], first).endswith("| 0.4 | <= 0.5 | yes |")
    held = targets.rerun_table([runs[0], runs[0]], first)
    assert held.endswith("| 0.4 | 0.4 | <= 0.5 | yes, in all 2 runs |")
    missed = targets.rerun_table(runs[:2], first)
    assert missed.endswith("| 0.4 | 0.6 | <= 0.5 | no: 1.20x over the limit (held in 1 of 2) |")
    assert targets.rerun_table([runs[0], runs[2]], first).endswith("not measured in every run |")


def test_merged_run_takes_each_section_from_its_file_and_refuses_duplicates():
    targets = _targets_module()
    hessian = {"name": "h", "hessian": [_record(249, targets.JAX, 0.01)]}
    gan = {"name": "g", "gan": [{"method": targets.GAN_ADAM, "median_s": 0.002}]}
    run = targets.merged([hessian, gan])
    assert run["name"] == "h+g" and run["hessian"] == hessian["hessian"]
    assert run["gan"] == gan["gan"]
    with pytest.raises(ValueError, match="section 'gan' is in more than one merged file"):
        targets.merged([gan, gan])


def test_the_headline_table_of_docs_benchmarks_md_is_what_targets_py_makes_of_its_runs():
    # The page's numbers come from the two committed result files through targets.py: a
    # change to either (or to the page) that breaks the link fails here.
    targets = _targets_module()
    runs = [
        json.loads((ROOT / "benchmarks" / "results" / f"targets-{k}.json").read_text())
        for k in (3, 4)
    ]
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    table = targets.rerun_table(runs).strip()
    assert table.count("\n") >= 5 and table in page


def test_gan_table_shows_each_method_against_adam():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import run as bench_run
        import targets
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    rows = [
        {"method": targets.GAN_ADAM, "median_s": 0.002, "vs_adam": 1.0},
        {"method": targets.GAN_GAME["conopt"], "median_s": 0.005, "vs_adam": 2.5},
        {"method": targets.GAN_GAME["sga"], "note": "failed: ValueError: x"},
    ]
    lines = bench_run._section_lines({"gan": rows})
    assert "| trainer, --method conopt | 5 | 2.5x |" in lines
    assert "| trainer, --method sga | failed: ValueError: x | — |" in lines
    from hsc_ref.gan.methods import GAME_METHODS

    assert tuple(targets.GAN_GAME) == GAME_METHODS  # every game method has its row
