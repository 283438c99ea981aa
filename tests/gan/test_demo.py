"""The demo's GAN section: it shows which run is training and says what its short runs show."""

from __future__ import annotations

import sys

import pytest

from hsc_ref.gan._demo import DEMO_METHODS, gan_demo


def test_without_tqdm_each_run_is_announced_on_stderr(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    text = gan_demo(steps=1)
    err = capsys.readouterr().err.splitlines()
    assert err == [f"gan demo {i}/3: {m}, 1 steps ..." for i, m in enumerate(DEMO_METHODS, 1)]
    assert "cannot show: which method trains better" in text
    assert "1 steps is short for the ring" in text


def test_with_tqdm_a_bar_names_each_run(capsys):
    pytest.importorskip("tqdm")
    gan_demo(steps=1)
    err = capsys.readouterr().err
    assert all(f"gan demo {i}/3: {m}" in err for i, m in enumerate(DEMO_METHODS, 1))


def test_progress_off_writes_nothing_to_stderr(capsys):
    gan_demo(steps=1, progress=False)
    assert capsys.readouterr().err == ""
