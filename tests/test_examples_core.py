"""Smoke tests of the core examples: they run with their defaults and report what they claim."""

from __future__ import annotations

import re
import shlex

import numpy as np
import pytest
from examples_support import EXAMPLES, load_example, run_example


def test_quickstart_keeps_rank_and_bounds_the_step(capsys):
    report = load_example("quickstart").main(seed=0)
    assert report["rank_H"] == report["rank_Hc"] < report["n"]
    assert report["null_dim"] >= 4  # the dead unit: 2 incoming weights, its bias, 1 outgoing
    norms = report["step_norms"]
    assert norms["spectral"] <= report["grad_norm"] / 2  # |phi| <= 1/2
    # the Cholesky route's documented error: about n eps (1 + ||H||^2) lr ||g|| (10x for the
    # constant); the literal route has no such bound near the cutoff and is not checked here
    eps = np.finfo(np.float64).eps
    bound = 10 * report["n"] * eps * (1 + report["H_norm"] ** 2) * report["grad_norm"]
    assert abs(norms["cholesky"] - norms["spectral"]) <= bound
    assert "rank is kept" in capsys.readouterr().out


def test_quickstart_is_deterministic():
    module = load_example("quickstart")
    assert module.main(seed=3) == module.main(seed=3)


def test_quickstart_runs_as_a_script():
    done = run_example("quickstart", "--seed", "1")
    assert done.returncode == 0, done.stderr
    assert "rank(H) = " in done.stdout


def test_correct_from_file_writes_and_refuses_to_overwrite(tmp_path, capsys):
    module = load_example("correct_from_file")
    summary = module.main(["--out", str(tmp_path)])
    assert summary["rank_before"] == summary["rank_after"] == 5
    assert summary["null_dim_before"] == summary["null_dim_after"] == 3
    assert summary["step_norm"] <= summary["grad_norm"] / 2
    with np.load(tmp_path / "correction.npz", allow_pickle=False) as data:
        assert data["corrected"].shape == (8, 8)
    with pytest.raises(SystemExit):
        module.main(["--out", str(tmp_path)])
    assert "pass --force" in capsys.readouterr().err
    assert module.main(["--out", str(tmp_path), "--force"]) == summary


def test_correct_from_file_accepts_a_user_matrix(tmp_path):
    module = load_example("correct_from_file")
    np.save(tmp_path / "mine.npy", np.diag([4.0, 0.0, -1.0]))
    summary = module.main(["--matrix", str(tmp_path / "mine.npy"), "--out", str(tmp_path / "o")])
    assert summary["inertia_before"] == {"positive": 1, "negative": 1, "zero": 1}
    assert "step_norm" not in summary


USAGE = EXAMPLES.parent / "docs" / "usage.md"


def _blocks(language: str) -> list[str]:
    text = USAGE.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def test_usage_correct_commands_run(tmp_path, monkeypatch, capsys):
    from hsc_ref.cli import main

    monkeypatch.chdir(tmp_path)
    np.save("H.npy", np.diag([4.0, 0.0, -0.5]))
    np.save("g.npy", np.ones(3))
    lines = [
        line.split("#")[0]
        for block in _blocks("bash")
        for line in block.splitlines()
        if line.startswith("hsc-ref correct")
    ]
    assert len(lines) == 4
    for line in lines:
        assert main(shlex.split(line)[1:]) == 0, capsys.readouterr().err
    with np.load("result/correction.npz", allow_pickle=False) as data:
        # -lr * phi(lam) * g with phi(lam) = lam / (1 + lam^2); eigh of a diagonal matrix is
        # exact up to a few roundings, so a few eps of lr * ||g||
        expected = -0.1 * np.array([4.0 / 17.0, 0.0, -0.5 / 1.25])
        np.testing.assert_allclose(data["step"], expected, rtol=0, atol=8 * np.finfo(float).eps)
