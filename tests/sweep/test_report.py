"""The report: intervals for the median against exact and simulated coverage, the tables
rebuilt from stored runs, half-written runs ignored, plots or one line without matplotlib."""

from __future__ import annotations

import csv
import json
import math
import sys

import numpy as np
import pytest

from hsc_ref.lab.sweep._report import load_stored, median_ci, write_report
from hsc_ref.lab.sweep._spec import parse_spec


def _exact_coverage(n: int, k: int) -> float:
    """1 - 2 P(B <= k - 1), B ~ Binomial(n, 1/2), summed with integers."""
    below = sum(math.comb(n, j) for j in range(k))
    return 1 - 2 * below / 2**n


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 9, 10, 20, 31])
def test_the_interval_is_the_narrowest_order_statistic_pair_with_95_percent(n):
    values = np.arange(n, dtype=float) * 1.5 + 3
    ci = median_ci(values[::-1])  # order does not matter
    k = int(np.searchsorted(values, ci.low)) + 1
    assert ci.high == values[n - k] and ci.median == np.median(values) and ci.n == n
    assert ci.coverage == pytest.approx(_exact_coverage(n, k), abs=1e-12)
    if n >= 6:  # 95 % reachable: k is the largest that reaches it
        assert ci.coverage >= 0.95
        assert k + 1 > (n + 1) // 2 or _exact_coverage(n, k + 1) < 0.95
    else:  # not reachable: the range, with its coverage stated
        assert (ci.low, ci.high) == (values[0], values[-1])


def test_the_stated_coverage_holds_in_simulation():
    # n = 10: [x_(2), x_(9)] covers the median with probability 1 - 22/1024 = 0.9785
    rng = np.random.default_rng(7)
    draws = rng.standard_exponential((2000, 10))  # true median log 2
    intervals = [median_ci(d) for d in draws]
    hits = [ci.low <= math.log(2) <= ci.high for ci in intervals]
    # binomial standard error sqrt(p (1 - p) / 2000) = 0.0032: four of them (the next order
    # statistics, [x_(3), x_(8)], would cover 0.891: far outside)
    assert abs(np.mean(hits) - intervals[0].coverage) < 4 * 0.0032


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="values must be finite and non-empty"):
        median_ci([])
    with pytest.raises(ValueError, match="values must be finite"):
        median_ci([1.0, math.nan])
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        median_ci([1.0], confidence=1.0)


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory, tiny):
    folder = tmp_path_factory.mktemp("grid")
    tiny["in_process"](parse_spec(tiny["grid"]), folder)
    return folder


def test_runs_csv_holds_every_stored_run_with_its_metrics(grid_sweep):
    write_report(grid_sweep, plots=False)
    with open(grid_sweep / "runs.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    stored = load_stored(grid_sweep)
    assert len(rows) == len(stored) == 14
    for row in rows:
        metrics = stored[row["key"]]["metrics"]
        for name in ("final_loss", "distance_to_equilibrium", "reverse_kl"):
            if metrics.get(name) is not None:
                assert float(row[name]) == metrics[name]  # repr: every digit kept


def test_summary_medians_and_intervals_come_from_the_runs(grid_sweep):
    write_report(grid_sweep, plots=False)
    with open(grid_sweep / "summary.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    stored = load_stored(grid_sweep).values()
    (row,) = [r for r in rows if r["setting"] == "dirac" and r["method"] == "hsc"
              and r["lr"] == "0.5"]  # fmt: skip
    values = sorted(
        s["metrics"]["distance_to_equilibrium"] for s in stored
        if s["setting"] == "dirac" and s["method"] == "hsc" and s["lr"] == 0.5
    )  # fmt: skip
    assert row["runs"] == "2" and row["seeds"] == "0 1"
    assert float(row["distance_to_equilibrium_median"]) == pytest.approx(np.median(values))
    assert [float(row["distance_to_equilibrium_ci_low"]),
            float(row["distance_to_equilibrium_ci_high"])] == values  # fmt: skip
    assert float(row["distance_to_equilibrium_ci_coverage"]) == 0.5  # n = 2: the range


def test_half_written_and_foreign_run_folders_are_not_stored_runs(grid_sweep, tmp_path):
    before = load_stored(grid_sweep)
    runs = grid_sweep / "runs"
    key = next(iter(before))
    (runs / f".partial-{key}").mkdir()
    (runs / f".partial-{key}" / "run.json").write_text(json.dumps({"key": key}))
    (runs / "renamed").mkdir()
    (runs / "renamed" / "run.json").write_text(json.dumps({"key": key}))
    (runs / "broken").mkdir()
    (runs / "broken" / "run.json").write_text("{")
    try:
        assert load_stored(grid_sweep) == before
    finally:
        for name in (f".partial-{key}", "renamed", "broken"):
            (runs / name / "run.json").unlink()
            (runs / name).rmdir()


def test_without_matplotlib_the_tables_are_written_and_one_line_names_the_plots(
    grid_sweep, monkeypatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    report = write_report(grid_sweep)
    assert [p.name for p in report.paths] == ["runs.csv", "summary.csv", "summary.md"]
    assert report.skipped_line == (
        "skipped plots/*.png (needs matplotlib: pip install 'hsc-ref[plot]')"
    )


def test_with_matplotlib_one_plot_per_setting_and_headline_metric(grid_sweep):
    pytest.importorskip("matplotlib")
    report = write_report(grid_sweep)
    plots = sorted(p.name for p in report.paths if p.suffix == ".png")
    assert "gan-dirac-distance_to_equilibrium.png" in plots
    assert "gan-ring-h3-reverse_kl.png" in plots and "style-4x4-final_loss.png" in plots
    assert all((grid_sweep / "plots" / name).read_bytes()[:4] == b"\x89PNG" for name in plots)
    assert report.skipped_line is None and report.stored == report.planned == 14


def test_a_folder_without_a_spec_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a sweep folder"):
        write_report(tmp_path)


def test_a_step_size_near_the_largest_float_is_left_out_of_the_plot_and_named(tmp_path):
    # A grid reaching where a method diverges may hold lr = 1e308: matplotlib's log axis
    # then overflowed (a warning, ticks that failed to draw, or an axis showing no point).
    pytest.importorskip("matplotlib")
    import warnings

    from hsc_ref._plotting import save_figure
    from hsc_ref.lab.sweep._report import LOG_AXIS_RANGE, _plot_one

    def row(lr, median):
        where = {"kind": "gan", "setting": "dirac", "method": "hsc", "phase": "grid", "lr": lr}
        return {**where, "m_median": median, "m_ci_low": median - 0.1, "m_ci_high": median + 0.1}

    rows = [row(1e308, 5.0), row(0.01, 1.0), row(0.1, 2.0)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = _plot_one(rows, "gan", "dirac", "m")
        ax = fig.axes[0]
        low, high = ax.get_xlim()
        assert LOG_AXIS_RANGE[0] <= low < 0.01 and 0.1 < high <= LOG_AXIS_RANGE[1]
        assert ax.get_ylim()[1] < 5.0  # the left-out point does not stretch the axis
        assert any("not drawn" in text.get_text() for text in ax.texts)
        save_figure(fig, tmp_path / "p.png")
    inside = _plot_one(rows[1:], "gan", "dirac", "m")
    assert not any("not drawn" in text.get_text() for text in inside.axes[0].texts)
