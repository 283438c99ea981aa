"""Checking another implementation's results against a golden set.

An output passes when, elementwise, ``|actual - desired| <= atol + rtol * |desired|`` with
the tolerance the manifest records for the result set's precision. The check is complete
or says what it left out: every case this hsc_ref writes and every output of it is compared,
reported missing, or listed as not checked (only when ``only`` restricts the check). A
failing output gets a diagnosis (:mod:`hsc_ref.golden._diagnosis`), the earliest failing
quantity of each chain first, from its own values and what the whole set's failures say
together (:func:`~hsc_ref.golden._diagnosis.set_evidence`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hsc_ref import _io
from hsc_ref.golden._diagnosis import (
    NO_KNOWN_CAUSE,
    Failure,
    SetEvidence,
    cutoff_policy_lines,
    depends_on,
    diagnose,
    reproduction,
    set_evidence,
    stage_of,
)
from hsc_ref.golden.cases import PRECISIONS, GoldenCase
from hsc_ref.golden.files import (
    _RESULT_KINDS,
    GoldenFileError,
    GoldenSet,
    load_results,
    read_golden,
    result_keys,
)
from hsc_ref.testing import compare_arrays

__all__ = [
    "CheckRow",
    "CheckReport",
    "check_results",
    "assert_matches_golden",
]

_FAILING = ("fail", "missing")


@dataclass(frozen=True)
class CheckRow:
    """One compared output: errors, the tolerance applied, the verdict and why.

    Attributes
    ----------
    case, output : str
        What was compared (``output`` is ``"*"`` for a case absent from the golden set).
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
        Why it failed, with the diagnosis, or empty.
    cause : str
        The diagnosis alone: the likely cause of a failure (empty when none is recognized).
    upstream : str
        For a failure downstream of another in the same chain (loss, gradient, Hessian,
        spectrum, pinv, Hc, step), the ``"<case>/<output>"`` it follows from; empty for a
        root failure.
    reproduce : str
        For a root failure that no known cause explains, Python lines that load the case and
        the result, recompute the reference and compare them (empty otherwise).
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
    cause: str = ""
    upstream: str = ""
    reproduce: str = ""

    @property
    def key(self) -> str:
        """``"<case>/<output>"``."""
        return f"{self.case}/{self.output}"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (infinite errors become the string ``"inf"``)."""
        out = dict(vars(self))
        for key in ("max_abs_err", "max_rel_err"):
            if out[key] is not None and not math.isfinite(out[key]):
                out[key] = "inf"
        return out


@dataclass(frozen=True)
class CheckReport:
    """All rows of a check, what it did not check, and the precision it applied.

    Attributes
    ----------
    golden_dir : str
        The golden folder checked against.
    rows : tuple of CheckRow
        One per checked output (and one per checked case absent from the golden set).
    unexpected : tuple of str
        Result keys that name no golden output (ignored).
    precision : str
        The one precision the result set was checked at.
    precision_source : str
        Why: given, or the highest precision among the result arrays (and which array).
    unchecked : tuple of str
        ``"<case>/<output>"`` (or ``"<case>/*"``) left out by ``only``.
    cutoff_policy : tuple of str
        The golden cutoff policy of the checked cases, with the keywords that reproduce it.
    """

    golden_dir: str
    rows: tuple[CheckRow, ...]
    unexpected: tuple[str, ...]
    precision: str = "float64"
    precision_source: str = ""
    unchecked: tuple[str, ...] = ()
    cutoff_policy: tuple[str, ...] = ()

    @property
    def compared(self) -> int:
        """Number of outputs actually compared against a tolerance (pass or fail)."""
        return sum(r.status in ("pass", "fail") and r.max_abs_err is not None for r in self.rows)

    @property
    def passed(self) -> bool:
        """True when no output failed or is missing, and at least one was compared."""
        return self.counts()["pass"] > 0 and not any(r.status in _FAILING for r in self.rows)

    def counts(self) -> dict[str, int]:
        """Number of rows per status."""
        counts = {s: 0 for s in ("pass", "fail", "missing", "not comparable")}
        for row in self.rows:
            counts[row.status] += 1
        return counts

    def roots(self) -> tuple[CheckRow, ...]:
        """Failing rows that follow from no other failure: where to look first."""
        return tuple(r for r in self.rows if r.status in _FAILING and not r.upstream)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict of the whole report."""
        return {
            "golden_dir": self.golden_dir,
            "passed": self.passed,
            "precision": self.precision,
            "precision_source": self.precision_source,
            "counts": self.counts(),
            "compared": self.compared,
            "root_causes": [r.key for r in self.roots()],
            "unchecked": list(self.unchecked),
            "unexpected_keys": list(self.unexpected),
            "cutoff_policy": list(self.cutoff_policy),
            "rows": [r.to_json() for r in self.rows],
        }

    def format_table(self, *, failures_only: bool = False) -> str:
        """A plain-text table (case, output, precision, errors, tolerance, status) and notes."""
        rows = [r for r in self.rows if not failures_only or r.status in _FAILING]
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
                r.status.upper() if r.status in _FAILING else r.status,
            )
            for r in rows
        ]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
        lines = [
            "  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
            for line in (head, *body)
        ]
        return "\n".join([*lines, "", *self._summary()])

    def _summary(self) -> list[str]:
        counts = self.counts()
        summary = ", ".join(f"{v} {k}" for k, v in counts.items())
        lines = [
            f"{'PASSED' if self.passed else 'FAILED'}: {summary} (checked at {self.precision}: "
            f"{self.precision_source})"
        ]
        if counts["pass"] == 0:
            lines.append("- no output passed a comparison: a check that compares nothing fails")
        roots = self.roots()
        if roots:
            lines.append(
                "Root causes (the earliest failing quantity of each chain: loss, gradient, "
                "Hessian, spectrum, pinv, Hc, step):"
            )
            for r in roots:
                lines.append(f"- {r.key} {r.status.upper()}: {r.message}")
                if r.reproduce:
                    lines.append("  Reproduce it (Python):")
                    lines += [f"    {line}" for line in r.reproduce.splitlines()]
        downstream = [r for r in self.rows if r.status in _FAILING and r.upstream]
        if downstream:
            lines.append("Failures that follow from a root cause upstream (fix that first):")
            lines += [f"- {r.key} {r.status.upper()} (after {r.upstream})" for r in downstream]
        if self.unchecked:
            lines.append(f"Not checked (left out by --only): {_compact(self.unchecked)}")
        if self.unexpected:
            lines.append(f"(ignored keys not in the golden set: {', '.join(self.unexpected)})")
        if self.cutoff_policy:
            lines += ["", *self.cutoff_policy]
        return lines


