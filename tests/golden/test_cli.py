"""``hsc-ref golden write`` and ``hsc-ref golden check``: exit codes, table, JSON report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hsc_ref import golden
from hsc_ref.cli import main

CASES = ["matrix_exact_zeros", "mlp_tanh"]


@pytest.fixture(scope="module")
def gold_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("golden_cli")
    assert main(["golden", "write", str(folder), "--only", *CASES]) == 0
    return folder


def results_file(gold_dir: Path, path: Path, **changes: np.ndarray) -> Path:
    gold = golden.read_golden(gold_dir)
    results = {f"{c}/{o}": v for c in gold.cases for o, v in gold.cases[c].outputs.items()}
    return golden.save_results(path, {**results, **changes})


def test_write_lists_cases_and_refuses_to_overwrite(gold_dir: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["golden", "write", str(gold_dir), "--only", *CASES]) == 2
    assert "exists; pass overwrite (--force)" in capsys.readouterr().err
    assert main(["golden", "write", str(gold_dir), "--only", *CASES, "--force"]) == 0
    out = capsys.readouterr().out
    assert "matrix_exact_zeros" in out and "schema 1" in out


def test_check_passes_prints_table_and_writes_json(gold_dir: Path, tmp_path: Path, capsys) -> None:
    path = results_file(gold_dir, tmp_path / "ok.npz")
    assert main(["golden", "check", str(gold_dir), str(path), "--only", *CASES]) == 0
    out = capsys.readouterr().out
    assert "max abs err" in out and "PASSED" in out
    report = json.loads((tmp_path / "ok.check.json").read_text())
    assert report["passed"] is True and len(report["rows"]) == 7 + 10
    assert main(["golden", "check", str(gold_dir), str(path), "--only", *CASES]) == 2  # exists
    assert main(["golden", "check", str(gold_dir), str(path), "--only", *CASES, "--force"]) == 0


def test_check_of_a_partial_golden_set_reports_the_cases_it_lacks(
    gold_dir: Path, tmp_path: Path, capsys
) -> None:
    path = results_file(gold_dir, tmp_path / "ok.npz")
    assert main(["golden", "check", str(gold_dir), str(path)]) == 1
    out = capsys.readouterr().out
    assert "matrix_spd/* MISSING" in out and "the golden set has no case 'matrix_spd'" in out


def test_check_exits_1_on_a_failure_or_a_missing_output(
    gold_dir: Path, tmp_path: Path, capsys
) -> None:
    bad = {"mlp_tanh/hessian": np.zeros((26, 26))}
    path = results_file(gold_dir, tmp_path / "bad.npz", **bad)
    out_json = tmp_path / "report.json"
    args = ["golden", "check", str(gold_dir), str(path), "--json", str(out_json), "--only"]
    assert main([*args, *CASES]) == 1
    text = capsys.readouterr().out
    assert "mlp_tanh/hessian FAIL" in text
    rows = json.loads(out_json.read_text())["rows"]
    assert [r["output"] for r in rows if r["status"] == "fail"] == ["hessian"]
    gold = golden.read_golden(gold_dir)
    partial = {f"mlp_tanh/{o}": v for o, v in gold.cases["mlp_tanh"].outputs.items()}
    path = golden.save_results(tmp_path / "partial.npz", partial)
    args = ["golden", "check", str(gold_dir), str(path), "--failures-only", "--only", *CASES]
    assert main(args) == 1
    assert "MISSING" in capsys.readouterr().out
    assert main(["golden", "check", str(gold_dir), str(path), "--only", "mlp_tanh", "--force"]) == 0


def test_check_exits_2_with_one_line_on_a_corrupted_golden_set(
    gold_dir: Path, tmp_path: Path, capsys
) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    for p in gold_dir.iterdir():
        folder.joinpath(p.name).write_bytes(p.read_bytes())
    data = folder / "mlp_tanh.npz"
    data.write_bytes(data.read_bytes()[:-10])
    path = results_file(gold_dir, tmp_path / "r.npz")
    assert main(["golden", "check", str(folder), str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hsc-ref golden: error:") and "truncated" in err


def test_a_fresh_process_writes_the_same_bytes(gold_dir: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "hsc_ref.cli", "golden", "write", str(tmp_path), "--only", *CASES]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    for name in ("manifest.json", *(f"{c}.npz" for c in CASES)):
        assert (tmp_path / name).read_bytes() == (gold_dir / name).read_bytes(), name


def test_precision_option_overrides_the_result_dtype(gold_dir: Path, tmp_path: Path) -> None:
    path = results_file(gold_dir, tmp_path / "r.npz")  # float64 results
    out = tmp_path / "r32.json"
    args = ["golden", "check", str(gold_dir), str(path), "--precision", "float32", "--only", *CASES]
    assert main([*args, "--json", str(out)]) == 0
    assert {r["precision"] for r in json.loads(out.read_text())["rows"]} == {"float32"}
