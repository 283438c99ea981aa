"""The measured tables of ``docs/math.md``: the step's routes, the literal route's failures, mpmath.

Two commands make the records:

- ``python tests/test_mpmath_reference.py --record docs/tables/records/math-mpmath.json``: the
  errors of ``Hc``, ``H⁺`` and the three step routes against mpmath at 50 digits, per case
  (section 7's table, whose format is the script's own :func:`markdown_table`, and the
  "measured worst" column of section 2's routes table);
- ``python examples/literal_failures.py --trials 100 --seed 0 --record`` (the same folder's
  ``math-literal-failures.json``): the medians and worst cases of the literal route's two
  failure modes (section 3's tables).

The sentences that quote those numbers (the Cholesky route's lost digits in section 2, the
figure quoted for Mode 1 in section 3, the worst errors in section 7) sit inside the tables'
markers and are rendered from the records too. The quick versions rerun the same code on
:data:`QUICK_CASES` of the mpmath cases and with :data:`QUICK_TRIALS` matrices per setting.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import re
import sys
import textwrap
from collections.abc import Iterator
from functools import cache
from types import ModuleType
from typing import Any

from tables import ROOT, Table

MPMATH_RECORD = "docs/tables/records/math-mpmath.json"
LITERAL_RECORD = "docs/tables/records/math-literal-failures.json"
MPMATH_COMMAND = f"python tests/test_mpmath_reference.py --record {MPMATH_RECORD}"
LITERAL_COMMAND = (
    f"python examples/literal_failures.py --trials 100 --seed 0 --record {LITERAL_RECORD}"
)

QUICK_CASES = ("n=6 zeros and negatives", "n=5 small kept 1e-6", "n=10 norm 1e3")
"""The mpmath cases of the quick versions: exact zeros, the worst literal and matrix errors
(``m = 1e-6``), the worst spectral and Cholesky errors (``||H|| = 1e3``)."""
QUICK_TRIALS = 20
"""Random matrices per setting in the quick version of ``examples/literal_failures.py``: enough
for Mode 2's literal steps over ``||g|| / 2`` to occur in it too."""
QUOTED_MODE1 = 3.5e-2
"""The relative error once quoted for Mode 1 at ``lam_min = 2e-15`` (docs/design.md, Deviations
made knowingly): a figure to place against the measurement, not a measurement."""
WIDTH = 100
"""Prose lines of the rendered sentences wrap at this width, as the page's."""
DIGITS = ("no", "one", "two", "three", "four", "five")
"""Digits lost, in words, as the page's prose has them."""


# ----------------------------------------------------------------------------- the two scripts


@contextlib.contextmanager
def _on_path(folder: str) -> Iterator[None]:
    """``folder`` first on ``sys.path`` for one import (``tests/strategies.py`` for mpmath)."""
    sys.path.insert(0, str(ROOT / folder))
    try:
        yield
    finally:
        sys.path.remove(str(ROOT / folder))


def _load(path: str, name: str) -> ModuleType:
    """The script at ``path`` as a module named ``name`` (its ``__main__`` block not run)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    with _on_path(path.rpartition("/")[0]):
        spec.loader.exec_module(module)
    return module


@cache
def _mpmath_reference() -> ModuleType:
    """``tests/test_mpmath_reference.py``."""
    return _load("tests/test_mpmath_reference.py", "math_tables_mpmath_reference")


@cache
def _literal_failures() -> ModuleType:
    """``examples/literal_failures.py``."""
    return _load("examples/literal_failures.py", "math_tables_literal_failures")


def _record(path: str) -> dict[str, Any]:
    return json.loads((ROOT / path).read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- formatting


def _e(x: float) -> str:
    """Two significant digits, as every measured cell of the page."""
    return f"{x:.1e}"


def _short(x: float) -> str:
    """A power of ten or a one-digit multiple of it, short: ``1e-6``, ``2e-15``, ``1``, ``1e3``."""
    mantissa, exponent = f"{x:.0e}".split("e")
    return mantissa if int(exponent) == 0 else f"{mantissa}e{int(exponent)}"


def _compact(x: float) -> str:
    """Two significant digits without the exponent's padding: ``3.5e-2``."""
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _paragraph(text: str) -> str:
    """``text`` wrapped at :data:`WIDTH`, never inside a code span or a link."""
    spans = r"`[^`]*`|\[[^\]]*\]\([^)]*\)"
    kept = re.sub(spans, lambda span: span.group().replace(" ", "\0"), text)
    lines = textwrap.wrap(kept, WIDTH, break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines).replace("\0", " ")


