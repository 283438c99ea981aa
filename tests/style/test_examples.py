"""Smoke test of examples/style_experiment.py (its --quick mode, in seconds)."""

from __future__ import annotations

import json

import pytest
from examples_support import load_example


def test_style_experiment_quick_writes_its_figures_and_reports_spectra(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    record = tmp_path / "record.json"
    args = ["--quick", "--out", str(tmp_path), "--record", str(record)]
    summary = load_example("style_experiment").main(args)
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
    # The record holds the returned numbers (sizes as string keys); a quick run names no command.
    written = json.loads(record.read_text())
    assert written["runs"]["6"]["lbfgs"]["losses"] == lbfgs
    assert written["spectra"]["start (content image)"]["inertia_H"] == start["inertia_H"]
    assert written["command"] is None and written["plan"]["small"] == 6
    with pytest.raises(FileExistsError):  # no overwrite without --force
        load_example("style_experiment").main(["--quick", "--out", str(tmp_path)])


def test_style_experiment_refuses_an_existing_record_before_running(tmp_path, capsys):
    record = tmp_path / "record.json"
    record.write_text("{}")
    args = ["--quick", "--out", str(tmp_path / "figures"), "--record", str(record)]
    with pytest.raises(FileExistsError, match=r"--record .* exists; pass --force"):
        load_example("style_experiment").main(args)
    assert capsys.readouterr().out == ""  # refused before any work
    assert record.read_text() == "{}"
    missing = [*args[:3], "--record", str(tmp_path / "no" / "record.json")]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_example("style_experiment").main(missing)
