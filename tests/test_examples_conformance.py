"""Smoke test of examples/conformance_torch.py: verdicts as expected, with or without PyTorch."""

from __future__ import annotations

import sys

import pytest
from examples_support import load_example

ONLY = ["pinv (golden cutoff)", "np.linalg.pinv default"]  # a pass and a fail that shrinks fast


def test_without_torch_it_says_so_and_checks_the_numpy_versions(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    result = load_example("conformance_torch").main(examples=20, only=ONLY)
    assert result["library"] == "numpy"
    assert "PyTorch is not installed" in capsys.readouterr().out
    verdicts = result["verdicts"]
    assert len(verdicts) == 4 and all(v["passed"] == v["expected"] for v in verdicts.values())


def test_with_torch_the_torch_implementations_are_checked():
    pytest.importorskip("torch")  # the planted bugs' torch runs are tests/test_conformance.py's
    result = load_example("conformance_torch").main(examples=20, only=ONLY[:1])
    assert result["library"] == "torch"
    assert all(v["passed"] and v["expected"] for v in result["verdicts"].values())
