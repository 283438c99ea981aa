"""Helpers of the sweep tests: tiny specs and a sweep computed in this process (no Dask)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hsc_ref.lab.sweep._engine import execute_run, prepare_folder, store_run
from hsc_ref.lab.sweep._protocol import plan
from hsc_ref.lab.sweep._report import load_stored
from hsc_ref.lab.sweep._spec import SweepSpec, parse_spec

CONFIRM_SEEDS = list(range(10))

TINY_GRID = """
[gan]
data = ["dirac", "ring"]
hidden = [[3]]
methods = ["hsc", "adam"]
steps = 3
batch = 8
n_eval = 64
seeds = [0, 1]
[gan.lr]
hsc = [0.5, 1.0]

[style]
sizes = [4]
methods = ["hsc", "lbfgs"]
steps = 2
seeds = [0]
"""
"""14 runs (GAN: 2 settings x 3 step sizes x 2 seeds; style: 2 methods), a second or less each."""

TINY_TUNE = f"""
mode = "tune-confirm"
[gan]
data = ["dirac"]
methods = ["sgd", "hsc"]
steps = 4
n_eval = 16
tune_seeds = [100, 101, 102]
confirm_seeds = {CONFIRM_SEEDS}
[gan.lr]
sgd = [0.05, 0.5, 2.0]
"""
"""DiracGAN: sgd tuned over 3 step sizes, hsc on its default; 12 tuning, 20 confirmation runs."""


def sweep_in_process(spec: SweepSpec, folder: Path) -> dict:
    """Every planned run computed here with the engine's own functions, phase by phase."""
    prepare_folder(folder, spec)
    for index in range(len(plan(spec, {}).phases)):
        phase, runs = plan(spec, load_stored(folder)).phases[index]
        stored = load_stored(folder)
        for run in runs:
            if run.key not in stored:
                store_run(folder, run, execute_run(run.to_json()), phase)
    return load_stored(folder)


@pytest.fixture(scope="session")
def tiny() -> dict:
    """The tiny specs (``grid``, ``tune``), ``confirm_seeds`` and ``in_process`` (a sweep here)."""
    return {
        "grid": TINY_GRID,
        "tune": TINY_TUNE,
        "confirm_seeds": CONFIRM_SEEDS,
        "in_process": sweep_in_process,
    }


@pytest.fixture(scope="session")
def tuned_sweep(tmp_path_factory) -> Path:
    """A tune-confirm sweep on DiracGAN computed in-process (about 32 tiny runs)."""
    folder = tmp_path_factory.mktemp("tuned")
    sweep_in_process(parse_spec(TINY_TUNE), folder)
    return folder
