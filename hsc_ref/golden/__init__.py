"""Golden reference files for checking other implementations of HSC.

Modules: :mod:`~hsc_ref.golden.cases` (seeded cases and derived tolerances),
:mod:`~hsc_ref.golden.files` (writing and reading a golden set and a results file),
:mod:`~hsc_ref.golden.check` (comparing results with a golden set),
:mod:`~hsc_ref.golden._diagnosis` (the chain of outputs and the likely cause of a failure) and
:mod:`~hsc_ref.golden.cli` (``hsc-ref golden``). The names users call are re-exported here.
"""

from __future__ import annotations

from hsc_ref.golden._diagnosis import diagnose
from hsc_ref.golden.cases import CASE_NAMES, GoldenCase, Tolerance, build_case, build_cases
from hsc_ref.golden.check import CheckReport, CheckRow, check_results
from hsc_ref.golden.files import (
    GoldenFileError,
    GoldenSet,
    load_results,
    read_golden,
    save_results,
    verify_golden,
    write_golden,
)

__all__ = [
    "GoldenFileError",
    "Tolerance",
    "GoldenCase",
    "GoldenSet",
    "CheckRow",
    "CheckReport",
    "CASE_NAMES",
    "build_case",
    "build_cases",
    "write_golden",
    "read_golden",
    "save_results",
    "load_results",
    "check_results",
    "verify_golden",
    "diagnose",
]
