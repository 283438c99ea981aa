"""``hsc-ref gan``, the demo's GAN section and the GAN example, run on tiny budgets."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hsc_ref.cli import DEMO_SECTIONS, main
from hsc_ref.gan._demo import gan_demo
from hsc_ref.lab._gan_run import OUTPUT_FILES, PLOT_FILES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MANIFEST = "manifest.json"
TINY = ["--steps", "2", "--hidden", "4", "--batch", "8", "--n-eval", "40", "--no-progress"]


def test_gan_command_writes_metrics_samples_history_and_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    args = ["gan", "--data", "ring", "--method", "hsc", "--seed", "1", "--out", str(out)]
    assert main([*args, *TINY]) == 0
    for name in OUTPUT_FILES + PLOT_FILES:
        assert (out / name).is_file(), name
    for name in PLOT_FILES:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((out / "metrics.json").read_text())
    assert report["config"]["method"] == "hsc" and report["config"]["seed"] == 1
    assert report["metrics"]["steps_completed"] == 2
    with np.load(out / "history.npz", allow_pickle=False) as history:
        assert history["loss_g"].shape == (2,) and np.isfinite(history["rank_g"]).all()
    with np.load(out / "samples.npz", allow_pickle=False) as samples:
        assert samples["samples"].shape == (40, 2) and samples["centers"].shape == (8, 2)
    with np.load(out / "matrices.npz", allow_pickle=False) as m:
        n_g = m["theta"].size
        np.testing.assert_array_equal(m["jacobian"][:n_g, :n_g], m["hessian_g"])
        np.testing.assert_array_equal(m["jacobian"][n_g:, :n_g], m["cross_d"])
        assert m["hc_d"].shape == m["hessian_d"].shape
        eig = m["jacobian_eigenvalues_real"] + 1j * m["jacobian_eigenvalues_imag"]
        assert report["metrics"]["final_jacobian_complex_count"] == np.sum(eig.imag != 0)
    assert "hsc on ring, 2 steps" in capsys.readouterr().out


def test_gan_command_refuses_to_overwrite_without_force(tmp_path, capsys):
    args = ["gan", "--out", str(tmp_path), "--no-plots", *TINY]
    assert main(args) == 0
    before = (tmp_path / "metrics.json").read_bytes()
    assert main([*args, "--seed", "5"]) == 2
    assert "pass --force" in capsys.readouterr().err
    assert (tmp_path / "metrics.json").read_bytes() == before
    assert main([*args, "--seed", "5", "--force"]) == 0
    assert json.loads((tmp_path / "metrics.json").read_text())["config"]["seed"] == 5


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data", "moon"], "data must be one of"),
        (["--method", "lbfgs"], "method must be one of"),
        (["--steps", "0"], "steps must be a positive integer"),
        (["--schedule", "random"], "schedule must be one of"),
        (["--lr", "-1"], "lr must be"),
        (["--gamma", "2"], "--gamma applies to --method conopt only"),
        (["--method", "conopt", "--sga-lambda", "2"], "--sga-lambda applies to --method sga only"),
        (["--method", "cgd", "--schedule", "alternating"], "defined for schedule='simultaneous'"),
        (["--method", "conopt", "--gamma", "-1"], "gamma must be"),
        (["--method", "adam", "--mu", "3"], "--mu applies to --method damped only"),
        (["--data", "dirac", "--hidden", "8"], "--hidden applies to --data ring, grid only"),
        (["--method", "hsc", "--spectrum-every", "5"], "--spectrum-every applies to --method"),
    ],
)
def test_gan_command_reports_bad_input_in_one_line(tmp_path, capsys, extra, message):
    assert main(["gan", "--out", str(tmp_path), "--no-plots", "--no-progress", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())  # nothing written


def test_gan_command_runs_diracgan_simultaneously(tmp_path):
    args = ["gan", "--data", "dirac", "--schedule", "simultaneous", "--out", str(tmp_path)]
    assert main([*args, "--no-plots", "--steps", "3", "--no-progress"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    assert metrics["distance_to_equilibrium"] > 0


def test_demo_has_a_gan_section_comparing_article_hsc_and_adam():
    assert "gan" in [name for name, _ in DEMO_SECTIONS]
    text = gan_demo(seed=0, steps=2)
    for method in ("article", "hsc", "adam"):
        assert f"\n  {method} " in text


def test_gan_experiment_example_prints_the_table(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("gan_experiment", EXAMPLES / "gan_experiment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "rows.json"
    text = module.main(["--data", "ring", "--steps", "2", "--seeds", "2", "--hidden", "4",
                        "--out", str(out)])  # fmt: skip
    rows = json.loads(out.read_text())
    assert len(rows) == 2 * len(module.METHODS)
    assert "| ring | hsc |" in text and "| ring | article |" in text
    assert "rank(Hc) != rank(H)" in text


def test_missing_matplotlib_writes_the_data_and_names_the_skipped_plots_in_one_line(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main(["gan", "--out", str(tmp_path), *TINY]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*OUTPUT_FILES, MANIFEST])
    captured = capsys.readouterr()
    notes = [line for line in captured.err.splitlines() if "skipped" in line]
    assert notes == [
        "hsc-ref gan: skipped samples.png, losses.png, spectrum.png "
        "(needs matplotlib: pip install 'hsc-ref[plot]')"
    ]
    assert "hsc on ring, 2 steps" in captured.out


def test_no_plots_makes_no_plots_and_says_nothing_about_them(tmp_path, capsys):
    assert main(["gan", "--out", str(tmp_path), "--no-plots", *TINY]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*OUTPUT_FILES, MANIFEST])
    assert "skipped" not in capsys.readouterr().err


def test_missing_tqdm_shows_progress_as_plain_lines(tmp_path, capsys, monkeypatch):
    from hsc_ref import _extras

    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setattr(_extras.TextProgress, "every_s", float("inf"))  # lines by tenths only
    args = ["gan", "--out", str(tmp_path), "--no-plots", "--steps", "20", "--hidden", "4"]
    assert main([*args, "--batch", "8", "--n-eval", "40"]) == 0
    lines = capsys.readouterr().err.splitlines()
    # a line at the start, at each tenth (the steps come in ones) and at the end, no more
    assert lines == [f"hsc ring: {n}/20 steps ({5 * n}%)" for n in range(0, 21, 2)]


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("conopt", ["--gamma", "2"]),
        ("sga", ["--sga-lambda", "0.5"]),
        ("cgd", []),
        ("extragradient", []),
        ("optimistic", ["--lr", "0.05"]),
    ],
)
def test_gan_command_runs_each_game_method_simultaneously_with_its_options(
    tmp_path, capsys, method, extra
):
    args = ["gan", "--method", method, *extra, "--out", str(tmp_path), "--no-plots", *TINY]
    assert main(args) == 0
    config = json.loads((tmp_path / "metrics.json").read_text())["config"]
    assert config["method"] == method and config["schedule"] == "simultaneous"
    assert config.get("gamma") == (2.0 if method == "conopt" else None)
    assert config.get("sga_lambda") == (0.5 if method == "sga" else None)
    assert f"{method} on ring, 2 steps" in capsys.readouterr().out


# --------------------------------------------------------------------------- options that apply


def test_every_scoped_option_is_a_config_field_and_an_option_of_the_command():
    import argparse
    import dataclasses

    from hsc_ref.gan import cli as gan_cli
    from hsc_ref.gan._options import SCOPES
    from hsc_ref.gan.data import DATASETS
    from hsc_ref.gan.train import METHODS, TrainConfig

    parser = argparse.ArgumentParser()
    gan_cli.add_parser(parser.add_subparsers())
    (gan,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    dests = {a.dest for a in gan.choices["gan"]._actions}
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    for name, scope in SCOPES.items():
        assert name in fields and name in dests, name
        allowed = {"method": METHODS, "data": DATASETS}[scope.field]
        assert scope.values and set(scope.values) <= set(allowed), name
        assert set(scope.values) != set(allowed), f"{name} applies everywhere: drop its scope"


def test_an_option_at_its_default_is_accepted_and_not_recorded_where_it_does_not_apply(tmp_path):
    args = ["gan", "--method", "adam", "--mu", "1", "--data", "dirac", *TINY[:2], "--no-plots"]
    assert main([*args, "--no-progress", "--out", str(tmp_path)]) == 0
    config = json.loads((tmp_path / "metrics.json").read_text())["config"]
    assert config["method"] == "adam" and config["data"] == "dirac"
    assert "mu" not in config and "hidden" not in config  # they changed nothing
    assert "spectrum_every" in config  # Adam records spectra only when asked


def test_a_sweep_run_command_carries_only_the_options_that_apply():
    from hsc_ref.lab.sweep._spec import RunSpec

    options = {"data": "dirac", "hidden": (3,), "method": "adam", "mu": 1.0, "seed": 0}
    command = RunSpec.build("gan", {**options, "spectrum_every": 0}).command()
    assert "--hidden" not in command and "--mu" not in command
    assert "--spectrum-every 0" in command
    ring = RunSpec.build("gan", {**options, "data": "ring", "method": "damped"}).command()
    assert "--hidden 3" in ring and "--mu 1" in ring


def test_every_method_option_has_its_scope():
    from hsc_ref.gan._options import SCOPES
    from hsc_ref.gan.train import METHOD_OPTIONS

    for method, names in METHOD_OPTIONS.items():
        for name in names:
            assert SCOPES[name].field == "method" and method in SCOPES[name].values, name


_NEW_GAME_METHOD = '''
def _tau_consensus(lr, tau):
    """A game method added for a test: consensus optimization with weight ``tau``."""
    return consensus(lr, tau)


_REGISTRY["tauopt"] = GameMethod(
    _tau_consensus, 0.1, {"tau": MethodOption(0.5, "the weight of the test method")}
)
GAME_METHODS = tuple(_REGISTRY)
'''

_DRIVE_NEW_METHOD = """
import contextlib, io, json, sys
from hsc_ref.cli import main
from hsc_ref.lab.sweep import parse_spec