def _rows(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


# ----------------------------------------------------------------------------- section 2


ROUTES = (
    (
        "`spectral` (reference)",
        "one `eigh`, `−lr·Q φ(Λ) Qᵀ g`, `φ` computed as `1/(λ + 1/λ)` above 1 in magnitude "  # noqa: RUF001
        "(no overflow)",
        "`c·n·eps·(1 + L)`: `φ` is 1-Lipschitz, so `E` moves the step by `‖E‖·lr‖g‖`",
    ),
    (
        "`cholesky`",
        "Cholesky solve of `(I + H²) s = −lr·H g`",  # noqa: RUF001
        "`c·n·eps·(1 + L)²`: forming `H²` and factoring perturb `I + H²` by "
        "`n·eps·(1 + L²)`, and `‖(I + H²)⁻¹‖ ≤ 1`",
    ),
    (
        "`literal`",
        "`−lr·pinvh(H + pinvh(H)) g`, two cutoffs",  # noqa: RUF001
        "away from the cutoff band: `c·n·eps·(1 + L + 1/m)`: the dense sum `H + H⁺` is rounded "
        "at the scale `‖H⁺‖ = 1/m`; near the band: unbounded (§3)",
    ),
)
"""Each route's name, what it computes and its error bound: definitions, not measurements (in
the page's notation, whose minus sign is U+2212)."""
GROWS_WITH = {
    "spectral": ("norm", "‖H‖"),
    "cholesky": ("norm", "‖H‖"),
    "literal": ("min_kept", "m"),
}
"""The quantity of a case that each route's bound grows with (``L`` or ``1/m``), and its name."""


def _worst_case(cases: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The case with the largest error ``key`` (the first of equals)."""
    return max(cases, key=lambda case: case["errors"][key])


def _measured_cell(cases: list[dict[str, Any]], route: str) -> str:
    case = _worst_case(cases, route)
    field, name = GROWS_WITH[route]
    return f"{_e(case['errors'][route])} (`{name} = {_short(case[field])}`, n = {case['n']})"


def _cholesky_sentence(cases: list[dict[str, Any]]) -> str:
    """The Cholesky route against the spectral route where it is worst."""
    case = _worst_case(cases, "cholesky")
    cholesky, spectral = case["errors"]["cholesky"], case["errors"]["spectral"]
    lost = max(0, round(math.log10(cholesky / spectral)))
    return _paragraph(
        "The Cholesky route needs no eigendecomposition and is accurate while `‖H‖` is "
        f"moderate; at `‖H‖ = {_short(case['norm'])}` it has lost "
        f"{DIGITS[lost] if lost < len(DIGITS) else lost} digits against the spectral route "
        f"({_e(cholesky)} against {_e(spectral)}), and at `‖H‖ ≳ 1/√(n·eps) ≈ 1e7` its bound "
        "allows none (the `I` in `I + H²` is then below the rounding of `H²`)."
    )


def render_routes() -> str:
    """Section 2: the routes, with each one's worst step error against mpmath."""
    cases = _record(MPMATH_RECORD)["cases"]
    measured = f"measured worst vs mpmath ({len(cases)} cases, n ≤ {max(c['n'] for c in cases)})"
    head = ["route", "computes", "error bound (relative to `lr·‖g‖`)", measured]
    rows = [
        [*route, _measured_cell(cases, key)]
        for route, key in zip(ROUTES, ("spectral", "cholesky", "literal"), strict=True)
    ]
    return "\n".join([*_rows(head, rows), "", _cholesky_sentence(cases)])


# ----------------------------------------------------------------------------- section 3


def _literal_cells(row: dict[str, Any], bold_failures: bool) -> list[str]:
    worst = _e(row["worst"]["literal"])
    if bold_failures and row["failures"]:
        worst = f"**{worst}**"
    return [
        _short(row["parameter"]),
        f"{_e(row['median']['literal'])} / {worst}",
        _e(row["worst"]["spectral"]),
        _e(row["worst"]["cholesky"]),
    ]


def _placed(value: float, low: float, high: float) -> str:
    if value < low:
        return "lies below the median"
    return "lies between the median and the worst" if value <= high else "lies above the worst"


def _mode1_sentence(record: dict[str, Any]) -> str:
    """``eps/lam_min`` and the quoted figure against the smallest ``lam_min``'s errors."""
    row = min(record["tiny_eigenvalue"], key=lambda r: r["parameter"])
    median, worst = row["median"]["literal"], row["worst"]["literal"]
    return _paragraph(
        f"(`eps/λ_min = {record['eps'] / row['parameter']:.2g}` at "
        f"`λ_min = {_short(row['parameter'])}`; the rough figure of {_compact(QUOTED_MODE1)} "
        f"sometimes quoted for this case {_placed(QUOTED_MODE1, median, worst)}, see "
        "[design.md, Deviations made knowingly](design.md#deviations-made-knowingly).)"
    )


def render_mode1() -> str:
    """Section 3, Mode 1: the step's relative error against ``lam_min``, per route."""
    record = _record(LITERAL_RECORD)
    head = ["`λ_min`", "literal: median / worst relative error", "spectral worst", "cholesky worst"]
    rows = [_literal_cells(row, bold_failures=False) for row in record["tiny_eigenvalue"]]
    return "\n".join([*_rows(head, rows), "", _mode1_sentence(record)])


def render_mode2() -> str:
    """Section 3, Mode 2: ``||s|| / ||g||`` against ``||H||``; a literal step over 1/2 in bold."""
    head = [
        "`‖H‖`",
        "literal: median / worst `‖s‖/‖g‖`",
        "spectral worst",
        "cholesky worst",
        "literal steps with `‖s‖ > ‖g‖/2`",
    ]
    rows = [
        [*_literal_cells(row, bold_failures=True), f"{row['failures']}/{row['trials']}"]
        for row in _record(LITERAL_RECORD)["dropped_then_inverted"]
    ]
    return "\n".join(_rows(head, rows))


# ----------------------------------------------------------------------------- section 7


def _matrix_clause(cases: list[dict[str, Any]]) -> str:
    """``Hc`` and ``H⁺`` at their worst, with the ``L/m`` that explains them."""
    hc, pinv = _worst_case(cases, "hc"), _worst_case(cases, "pinv")
    explained = (
        "the inherent conditioning of the pseudo-inverse, reached by any backward-stable method"
    )
    if hc is pinv:
        ratio = _short(hc["norm"] / hc["min_kept"])
        return (
            f"`Hc` {_e(hc['errors']['hc'])}, `H⁺` {_e(pinv['errors']['pinv'])} (both "
            f"`≈ eps·cond = eps·L/m` with `L/m = {ratio}`: {explained})"
        )
    return (
        f"`Hc` {_e(hc['errors']['hc'])} (`L/m = {_short(hc['norm'] / hc['min_kept'])}`), "
        f"`H⁺` {_e(pinv['errors']['pinv'])} (`L/m = {_short(pinv['norm'] / pinv['min_kept'])}`)"
        f" (both `≈ eps·cond = eps·L/m`: {explained})"
    )


def _bounds_sentence(cases: list[dict[str, Any]]) -> str:
    above = [
        f"{case['name']} ({key})"
        for case in cases
        for key, error in case["errors"].items()
        if error > case["bounds"][key]
    ]
    if above:
        return "These entries exceed the bound they are asserted against: " + ", ".join(above)
    return (
        "Every entry is below the bound it is asserted against "
        "(`√n·c·n·eps·max(1, L/m)` for the matrices, the table of §2 for the steps)."
    )


def _worst_sentence(cases: list[dict[str, Any]]) -> str:
    spectral, cholesky, literal = (
        _worst_case(cases, key) for key in ("spectral", "cholesky", "literal")
    )
    return _paragraph(
        f"Worst: {_matrix_clause(cases)}, "
        f"step spectral {_e(spectral['errors']['spectral'])}, "
        f"step cholesky {_e(cholesky['errors']['cholesky'])} "
        f"(at `‖H‖ = {_short(cholesky['norm'])}`; its bound grows like `‖H‖²`, §2), "
        f"step literal {_e(literal['errors']['literal'])} "
        f"(at `m = {_short(literal['min_kept'])}`; it grows like `eps/m`, Mode 1 of §3). "
        + _bounds_sentence(cases)
    )


def render_mpmath() -> str:
    """Section 7: every case's errors (the script's own table) and the worst of each."""
    record = _record(MPMATH_RECORD)
    table = _mpmath_reference().markdown_table(record)
    return "\n".join([table, "", _worst_sentence(record["cases"])])


# ----------------------------------------------------------------------------- quick versions


@cache
def _quick_mpmath() -> dict[str, dict[str, float]]:
    """The errors of :data:`QUICK_CASES`, measured as the full command measures them."""
    reference = _mpmath_reference()
    chosen = [case for case in reference.CASES if case.name in QUICK_CASES]
    if len(chosen) != len(QUICK_CASES):
        known = {case.name for case in reference.CASES}
        missing = [name for name in QUICK_CASES if name not in known]
        raise ValueError(f"QUICK_CASES names no case of the mpmath reference: {missing}")
    record = reference.record_of([(case, reference.measure(case)) for case in chosen])
    return {case["name"]: case["errors"] for case in record["cases"]}


def quick_routes() -> dict[str, Any]:
    """The step errors of each quick case (the routes table's column)."""
    steps = ("spectral", "cholesky", "literal")
    return {name: {k: e[k] for k in steps} for name, e in _quick_mpmath().items()}


def quick_mpmath() -> dict[str, Any]:
    """Every error of each quick case (section 7's columns)."""
    return _quick_mpmath()


@cache
def _quick_literal() -> dict[str, Any]:
    """Both failure sweeps with :data:`QUICK_TRIALS` matrices per setting, seed 0."""
    script = _literal_failures()
    rows = script.measure(trials=QUICK_TRIALS, seed=0)
    return script.record_of(rows, trials=QUICK_TRIALS, seed=0)


def quick_mode(mode: str) -> dict[str, Any]:
    """The rows of one failure mode (``tiny_eigenvalue`` or ``dropped_then_inverted``)."""
    return {"trials": QUICK_TRIALS, "rows": _quick_literal()[mode]}


TABLES = [
    Table(
        id="math-routes",
        page="docs/math.md",
        command=MPMATH_COMMAND,
        record=(MPMATH_RECORD,),
        render=render_routes,
        quick=quick_routes,
    ),
    Table(
        id="math-literal-mode1",
        page="docs/math.md",
        command=LITERAL_COMMAND,
        record=(LITERAL_RECORD,),
        render=render_mode1,
        quick=lambda: quick_mode("tiny_eigenvalue"),
    ),
    Table(
        id="math-literal-mode2",
        page="docs/math.md",
        command=LITERAL_COMMAND,
        record=(LITERAL_RECORD,),
        render=render_mode2,
        quick=lambda: quick_mode("dropped_then_inverted"),
    ),
    Table(
        id="math-mpmath",
        page="docs/math.md",
        command=MPMATH_COMMAND,
        record=(MPMATH_RECORD,),
        render=render_mpmath,
        quick=quick_mpmath,
    ),
]
