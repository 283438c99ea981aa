"""Golden reference files for checking other implementations of HSC.

Modules: :mod:`~hsc_ref.golden.cases` (seeded cases and derived tolerances),
:mod:`~hsc_ref.golden.files` (writing and reading a golden set and a results file),
:mod:`~hsc_ref.golden.check` (comparing results with a golden set),
:mod:`~hsc_ref.golden.diagnosis` (the chain of outputs and the likely cause of a failure) and
:mod:`~hsc_ref.golden.cli` (``hsc-ref golden``). The names users call are re-exported here.
"""

from __future__ import annotations

from hsc_ref.golden.cases import (
    CASE_NAMES,
    PRECISIONS,
    SAFETY,
    GoldenCase,
    Tolerance,
    build_case,
    build_cases,
    cutoff_keywords,
)
from hsc_ref.golden.check import CheckReport, CheckRow, check_results, declared_precision
from hsc_ref.golden.diagnosis import diagnose
from hsc_ref.golden.files import (
    AGREEMENT,
    MANIFEST_NAME,
    SCHEMA_VERSION,
    GoldenFileError,
    GoldenSet,
    Regeneration,
    blas_info,
    load_results,
    read_golden,
    save_results,
    verify_golden,
    write_golden,
)
from hsc_ref.layout import torch_parameter_order

__all__ = [
    "SCHEMA_VERSION",
    "SAFETY",
    "PRECISIONS",
    "MANIFEST_NAME",
    "AGREEMENT",
    "GoldenFileError",
    "Tolerance",
    "GoldenCase",
    "GoldenSet",
    "Regeneration",
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
    "declared_precision",
    "verify_golden",
    "blas_info",
    "diagnose",
    "cutoff_keywords",
    "torch_parameter_order",
]
