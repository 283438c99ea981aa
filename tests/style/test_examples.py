"""Smoke test of examples/style_experiment.py (its --quick mode, in seconds)."""

from __future__ import annotations

import pytest
from examples_support import load_example


def test_style_experiment_quick_writes_its_figures_and_reports_spectra(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    summary = load_example("style_experiment").main(["--quick", "--out", str(tmp_path)])
    names = {p.name for p in tmp_path.glob("*.png")}
    assert {"losses_6.png", "spectrum_6.png", "transfer_6.png", "transfer_8.png"} <= names
    assert {"stylizer_losses.png", "stylizer_outputs.png"} <= names
    start = summary["spectra"]["start (content image)"]
    # The correction keeps rank and inertia (docs/design.md, properties, fact 2).
    assert start["rank_H"] == start["rank_Hc"] and start["inertia_H"] == start["inertia_Hc"]
    assert start["min_abs_c_kept"] >= 2.0
    lbfgs = summary["runs"][6]["lbfgs"]["losses"]
    assert lbfgs[-1] < lbfgs[0]
    assert "Stylizer" in capsys.readouterr().out
    with pytest.raises(FileExistsError):  # no overwrite without --force
        load_example("style_experiment").main(["--quick", "--out", str(tmp_path)])
