"""BLAS pool sizing of the commands (hsc_ref.lab._threads): the setting, the sizes, the limits."""

from __future__ import annotations

import argparse
import re

import numpy as np
import pytest

from hsc_ref.cli import main
from hsc_ref.lab import _threads

threadpoolctl = pytest.importorskip("threadpoolctl")


@pytest.mark.parametrize("bad", ["0", "-1", "two", "1.5", ""])
def test_a_bad_setting_names_its_source_and_the_rule(bad):
    with pytest.raises(ValueError, match=r"--blas-threads must be a positive integer, 'auto'"):
        _threads.parse_setting(bad, "--blas-threads")


def test_the_option_beats_the_environment_which_beats_auto(monkeypatch):
    monkeypatch.delenv(_threads.ENV_VAR, raising=False)
    assert _threads.resolve_setting(None) == "auto"
    monkeypatch.setenv(_threads.ENV_VAR, "3")
    assert _threads.resolve_setting(None) == 3
    assert _threads.resolve_setting("default") == "default"
    monkeypatch.setenv(_threads.ENV_VAR, "many")
    with pytest.raises(ValueError, match=f"environment variable {_threads.ENV_VAR} must be"):
        _threads.resolve_setting(None)


def test_auto_gives_one_thread_up_to_small_n_only():
    small = _threads.SMALL_N
    assert _threads.threads_for("auto", small) == 1
    assert _threads.threads_for("auto", small + 1) is None
    assert _threads.threads_for("default", 1) is None
    assert _threads.threads_for(4, 10**6) == 4


def test_command_order_reads_each_command_size(tmp_path):
    gan = argparse.Namespace(command="gan", hidden=(8, 8), data="grid")
    # generator 2-8-8-2: 24 + 72 + 18; discriminator 2-8-8-1: 24 + 72 + 9
    assert _threads.command_order(gan) == 114
    dirac = argparse.Namespace(command="gan", hidden=(16,), data="dirac")
    assert _threads.command_order(dirac) == 1
    assert _threads.command_order(argparse.Namespace(command="style", size=16)) == 768
    np.save(tmp_path / "H.npy", np.zeros((7, 7)))
    correct = argparse.Namespace(command="correct", matrix=str(tmp_path / "H.npy"))
    assert _threads.command_order(correct) == 7
    missing = argparse.Namespace(command="correct", matrix=str(tmp_path / "none.npy"))
    assert _threads.command_order(missing) == 0  # the command itself reports the missing file
    for name, content in (("empty.npy", b""), ("text.npy", b"1 2 3"), ("pickle.npy", None)):
        path = tmp_path / name
        if content is None:
            np.save(path, np.array([{}], dtype=object), allow_pickle=True)
        else:
            path.write_bytes(content)
        bad = argparse.Namespace(command="correct", matrix=str(path))
        assert _threads.command_order(bad) == 0, name  # never loaded: the command refuses it
    assert _threads.command_order(argparse.Namespace(command="demo")) == 0


def test_limited_sets_every_blas_pool_and_restores_it():
    import scipy.linalg  # noqa: F401  (SciPy's own OpenBLAS loaded, so both pools are seen)

    with _threads.limited(None):
        before = _threads.blas_thread_counts()
    assert before, "threadpoolctl sees no BLAS library"
    with _threads.limited(1) as threads:
        inside = _threads.blas_thread_counts()
    assert threads == 1
    assert set(inside) == set(before) and set(inside.values()) == {1}
    assert _threads.blas_thread_counts() == before


def test_without_threadpoolctl_pools_stay_and_an_explicit_setting_says_so(monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "threadpoolctl", None)
    with _threads.limited(1) as threads:
        pass
    assert threads is None and capsys.readouterr().err == ""  # auto: silent
    with _threads.limited(1, explicit=True) as threads:
        pass
    assert threads is None
    assert "threadpoolctl, a core dependency, does not import" in capsys.readouterr().err


def _info_thread_counts(out: str) -> list[int]:
    return [int(n) for n in re.findall(r", (\d+) threads, arch", out)]


def test_the_command_line_runs_small_work_on_one_thread_unless_told(monkeypatch, capsys):
    monkeypatch.delenv(_threads.ENV_VAR, raising=False)
    assert main(["info"]) == 0  # info reads the pools while the command runs
    counts = _info_thread_counts(capsys.readouterr().out)
    assert counts and set(counts) == {1}
    assert main(["--blas-threads", "default", "info"]) == 0
    assert _info_thread_counts(capsys.readouterr().out) == list(
        _threads.blas_thread_counts().values()
    )
    monkeypatch.setenv(_threads.ENV_VAR, "2")
    assert main(["info"]) == 0
    assert set(_info_thread_counts(capsys.readouterr().out)) == {2}


def test_the_command_line_refuses_a_bad_setting(capsys):
    assert main(["--blas-threads", "zero", "info"]) == 2
    assert "--blas-threads must be a positive integer" in capsys.readouterr().err