def _compact(keys: Sequence[str]) -> str:
    """``case: out1, out2; case2/*`` from a list of ``case/output`` keys."""
    by_case: dict[str, list[str]] = {}
    for key in keys:
        case, _, output = key.partition("/")
        by_case.setdefault(case, []).append(output)
    return "; ".join(f"{case}: {', '.join(outs)}" for case, outs in by_case.items())


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2e}"


# --------------------------------------------------------------------------- precision


def declared_precision(precision: str, arrays: Mapping[str, Any]) -> tuple[str, str]:
    """The one precision a result set is checked at, and why.

    ``precision`` other than ``"auto"`` is taken as given. ``"auto"`` takes the highest
    precision among the floating arrays (float64 when there is none), so that one array in
    a lower precision cannot loosen the tolerances of the others: it fails instead.

    Examples
    --------
    >>> import numpy as np
    >>> declared_precision("auto", {"a/x": np.zeros(2, np.float32), "a/y": np.zeros(2)})[0]
    'float64'
    """
    if not isinstance(arrays, Mapping):
        raise TypeError(
            f"arrays must be a mapping of result names to arrays, got {type(arrays).__name__}"
        )
    if not isinstance(precision, str) or precision not in ("auto", *PRECISIONS):
        raise ValueError(f"precision must be 'auto', 'float64' or 'float32', got {precision!r}")
    if precision != "auto":
        return precision, "given"
    floats = {k: np.asarray(v).dtype for k, v in arrays.items()}
    floats = {k: d for k, d in floats.items() if d.kind == "f"}
    if not floats:
        return "float64", "auto: no floating arrays, float64"
    key = max(sorted(floats), key=lambda k: np.finfo(floats[k]).precision)
    declared = "float64" if np.finfo(floats[key]).eps <= np.finfo(np.float64).eps else "float32"
    return (
        declared,
        f"auto: the highest precision among the result arrays ({key!r} is {floats[key]})",
    )