base = ["gan", "--data", "dirac", "--steps", "3", "--no-plots", "--no-progress"]
err = io.StringIO()
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
    ran = main([*base, "--method", "tauopt", "--tau", "0.25", "--out", "run"])
    refused = main([*base, "--method", "adam", "--tau", "0.25", "--out", "other"])
lines = ['[gan]', 'methods = ["tauopt"]', 'data = ["dirac"]', 'steps = 2', 'tau = 0.25']
spec = parse_spec(chr(10).join(lines))
config = json.load(open("run/metrics.json"))["config"]
import hsc_ref
print(json.dumps({
    "from": hsc_ref.__file__, "ran": ran, "refused": refused, "stderr": err.getvalue().strip(),
    "recorded": config["tau"], "swept": [r.config["tau"] for r in spec.grid_runs()],
}))
"""


def test_a_game_method_with_a_new_option_is_added_in_two_modules(tmp_path):
    # The package is copied and edited as a developer would: a factory and a registry entry
    # appended to gan/methods.py, and a TrainConfig field for the option in gan/train.py.
    # Nothing else changes, yet the trainer, hsc-ref gan (option, help, refusal) and the sweep
    # specs all take the new method.
    package = Path(__file__).resolve().parents[2] / "hsc_ref"
    copy = tmp_path / "src" / "hsc_ref"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    methods = copy / "gan" / "methods.py"
    methods.write_text(methods.read_text() + _NEW_GAME_METHOD)
    train = copy / "gan" / "train.py"
    field = '    hessian_route: str = "auto"\n'
    assert train.read_text().count(field) == 1
    train.write_text(train.read_text().replace(field, field + "    tau: float | None = None\n"))
    env = {**os.environ, "PYTHONPATH": str(copy.parent), "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _DRIVE_NEW_METHOD],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result.pop("from") == str(copy / "__init__.py")  # the edited copy ran
    assert result == {
        "ran": 0,
        "refused": 2,
        "stderr": "hsc-ref gan: error: --tau applies to --method tauopt only (the weight of the "
        "test method), got --method adam",
        "recorded": 0.25,
        "swept": [0.25],
    }
