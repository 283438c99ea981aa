"""Drive a user's own implementation over drawn matrices and compare it with the reference.

:func:`check` calls the user's callable (``fn(H)`` for ``"eigenvalues"``, ``"pinv"``,
``"hc"``, ``"rank"``; ``fn(H, g, lr)`` for ``"step"``, ``"step_cholesky"``,
``"step_literal"``, the golden output names) with arrays of the user's own library, on
symmetric matrices drawn by :func:`hsc_ref.strategies.conformance_matrices` (exact zeros,
clusters, the golden cutoff band, norms up to ``1e6``). Every result is compared with
:func:`hsc_ref.testing.reference_outputs` under the golden tolerance of that output;
matrices where the output is not comparable (an eigenvalue within rounding of the cutoff) are
skipped, as the golden checker skips them. Hypothesis shrinks a failure to a minimal matrix,
and the ``AssertionError`` names the likely cause where a rule recognizes it and gives a
copy-paste reproduction. Needs Hypothesis (the ``test`` extra) when called, not on import.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hsc_ref import _io, _tolerances, _validation
from hsc_ref._conformance_diagnosis import Failure as _Failure
from hsc_ref._conformance_diagnosis import Probe as _Probe
from hsc_ref._conformance_diagnosis import diagnose
from hsc_ref.testing import _as_numpy, _precision, reference_outputs

__all__ = ["OUTPUTS", "ConformanceReport", "check"]

OUTPUTS = (*_tolerances.MATRIX_OUTPUTS, *_tolerances.STEP_OUTPUTS)
"""The outputs :func:`check` can drive: ``fn(H)`` for the first four, ``fn(H, g, lr)`` after."""

_CUTOFF_OUTPUTS = ("pinv", "hc", "rank", "step_literal")
_MAX_EXAMPLES_LIMIT = 100_000
_MAX_N_LIMIT = 64


@dataclass(frozen=True)
class ConformanceReport:
    """What :func:`check` ran and found.

    Attributes
    ----------
    output, precision : str
        The output checked and the implementation's precision.
    callable : str
        The checked callable's name.
    passed : bool
        True when every comparable example matched its reference.
    examples : int
        Matrices the callable was run on before the verdict (shrinking not counted).
    compared, skipped : int
        Of those, how many were compared and how many skipped as not comparable.
    worst_excess : float
        The largest ``|actual - reference| / (atol + rtol |reference|)`` over the compared
        examples of a passing check (``<= 1``).
    seed, max_examples, max_n : int
        The settings of the run; the same ones give the same examples.
    message : str or None
        The failure: comparison, diagnosis and reproduction (None when passed).
    diagnosis : str or None
        The likely cause of the failure, or a sentence saying no rule recognizes it.
    reproduction : str or None
        A Python snippet that rebuilds the minimal failing example and compares.
    minimal_H : list or None
        The minimal failing matrix, as nested lists.
    """

    output: str
    precision: str
    callable: str
    passed: bool
    examples: int
    compared: int
    skipped: int
    worst_excess: float
    seed: int
    max_examples: int
    max_n: int
    message: str | None = None
    diagnosis: str | None = None
    reproduction: str | None = None
    minimal_H: list | None = None

    def to_json(self, path: str | os.PathLike | None = None, *, overwrite: bool = False) -> dict:
        """The report as a JSON-ready dict; written atomically to ``path`` when given.

        Parameters
        ----------
        path : path-like, optional
            Where to write it (indented, key-sorted JSON).
        overwrite : bool, default False
            Replace an existing regular file at ``path``.

        Returns
        -------
        dict

        Raises
        ------
        FileExistsError
            If ``path`` exists and ``overwrite`` is false.
        ValueError
            If ``path`` exists and is not a regular file (a folder, a link, a device).
        """
        record = {"schema": "hsc_ref.conformance/1", **dataclasses.asdict(self)}
        if path is not None:
            _write_json(Path(path), record, overwrite)
        return record


def _write_json(path: Path, record: Mapping[str, Any], overwrite: bool) -> None:
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise ValueError(f"path must be a regular file or not exist, got {path} (not a file)")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    _io.atomic_write_json(path, record, overwrite=overwrite)


def check(
    fn: Callable[..., Any],
    output: str,
    *,
    dtype: Any = "float64",
    convert: Callable[[np.ndarray], Any] | None = None,
    max_examples: int = 50,
    seed: int = 0,
    max_n: int = 8,
    raise_on_failure: bool = True,
) -> ConformanceReport:
    """Check ``fn`` against the reference on drawn matrices; shrink and explain a failure.

    Parameters
    ----------
    fn : callable
        The implementation: ``fn(H)`` for ``"eigenvalues"`` (ascending), ``"pinv"``,
        ``"hc"`` (``H + pinv(H)``), ``"rank"`` (an integer), ``fn(H, g, lr)`` for ``"step"``,
        ``"step_cholesky"`` and ``"step_literal"`` (the HSC step ``-lr pinv(H + pinv(H)) g``
        by its routes, ``docs/validating.md``). ``H`` and ``g`` come as ``convert`` makes
        them, at ``dtype``; ``lr`` is a Python float. It may return any array
        ``numpy.asarray`` reads, or a PyTorch tensor.
    output : str
        One of :data:`OUTPUTS`.
    dtype : {"float64", "float32"}, default "float64"
        The precision ``fn`` computes in: inputs are rounded to it, the reference applies its
        golden cutoff (``atol = 0``, ``rtol = 100 * n * eps(dtype)``) and its tolerances.
    convert : callable, optional
        Turns a NumPy array into the user's (``torch.from_numpy``, ``jax.numpy.asarray``,
        ``cupy.asarray``); default: NumPy arrays are passed as they are.
    max_examples : int, default 50
        Matrices drawn (Hypothesis examples) before a pass.
    seed : int, default 0
        Seed of the draws: the same seed, settings and ``fn`` give the same examples.
    max_n : int, default 8
        Largest order drawn (at most 64).
    raise_on_failure : bool, default True
        Raise ``AssertionError`` on a failure; when false, return the failed report.

    Returns
    -------
    ConformanceReport
        ``passed``, the numbers of examples run, compared and skipped, and ``to_json()``.

    Raises
    ------
    AssertionError
        When ``fn`` disagrees with the reference (or raises) on a comparable example, or no
        example was comparable: the message has the minimal matrix, the comparison, the
        likely cause and a reproduction snippet.
    ValueError
        For an unknown output or dtype, or a bad count.
    ImportError
        Without Hypothesis (``pip install "hsc-ref[test]"``).

    Notes
    -----
    Do not call it from inside a Hypothesis test (``@given``): it runs one itself. The
    reference and its tolerances are those of a golden matrix case
    (:func:`hsc_ref.testing.reference_outputs`), computed from the rounded inputs ``fn``
    received.

    Examples
    --------
    >>> import numpy as np
    >>> def my_eigenvalues(H):
    ...     return np.linalg.eigvalsh(H)
    >>> report = check(my_eigenvalues, "eigenvalues", max_examples=10)
    >>> report.passed, report.examples
    (True, 10)
    >>> check(lambda H: np.linalg.eigvalsh(H)[::-1], "eigenvalues")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: eigenvalues of <lambda> does not match the reference at float64 on a 2x2 ...
    Likely cause: eigenvalue ordering: descending; eigenvalues must be ascending ...
    """
    settings = _check_arguments(output, max_examples, seed, max_n)
    precision = _precision(dtype)
    state = _State()
    runner = _runner(fn, output, precision, convert=convert or _identity, max_n=max_n, state=state)
    try:
        _drive(runner, seed, settings)
    except _Mismatch:
        failure = state.last
    else:
        failure = None
        if state.compared == 0:
            failure = state.last = _Failure(
                None, None, None, None, None, None, "no drawn example was comparable"
            )
    name = getattr(fn, "__qualname__", type(fn).__name__)
    base = {
        "output": output,
        "precision": precision,
        "callable": name,
        "examples": state.examples,
        "compared": state.compared,
        "skipped": state.skipped,
        "worst_excess": state.worst,
        "seed": int(seed),
        "max_examples": int(max_examples),
        "max_n": int(max_n),
    }
    if failure is None:
        return ConformanceReport(passed=True, **base)
    diagnosis, snippet, message = _explain(
        failure, fn, output, precision=precision, convert=convert, name=name
    )
    report = ConformanceReport(
        passed=False,
        message=message,
        diagnosis=diagnosis,
        reproduction=snippet,
        minimal_H=None if failure.H is None else failure.H.astype(np.float64).tolist(),
        **base,
    )
    if raise_on_failure:
        raise AssertionError(message)
    return report


# --------------------------------------------------------------------------- the driver


def _identity(x: np.ndarray) -> np.ndarray:
    return x


class _Mismatch(AssertionError):
    """Raised inside the Hypothesis test on a failing example (one raise site: one bug)."""


@dataclass
class _State:
    examples: int = 0
    compared: int = 0
    skipped: int = 0
    worst: float = 0.0
    failing: bool = False
    last: _Failure | None = None


def _check_arguments(output: str, max_examples: int, seed: int, max_n: int) -> dict:
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    _validation.check_count(max_examples, "max_examples", minimum=1)
    if max_examples > _MAX_EXAMPLES_LIMIT:
        raise ValueError(f"max_examples must be at most {_MAX_EXAMPLES_LIMIT}, got {max_examples}")
    _validation.check_count(seed, "seed")
    _validation.check_count(max_n, "max_n", minimum=1)
    if max_n > _MAX_N_LIMIT:
        raise ValueError(f"max_n must be at most {_MAX_N_LIMIT}, got {max_n}")
    return {"max_examples": int(max_examples)}


def _runner(
    fn: Callable[..., Any],
    output: str,
    precision: str,
    *,
    convert: Callable[[np.ndarray], Any],
    max_n: int,
    state: _State,
) -> Callable[[Any], None]:
    from hsc_ref import strategies  # noqa: PLC0415  (imports Hypothesis, the test extra)

    steps = output in _tolerances.STEP_OUTPUTS
    dtype = np.dtype(precision)

    def run(data: Any) -> None:
        case = data.draw(strategies.conformance_matrices(precision, max_n), label="matrix")
        H = case.H.astype(dtype)
        g = data.draw(strategies.gradients(case.n), label="g").astype(dtype) if steps else None
        lr = float(data.draw(strategies.learning_rates, label="lr")) if steps else None
        if not state.failing:
            state.examples += 1
        ref = reference_outputs(H, g, 1.0 if lr is None else lr, dtype=precision)[output]
        if not ref.comparable:
            state.skipped += 0 if state.failing else 1
            return
        try:
            args = (convert(H.copy()), convert(g.copy()), lr) if steps else (convert(H.copy()),)
            raw = fn(*args)  # copies: an implementation that writes in place changes nothing
            actual = _as_numpy(raw, "the output")
            comparison = ref.compare(actual)
            error = None
        except Exception as exc:  # a raising implementation fails, and is shrunk
            actual, comparison = None, None
            error = f"{fn!r} raised {type(exc).__name__}: {exc}"
        if comparison is not None and comparison.ok:
            if not state.failing:
                state.compared += 1
                state.worst = max(state.worst, comparison.worst_excess)
            return
        state.failing = True
        state.last = _Failure(H, g, lr, actual, ref, comparison, error)
        raise _Mismatch(error or comparison.message)

    return run


def _drive(run: Callable[[Any], None], seed: int, options: dict) -> None:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings  # noqa: PLC0415
    from hypothesis import seed as seeded  # noqa: PLC0415
    from hypothesis import strategies as st  # noqa: PLC0415

    test = seeded(seed)(
        settings(
            database=None,
            derandomize=False,
            deadline=None,
            print_blob=False,
            verbosity=Verbosity.quiet,
            phases=(Phase.explicit, Phase.generate, Phase.shrink),
            suppress_health_check=list(HealthCheck),
            **options,
        )(given(st.data())(run))
    )
    with _without_local_constants():
        test()


@contextlib.contextmanager
def _without_local_constants() -> Iterator[None]:
    """Keep Hypothesis from mixing the literals of the process's own modules into its draws.

    Hypothesis draws, now and then, a constant found in the source of the *local* modules
    imported so far (those outside site-packages), so the examples of one seed would depend on
    what the process happened to import: the tests run before, the user's own modules. The
    check promises the same examples for the same seed, so the pool is emptied for its run.
    Hypothesis's own edge-case constants (inf, nan, 0, ...) stay. The pool is an internal of
    Hypothesis: where it is not found, nothing is changed.
    """
    try:
        from hypothesis.internal.conjecture import providers  # noqa: PLC0415
    except ImportError:  # pragma: no cover - another Hypothesis layout
        yield
        return
    original = getattr(providers, "_get_local_constants", None)
    if original is None or not hasattr(providers, "_local_constants"):  # pragma: no cover
        yield
        return
    empty = type(providers._local_constants)()
    providers._get_local_constants = lambda: empty
    try:
        yield
    finally:
        providers._get_local_constants = original


# --------------------------------------------------------------------------- explaining


def _explain(
    failure: _Failure,
    fn: Callable[..., Any],
    output: str,
    *,
    precision: str,
    convert: Callable | None,
    name: str,
) -> tuple[str, str | None, str]:
    """Diagnosis, reproduction snippet and the whole failure message."""
    if failure.H is None:
        text = (
            f"{output} of {name}: no drawn example was comparable at {precision} (every matrix "
            f"had an eigenvalue within rounding of the cutoff); raise max_examples"
        )
        return "nothing compared", None, text
    ref = failure.ref
    n = failure.H.shape[0]
    diagnosis = (
        f"{name} raised instead of returning an output"
        if failure.error
        else diagnose(failure, _Probe(fn, convert or _identity, output, precision))
    )
    snippet = _snippet(failure, fn, output, precision, convert)
    what = failure.error or failure.comparison.message
    text = (
        f"{output} of {name} does not match the reference at {precision} on a {n}x{n} matrix "
        f"(the minimal failing example Hypothesis found): {what}\n"
        f"Likely cause: {diagnosis}\n"
        f"Tolerance: atol={ref.atol:.3g}, rtol={ref.rtol:.3g} because: {ref.reason}\n"
        f"Reproduce (fn and convert are your callable and converter):\n{snippet}"
    )
    return diagnosis, snippet, text


def _literal(a: np.ndarray) -> str:
    """``a`` as NumPy source that rebuilds it exactly (every digit its dtype needs)."""
    body = np.array2string(
        a, separator=", ", floatmode="unique", threshold=a.size + 1, max_line_width=96
    )
    return f"np.array({body}, dtype=np.{a.dtype.name})"


def _importable(obj: Any, as_name: str) -> str | None:
    """``from module import name as as_name`` when ``obj`` is that module's attribute."""
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", "")
    name = name if name.isidentifier() else getattr(obj, "__name__", "")
    if not module or module == "__main__" or not name.isidentifier():
        return None
    if getattr(sys.modules.get(module), name, None) is not obj:  # a local, or re-bound
        return None
    return f"from {module} import {name} as {as_name}"


def _snippet(
    failure: _Failure, fn: Callable, output: str, precision: str, convert: Callable | None
) -> str:
    lines = ["import numpy as np", "", "from hsc_ref.testing import reference_outputs", ""]
    lines.append(_importable(fn, "fn") or "# fn: your callable (define or import it here)")
    if convert is None:
        lines.append("convert = np.asarray")
    else:
        lines.append(
            _importable(convert, "convert") or "# convert: your converter (define or import it)"
        )
    lines.append(f"H = {_literal(failure.H)}")
    if failure.g is not None:
        lines += [f"g = {_literal(failure.g)}", f"lr = {failure.lr!r}"]
        lines.append(f'ref = reference_outputs(H, g, lr, dtype="{precision}")["{output}"]')
        lines.append("actual = fn(convert(H), convert(g), lr)")
    else:
        lines.append(f'ref = reference_outputs(H, dtype="{precision}")["{output}"]')
        lines.append("actual = fn(convert(H))")
    lines += [
        "result = ref.compare(np.asarray(actual))",
        "print(result.message)",
        "assert result.ok, result.message",
    ]
    return "\n".join(lines)