def _below_precision(array: np.ndarray, precision: str) -> bool:
    kind = np.asarray(array).dtype
    return kind.kind == "f" and np.finfo(kind).eps > np.finfo(np.dtype(precision)).eps


# --------------------------------------------------------------------------- selection


def _selection(
    gold: GoldenSet, expected: Sequence[str], only: Sequence[str] | None
) -> dict[str, list[str] | None]:
    """``{case: outputs to check}`` (``None``: the case is absent from the golden set)."""
    outputs = {
        name: sorted(case.outputs, key=lambda o: (stage_of(o), o))
        for name, case in gold.cases.items()
    }
    full = {name: outputs.get(name) for name in expected}
    if only is None:
        return full
    if isinstance(only, str):
        raise TypeError(f"only must be a sequence of selectors, got the string {only!r}")
    chosen: dict[str, set[str] | None] = {}
    all_outputs = {o for outs in outputs.values() for o in outs}
    all_outputs |= {o[:-2] for o in all_outputs if o[-2:] in ("_g", "_d")}
    for item in only:
        case, _, output = str(item).partition("/")
        if case in full and not output:
            chosen[case] = None if full[case] is None else set(full[case])
        elif case in full and full[case] is not None and output in full[case]:
            chosen.setdefault(case, set())
            chosen[case].add(output)  # type: ignore[union-attr]
        elif case in full and full[case] is None and output:
            chosen[case] = None
        elif not output and case in all_outputs:
            for name, outs in outputs.items():
                matching = {o for o in outs if o in (case, f"{case}_g", f"{case}_d")}
                if matching and name in full:
                    chosen.setdefault(name, set())
                    chosen[name] |= matching  # type: ignore[operator]
        else:
            raise ValueError(
                f"only must name cases ({list(full)}), outputs (e.g. 'step') or "
                f"'<case>/<output>' keys of the golden set; got unknown {item!r}"
            )
    return {
        name: (None if chosen[name] is None else [o for o in full[name] or () if o in chosen[name]])
        for name in full
        if name in chosen
    }


# --------------------------------------------------------------------------- checking


def _row(key: tuple[str, str, str], tol: Any, status: str, err: Any, message: str) -> CheckRow:
    """A row for ``key = (case, output, precision)``."""
    case, output, precision = key
    return CheckRow(
        case,
        output,
        precision,
        status,
        None if err is None else err.max_abs_err,
        None if err is None else err.max_rel_err,
        tol.atol,
        tol.rtol,
        tol.reason,
        message,
    )


def _refused_from_headers(
    gold: GoldenSet, headers: Mapping[str, tuple[tuple[int, ...], np.dtype]]
) -> dict[str, str]:
    """Why each results entry that cannot pass is left packed: another shape than its golden
    output's, or values that are not numbers (an entry of any declared size costs nothing)."""
    refused = {}
    for key, (shape, dtype) in headers.items():
        case, _, output = key.partition("/")
        desired = gold.cases[case].outputs[output]
        if dtype.kind not in _RESULT_KINDS:
            refused[key] = f"actual dtype {dtype} is not real or complex"
        elif shape != desired.shape:
            refused[key] = f"shape {shape} differs from the expected {desired.shape}"
    return {
        key: f"{why} (read from the entry's header; the entry was not unpacked)"
        for key, why in refused.items()
    }


def _check_entry(
    case: GoldenCase,
    output: str,
    precision: str,
    results: Mapping[str, np.ndarray],
    unpacked: Mapping[str, str],
) -> CheckRow:
    """:func:`_check_output`, or the row of an entry failed from its header (left packed)."""
    why = unpacked.get(f"{case.name}/{output}")
    if why is None:
        return _check_output(case, output, precision, results)
    tol = case.tolerances[output][precision]
    status = "fail" if tol.comparable else "not comparable"
    return _row(
        (case.name, output, precision), tol, status, None, why if tol.comparable else tol.reason
    )


