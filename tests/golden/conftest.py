"""One golden set per test session, written once and read (verified) once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hsc_ref import golden

# the mutation suite's helpers (reference_impl, mutants, mutation_table) import each other
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def session_gold_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full golden set of this hsc_ref, default seed (do not modify: copy it first)."""
    folder = tmp_path_factory.mktemp("golden_session")
    golden.write_golden(folder)
    return folder


@pytest.fixture(scope="session")
def session_gold(session_gold_dir: Path) -> golden.GoldenSet:
    """The session's golden set, read back and verified."""
    return golden.read_golden(session_gold_dir)
