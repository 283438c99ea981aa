"""Checking another implementation's results against a golden set.

An output passes when, elementwise, ``|actual - desired| <= atol + rtol * |desired|`` with
the tolerance the manifest records for the results' precision. A failing output gets a
diagnosis that names the likely cause.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hsc_ref.golden.cases import (
    PRECISIONS,
    GoldenCase,
)
from hsc_ref.golden.files import GoldenSet, load_results, read_golden
from hsc_ref.layout import torch_parameter_order
from hsc_ref.testing import compare_arrays

__all__ = ["CheckRow", "CheckReport", "check_results", "assert_matches_golden"]


@dataclass(frozen=True)
class CheckRow:
    """One compared output: errors, the tolerance applied, the verdict and why.

    Attributes
    ----------
    case, output : str
        What was compared.
    precision : str
        ``"float64"`` or ``"float32"``: whose tolerances applied.
    status : str
        ``"pass"``, ``"fail"``, ``"missing"`` or ``"not comparable"`` (reported only; it
        cannot fail).
    max_abs_err, max_rel_err : float or None
        ``max|actual - desired|`` and that divided by ``max|desired|`` (None when missing).
    atol, rtol : float
        The tolerance applied.
    reason : str
        How the tolerance was derived.
    message : str
        Why it failed (with the likely cause when recognizable), or empty.
    """

    case: str
    output: str
    precision: str
    status: str
    max_abs_err: float | None
    max_rel_err: float | None
    atol: float
    rtol: float
    reason: str
    message: str

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (infinite errors become the string ``"inf"``)."""
        out = dict(vars(self))
        for key in ("max_abs_err", "max_rel_err"):
            if out[key] is not None and not math.isfinite(out[key]):
                out[key] = "inf"
        return out