def _check_output(
    case: GoldenCase, output: str, precision: str, results: Mapping[str, np.ndarray]
) -> CheckRow:
    tol = case.tolerances[output][precision]
    where = (case.name, output, precision)
    key = f"{case.name}/{output}"
    desired = case.outputs[output]
    if key not in results:
        if not tol.comparable:
            return _row(where, tol, "not comparable", None, "not provided")
        return _row(where, tol, "missing", None, f"no '{key}' in the results")
    actual = np.asarray(results[key])
    comparison = compare_arrays(actual, desired, rtol=tol.rtol, atol=tol.atol)
    if not tol.comparable:
        return _row(where, tol, "not comparable", comparison, tol.reason)
    if _below_precision(actual, precision):
        message = (
            f"stored as {actual.dtype} in a result set checked at {precision}: one result "
            f"set has one precision, and an array below it cannot be checked at it (save every "
            f"array at the precision you compute in, or check a float32 set with --precision "
            f"float32)"
        )
        return _row(where, tol, "fail", comparison, message)
    if comparison.ok:
        return _row(where, tol, "pass", comparison, "")
    return _row(where, tol, "fail", comparison, comparison.message)


def _mark_upstream(rows: list[CheckRow]) -> list[CheckRow]:
    """Mark the failures of one case that follow from an earlier failure in their chain."""
    failing = [r for r in rows if r.status in _FAILING]
    out = []
    for row in rows:
        earlier = [r for r in failing if depends_on(row.output, r.output)]
        if row.status not in _FAILING or not earlier:
            out.append(row)
            continue
        first = min(earlier, key=lambda r: stage_of(r.output))
        message = f"follows from the failure of {first.key} upstream; {row.message}"
        out.append(_replace(row, message=message, upstream=first.key))
    return out


def _evidence(
    gold: GoldenSet,
    rows: Sequence[CheckRow],
    results: Mapping[str, np.ndarray],
    precision: str,
    results_path: str,
) -> SetEvidence:
    """What the whole set's failures say together (float32, step factors, losses)."""
    failures = [
        Failure(gold.cases[r.case], r.output, results.get(r.key))
        for r in rows
        if r.status == "fail" and r.case in gold.cases
    ]
    compared = [
        (gold.cases[r.case], r.output)
        for r in rows
        if r.status in ("pass", "fail") and r.max_abs_err is not None and r.case in gold.cases
    ]
    nonfinite = [
        key
        for key, value in results.items()
        if value.dtype.kind in "fc" and not np.isfinite(value).all()
    ]
    return set_evidence(
        failures,
        compared,
        precision,
        nonfinite=nonfinite,
        golden_dir=str(gold.directory),
        results=results_path,
        seed=int(gold.manifest.get("seed", 0)) if isinstance(gold.manifest, dict) else 0,
    )


def _diagnosed(
    case: GoldenCase, row: CheckRow, results: Mapping[str, np.ndarray], evidence: SetEvidence
) -> CheckRow:
    """A root failure with its likely cause (and a reproduction when no cause is known)."""
    if row.status not in _FAILING or row.upstream:
        return row
    cause = ""
    if row.status == "fail":
        cause = diagnose(case, row.output, results.get(row.key), row.precision, evidence)
    message = row.message + (f"; tolerance because: {row.reason}" if row.reason else "")
    message += f". Likely cause: {cause}" if cause else ""
    snippet = reproduction(case, row.output, evidence) if cause.startswith(NO_KNOWN_CAUSE) else ""
    return _replace(row, message=message, cause=cause, reproduce=snippet)


def _replace(row: CheckRow, **changes: Any) -> CheckRow:
    return CheckRow(**(vars(row) | changes))


def _missing_case_row(name: str, precision: str) -> CheckRow:
    return CheckRow(
        name,
        "*",
        precision,
        "missing",
        None,
        None,
        0.0,
        0.0,
        "",
        f"the golden set has no case {name!r}, which this hsc_ref writes: write the full set "
        f"(hsc-ref golden write without --only), or restrict the check with --only",
    )


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
        A set read by :func:`~hsc_ref.golden.files.read_golden`, or its folder (read and
        verified against what this hsc_ref writes).
    results : mapping or path
        ``{"<case>/<output>": array}`` or a results ``.npz`` (see
        :func:`~hsc_ref.golden.files.save_results`).
    precision : {"auto", "float64", "float32"}
        The one precision of the result set (:func:`declared_precision`); every floating
        array below it fails.
    only : sequence of str, optional
        Check only these: case names, output names (in every case that has them) or
        ``"<case>/<output>"`` keys. What is left out is listed in ``unchecked``.

    Returns
    -------
    CheckReport
        ``passed`` is false on any failure, any missing comparable output or case, or when
        nothing was compared.

    Examples
    --------
    >>> import tempfile
    >>> from hsc_ref.golden import write_golden
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_golden(folder, only=["matrix_exact_zeros"])
    >>> outputs = read_golden(folder).cases["matrix_exact_zeros"].outputs
    >>> results = {f"matrix_exact_zeros/{k}": v for k, v in outputs.items()}
    >>> report = check_results(folder, results, only=["matrix_exact_zeros"])
    >>> report.passed, report.counts()["pass"]
    (True, 7)
    """
    if precision not in ("auto", *PRECISIONS):
        raise ValueError(f"precision must be 'auto', 'float64' or 'float32', got {precision!r}")
    gold = golden if isinstance(golden, GoldenSet) else read_golden(golden)
    expected = gold.expected_cases or tuple(gold.cases)
    selection = _selection(gold, expected, only)
    wanted = {f"{c}/{o}" for c, outs in selection.items() for o in outs or ()}
    unpacked: dict[str, str] = {}  # entries of a file refused from their headers: why
    if isinstance(results, (str, os.PathLike)):
        names = result_keys(results)
        headers = _io.npz_headers(
            results, "results file", [k for k in names if k in wanted], error=GoldenFileError
        )
        unpacked = _refused_from_headers(gold, headers)
        shapes = {k: shape for k, (shape, _) in headers.items() if k not in unpacked}
        arrays = load_results(results, keys=list(shapes), shapes=shapes)
        dtypes = {k: np.empty(0, dtype) for k, (_, dtype) in headers.items() if k in unpacked}
        declared, source = declared_precision(precision, {**arrays, **dtypes})
    else:
        names = list(results)
        arrays = {k: np.asarray(v) for k, v in results.items() if k in wanted}
        declared, source = declared_precision(precision, arrays)
    rows: list[CheckRow] = []
    for name, outputs in selection.items():
        if outputs is None:
            rows.append(_missing_case_row(name, declared))
            continue
        case = gold.cases[name]
        rows += _mark_upstream(
            [_check_entry(case, out, declared, arrays, unpacked) for out in outputs]
        )
    path = str(results) if isinstance(results, (str, os.PathLike)) else "RESULTS.npz"
    evidence = _evidence(gold, rows, arrays, declared, path)
    rows = [
        r if r.case not in gold.cases else _diagnosed(gold.cases[r.case], r, arrays, evidence)
        for r in rows
    ]
    known = {f"{n}/{o}" for n, case in gold.cases.items() for o in case.outputs}
    full_outputs = _selection(gold, expected, None)
    unchecked = [
        f"{name}/{o}" if name in gold.cases else f"{name}/*"
        for name in expected
        for o in (full_outputs[name] if name in gold.cases else ["*"])
        if f"{name}/{o}" not in wanted and not (name in selection and selection[name] is None)
    ]
    unexpected = tuple(sorted(k for k in names if k not in known))
    policy = cutoff_policy_lines([gold.cases[n] for n in selection if n in gold.cases], declared)
    return CheckReport(
        str(gold.directory),
        tuple(rows),
        unexpected,
        declared,
        source,
        tuple(unchecked) if only is not None else (),
        tuple(policy),
    )


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
    golden_dir : path or GoldenSet
        Folder written by :func:`hsc_ref.golden.write_golden` (``hsc-ref golden write``).
    precision : {"auto", "float64", "float32"}
        The one precision of the result set (see :func:`declared_precision`).
    only : sequence of str, optional
        Check only these cases, outputs or ``"<case>/<output>"`` keys.

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
    >>> assert_matches_golden(results, folder, only=["matrix_spd"]).passed
    True
    >>> results["matrix_spd/step"] = 1.01 * results["matrix_spd/step"]
    >>> assert_matches_golden(results, folder, only=["matrix_spd"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: 1 of 7 outputs failed against the golden set ...
    """
    report = check_results(golden_dir, results, precision=precision, only=only)
    if not report.passed:
        bad = [r for r in report.rows if r.status in _FAILING]
        raise AssertionError(
            f"{len(bad)} of {len(report.rows)} outputs failed against the golden set "
            f"{report.golden_dir}:\n{report.format_table(failures_only=True)}"
        )
    return report