@dataclass(frozen=True)
class CheckReport:
    """All rows of a check, with the unexpected result keys.

    Attributes
    ----------
    golden_dir : str
        The golden folder checked against.
    rows : tuple of CheckRow
        One per output of every checked case.
    unexpected : tuple of str
        Result keys that name no golden output (ignored).
    """

    golden_dir: str
    rows: tuple[CheckRow, ...]
    unexpected: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """True when no output failed and none is missing."""
        return not any(r.status in ("fail", "missing") for r in self.rows)

    def counts(self) -> dict[str, int]:
        """Number of rows per status."""
        counts = {s: 0 for s in ("pass", "fail", "missing", "not comparable")}
        for row in self.rows:
            counts[row.status] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict of the whole report."""
        return {
            "golden_dir": self.golden_dir,
            "passed": self.passed,
            "counts": self.counts(),
            "unexpected_keys": list(self.unexpected),
            "rows": [r.to_json() for r in self.rows],
        }

    def format_table(self, *, failures_only: bool = False) -> str:
        """A plain-text table (case, output, precision, errors, tolerance, status) and notes."""
        rows = [r for r in self.rows if not failures_only or r.status in ("fail", "missing")]
        head = ("case", "output", "prec", "max abs err", "max rel err", "atol", "rtol", "status")
        body = [
            (
                r.case,
                r.output,
                r.precision,
                _fmt(r.max_abs_err),
                _fmt(r.max_rel_err),
                _fmt(r.atol),
                _fmt(r.rtol),
                r.status.upper() if r.status in ("fail", "missing") else r.status,
            )
            for r in rows
        ]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
        lines = [
            "  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
            for line in (head, *body)
        ]
        notes = [
            f"- {r.case}/{r.output} {r.status.upper()}: {r.message}"
            for r in rows
            if r.status in ("fail", "missing")
        ]
        counts = self.counts()
        summary = ", ".join(f"{v} {k}" for k, v in counts.items())
        lines += ["", f"{'PASSED' if self.passed else 'FAILED'}: {summary}", *notes]
        if self.unexpected:
            lines.append(f"(ignored keys not in the golden set: {', '.join(self.unexpected)})")
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2e}"


def _diagnose(case: GoldenCase, output: str, actual: np.ndarray, desired: np.ndarray) -> str:
    """Name the likely cause of a failure when it has a recognizable pattern."""
    a = np.asarray(actual, dtype=np.float64)
    d = np.asarray(desired, dtype=np.float64)
    hints = []
    suffix = output[-2:] if output[-2:] in ("_g", "_d") else ""
    layers = case.meta.get(f"layers{suffix}")
    if layers and output in case.meta.get("flat_outputs", ()) and a.shape == d.shape:
        p = torch_parameter_order(layers)
        permuted = d[p] if d.ndim == 1 else d[np.ix_(p, p)]
        if np.allclose(a, permuted, rtol=1e-6, atol=1e-6 * max(np.abs(d).max(), 1e-300)):
            hints.append(
                "it matches the reference in PyTorch's parameter order (nn.Linear weight "
                "(out, in) row-major): report it in hsc_ref's flat layout, W = weight.T row-major "
                "then b (hsc_ref.golden.torch_parameter_order gives the permutation)"
            )
    if output.startswith("loss"):
        where = (
            "how the flat parameters are loaded (W = weight.T, "
            "hsc_ref.derivatives.layers_to_torch_linear), the inputs, and the conventions"
            if any(k.startswith("layers") for k in case.meta)
            else "the inputs and the conventions in the case's meta"
        )
        hints.append(
            f"the loss itself differs, so the function evaluated is not the reference one: "
            f"check {where}"
        )
    big = np.abs(d) > 1e-8 * np.abs(d).max() if d.size > 1 and np.abs(d).max() > 0 else None
    if big is not None and a.shape == d.shape and np.all(np.abs(a[~big]) <= 1e-8 * np.abs(a).max()):
        ratio = a[big] / d[big]
        k = float(np.median(ratio))
        if k != 0 and abs(k - 1) > 1e-3 and np.allclose(ratio, k, rtol=1e-5):
            hints.append(
                f"actual = {k:.6g} x reference (1/k = {1 / k:.6g}) everywhere: a scale or "
                f"normalization convention differs (see the manifest's conventions)"
            )
    scale = float(np.abs(d).max()) if d.size else 0.0
    if a.shape == d.shape and float(np.abs(a).max()) > 1e3 * max(scale, 1e-300):
        if output.startswith(("pinv", "hc", "step_literal")):
            hints.append(
                f"the result is {float(np.abs(a).max()) / max(scale, 1e-300):.1e} x larger than "
                f"the reference: a pseudo-inverse inverted rounding noise; pass the cutoff "
                f"rtol = 100 * n * eps(dtype) explicitly (torch.pinverse defaults to "
                f"rcond = 1e-15, far below float32 rounding)"
            )
    return "; ".join(hints)


def _case_precision(
    case: str, outputs: Sequence[str], results: Mapping[str, np.ndarray], precision: str
) -> str:
    if precision != "auto":
        return precision
    kinds = [np.asarray(results[f"{case}/{o}"]).dtype for o in outputs if f"{case}/{o}" in results]
    return "float32" if any(k == np.float32 for k in kinds) else "float64"


def _check_output(
    case: GoldenCase, output: str, precision: str, results: Mapping[str, np.ndarray]
) -> CheckRow:
    tol = case.tolerances[output][precision]
    key = f"{case.name}/{output}"
    desired = case.outputs[output]

    def row(status: str, err: Any, message: str) -> CheckRow:
        abs_err = None if err is None else err.max_abs_err
        rel_err = None if err is None else err.max_rel_err
        return CheckRow(
            case.name,
            output,
            precision,
            status,
            abs_err,
            rel_err,
            tol.atol,
            tol.rtol,
            tol.reason,
            message,
        )

    if key not in results:
        if not tol.comparable:
            return row("not comparable", None, f"not provided; not comparable: {tol.reason}")
        return row("missing", None, f"no '{key}' in the results")
    actual = np.asarray(results[key])
    comparison = compare_arrays(actual, desired, rtol=tol.rtol, atol=tol.atol)
    if not tol.comparable:
        return row("not comparable", comparison, tol.reason)
    if comparison.ok:
        return row("pass", comparison, "")
    diagnosable = actual.shape == desired.shape and actual.dtype.kind in "biuf"
    hint = _diagnose(case, output, actual, desired) if diagnosable else ""
    message = f"{comparison.message}; tolerance because: {tol.reason}"
    return row("fail", comparison, message + (f". Likely cause: {hint}" if hint else ""))


def check_results(
    golden: GoldenSet | str | os.PathLike,
    results: Mapping[str, Any] | str | os.PathLike,
    *,
    precision: str = "auto",
    only: Sequence[str] | None = None,
) -> CheckReport:
    """Compare another implementation's outputs with a golden set.

    Parameters
    ----------
    golden : GoldenSet or path
        A set read by :func:`read_golden`, or its folder.
    results : mapping or path
        ``{"<case>/<output>": array}`` or a results ``.npz`` (see :func:`save_results`).
    precision : {"auto", "float64", "float32"}
        Tolerances to apply. ``"auto"``: float32 for a case with any float32 result array.
    only : sequence of str, optional
        Check only these cases (others are neither compared nor reported missing).

    Returns
    -------
    CheckReport
        One row per output of every checked case; ``passed`` is false on any failure or
        missing comparable output.

    Examples
    --------
    >>> import tempfile
    >>> from hsc_ref.golden import write_golden
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_golden(folder, only=["matrix_exact_zeros"])
    >>> outputs = read_golden(folder).cases["matrix_exact_zeros"].outputs
    >>> report = check_results(folder, {f"matrix_exact_zeros/{k}": v for k, v in outputs.items()})
    >>> report.passed, report.counts()["pass"]
    (True, 7)
    """
    if precision not in ("auto", *PRECISIONS):
        raise ValueError(f"precision must be 'auto', 'float64' or 'float32', got {precision!r}")
    if not isinstance(golden, GoldenSet):
        golden = read_golden(golden)
    if isinstance(results, (str, os.PathLike)):
        results = load_results(results)
    names = list(golden.cases) if only is None else list(only)
    unknown = sorted(set(names) - set(golden.cases))
    if unknown:
        raise ValueError(f"cases must be among {sorted(golden.cases)}, got unknown {unknown}")
    rows = []
    for name in names:
        case = golden.cases[name]
        prec = _case_precision(name, list(case.outputs), results, precision)
        rows += [_check_output(case, out, prec, results) for out in case.outputs]
    known = {f"{n}/{o}" for n in golden.cases for o in golden.cases[n].outputs}
    unexpected = tuple(sorted(k for k in results if k not in known))
    return CheckReport(str(golden.directory), tuple(rows), unexpected)


def assert_matches_golden(
    results: Any,
    golden_dir: Any,
    *,
    precision: str = "auto",
    only: Any = None,
) -> CheckReport:
    """Raise ``AssertionError`` with the failing rows unless ``results`` pass the golden set.

    Parameters
    ----------
    results : mapping of str to array, or path of a results ``.npz``
        Keys ``"<case>/<output>"`` (see :mod:`hsc_ref.golden`).
    golden_dir : path
        Folder written by :func:`hsc_ref.golden.write_golden` (``hsc-ref golden write``).
    precision : {"auto", "float64", "float32"}
        Which tolerances apply; ``"auto"`` picks float32 for a case with any float32 result.
    only : sequence of str, optional
        Check only these cases.

    Returns
    -------
    CheckReport
        The report, when every comparable output passes and none is missing.

    Examples
    --------
    >>> import tempfile
    >>> from hsc_ref.golden import write_golden
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_golden(folder, only=["matrix_spd"])
    >>> case = read_golden(folder).cases["matrix_spd"]
    >>> results = {f"matrix_spd/{k}": v for k, v in case.outputs.items()}
    >>> assert_matches_golden(results, folder).passed
    True
    >>> results["matrix_spd/step"] = 1.01 * results["matrix_spd/step"]
    >>> assert_matches_golden(results, folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: 1 of 7 outputs failed against the golden set ...
    """
    report = check_results(golden_dir, results, precision=precision, only=only)
    if not report.passed:
        bad = [r for r in report.rows if r.status in ("fail", "missing")]
        raise AssertionError(
            f"{len(bad)} of {len(report.rows)} outputs failed against the golden set "
            f"{report.golden_dir}:\n{report.format_table(failures_only=True)}"
        )
    return report
