"""The likely cause of a conformance failure, read off the minimal example and a few probes.

Each rule compares the user's output with what a known mistake computes (the reference
reversed, negated, scaled, the Newton step, another kept set of eigenvalues) under the
output's own tolerance. A minimal example can fit several mistakes at once (``H = [[-1]]``
makes twice the HSC step equal to the Newton step), so the rules that fit are checked again
on probes: the example with ``H`` scaled by :data:`H_SCALE`, for steps with ``lr`` scaled by
:data:`LR_SCALE`, for eigenvalues with ``H`` shifted (:data:`EIGENVALUE_SHIFT`); a cause is
named only if it fits every probe on which the output fails. For a cutoff, one eigenvalue of
the example is moved along its eigenvector until the implementation's kept set changes, which
measures its cutoff as a multiple of the golden one; named cutoffs (``||H||_F`` scaling,
library defaults, factors) within :data:`CUTOFF_MATCH` of it are reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from hsc_ref import _tolerances
from hsc_ref.corrections import correct
from hsc_ref.spectral import decompose, golden_rtol
from hsc_ref.steps import hsc_step
from hsc_ref.testing import (
    Comparison,
    ReferenceOutput,
    _as_numpy,
    compare_arrays,
    reference_outputs,
)

__all__: list[str] = []

H_SCALE = 1.7
"""Factor of the probe ``H``: not a round number, so no eigenvalue shrinks to exactly 1."""

LR_SCALE = 0.6
"""Factor of the probe ``lr`` (steps only): separates factors of ``lr`` from constants."""

EIGENVALUE_SHIFT = 0.37
"""Shift of the eigenvalue probe ``H + 0.37 max|H| I``: a reversed order and a sign flip of a
spectrum symmetric about 0 (a minimal example's ``[-a, a]``) then differ."""

CUTOFF_MATCH = 0.03
"""Relative distance at which a named cutoff matches the measured one.

A correct implementation's eigenvalues are off by up to ``e_H = n eps ||H||``, 1% of the golden
cutoff ``100 n eps ||H||``; the measured cutoff is as uncertain, so 3% separates the named
cutoffs (x2, /2, ``||H||_F``-scaled with ``||H||_F >= 1.05 max|lam|``) without false matches.
"""

MEASURE_FLOOR = 0.05
"""Smallest cutoff, as a multiple of the golden one, that moving an eigenvalue can measure.

A correct implementation's eigenvalues are off by up to ``n eps ||H||``, 0.01 x the golden
cutoff: an eigenvalue moved below 5 times that is lost in rounding, and a cutoff below it is
reported as "below 0.05 x", with the named cutoffs that lie there.
"""

_CUTOFF_OUTPUTS = ("pinv", "hc", "rank", "step_literal")
_BISECTIONS = 40


@dataclass
class Failure:
    """The minimal failing example: inputs as ``fn`` received them, its output and reference."""

    H: np.ndarray | None
    g: np.ndarray | None
    lr: float | None
    actual: Any
    ref: ReferenceOutput | None
    comparison: Comparison | None
    error: str | None = None


class Probe(NamedTuple):
    """How to call the user's callable again on a probe."""

    fn: Callable[..., Any]
    convert: Callable[[np.ndarray], Any]
    output: str
    precision: str

    def run(self, H: np.ndarray, g: np.ndarray | None, lr: float | None) -> Any:
        """The callable's output on ``H`` (at the precision), as NumPy; None if it raises."""
        dtype = np.dtype(self.precision)
        H = np.asarray(H).astype(dtype)
        try:
            if g is None:
                return _as_numpy(self.fn(self.convert(H)))
            return _as_numpy(self.fn(self.convert(H), self.convert(g.astype(dtype)), lr))
        except Exception:  # a probe that raises tells nothing: the rules skip it
            return None


class Cause(NamedTuple):
    """A cause a rule recognizes: ``key`` identifies it across probes, ``text`` explains it.

    ``interval`` is, for a cutoff, the range ``[low, high)`` its cutoff lies in.
    """

    key: str
    text: str
    interval: tuple[float, float] | None = None


def diagnose(failure: Failure, probe: Probe) -> str:
    """The likely cause of ``failure``, or a sentence saying that no rule recognizes it."""
    causes = _causes(failure, probe.output, probe.precision)
    for example in _probes(failure, probe):
        if example.comparison is not None and not example.comparison.ok and causes:
            keys = {c.key for c in _causes(example, probe.output, probe.precision)}
            causes = [c for c in causes if c.key in keys]
    if not causes:
        excess = failure.comparison.worst_excess if failure.comparison else math.inf
        return (
            f"no rule recognizes the difference (ordering, sign, a constant factor, the Newton "
            f"step, -lr Hc g, the cutoff); the worst entry is {excess:.3g} x its tolerance: run "
            f"the reproduction and compare entry by entry"
        )
    texts = [_measured(c, failure, probe) if c.key == "cutoff" else c.text for c in causes]
    if len(texts) == 1:
        return texts[0]
    return "several causes fit this example: " + "; or ".join(texts)


def _probes(failure: Failure, probe: Probe) -> list[Failure]:
    """The example with ``H`` scaled and, for steps, with ``lr`` scaled, run through ``fn``."""
    h = failure.H.astype(np.float64)
    inputs = [(H_SCALE * h, failure.g, failure.lr)]
    if failure.g is not None:
        inputs.append((failure.H, failure.g, LR_SCALE * failure.lr))
    if probe.output == "eigenvalues":  # a shift tells a reversed order from a sign flip
        inputs.append((h + EIGENVALUE_SHIFT * np.abs(h).max() * np.eye(h.shape[0]), None, None))
    examples = []
    for h, g, lr in inputs:
        H = np.asarray(h).astype(np.dtype(probe.precision))
        ref = reference_outputs(H, g, 1.0 if lr is None else lr, dtype=probe.precision)
        ref = ref[probe.output]
        actual = probe.run(H, g, lr)
        comparison = ref.compare(actual) if actual is not None and ref.comparable else None
        examples.append(Failure(H, g, lr, actual, ref, comparison))
    return examples


# --------------------------------------------------------------------------- the rules


class _Seen(NamedTuple):
    output: str
    a: np.ndarray
    r: np.ndarray
    ref: ReferenceOutput
    failure: Failure
    precision: str


def _causes(failure: Failure, output: str, precision: str) -> list[Cause]:
    """Every cause whose mistake reproduces ``failure.actual`` within the tolerance."""
    a, r = np.asarray(failure.actual), np.asarray(failure.ref.value)
    if a.shape != r.shape:
        return [Cause("shape", f"shape: the output has shape {a.shape}, the reference {r.shape}")]
    if a.dtype.kind not in "biuf" or not np.isfinite(a).all():
        return [Cause("nonfinite", "non-finite values (NaN or inf) in the output")]
    seen = _Seen(
        output, a.astype(np.float64), r.astype(np.float64), failure.ref, failure, precision
    )
    rules = (_ordering, _sign, _steps, _cutoff, _factor)
    return [cause for rule in rules for cause in rule(seen)]


def _fits(actual: np.ndarray, candidate: np.ndarray, ref: ReferenceOutput, scale=1.0) -> bool:
    """``actual`` matches ``candidate`` within the output's tolerance (``atol`` x ``scale``)."""
    return compare_arrays(actual, candidate, rtol=ref.rtol, atol=ref.atol * scale).ok


def _norm(x: np.ndarray) -> float:
    return float(np.abs(x).max()) if x.size else 0.0


def _ordering(seen: _Seen) -> list[Cause]:
    if seen.output != "eigenvalues":
        return []
    a, r, ref = seen.a, seen.r, seen.ref
    found = []
    if _fits(a, r[::-1], ref):
        text = "eigenvalue ordering: descending; eigenvalues must be ascending (as eigh returns)"
        found.append(Cause("descending", text))
    elif _fits(np.sort(a), r, ref):
        found.append(Cause("unsorted", "eigenvalue ordering: the right values, not ascending"))
    magnitudes = np.sort(np.abs(r))
    if _fits(a, magnitudes, ref) or _fits(a, magnitudes[::-1], ref):
        text = "singular values |lam| reported as eigenvalues: their signs are lost"
        found.append(Cause("singular_values", text))
    return found


def _sign(seen: _Seen) -> list[Cause]:
    if np.any(seen.r != 0) and _fits(seen.a, -seen.r, seen.ref):
        return [Cause("sign", "sign: the output is -1 x the reference (a sign flipped)")]
    return []


def _steps(seen: _Seen) -> list[Cause]:
    """The Newton step and ``-lr Hc g`` in place of the HSC step."""
    if seen.output not in _tolerances.STEP_OUTPUTS:
        return []
    failure = seen.failure
    h, g, lr = failure.H.astype(np.float64), failure.g.astype(np.float64), failure.lr
    spectrum = decompose(h, rtol=golden_rtol(h.shape[0], seen.precision))
    candidates = {
        "newton": (
            "the Newton step -lr pinv(H) g, not the HSC step -lr pinv(H + pinv(H)) g",
            -lr * spectrum.solve(g),
        ),
        "hc_applied": (
            "-lr Hc g: Hc applied where its pseudo-inverse belongs",
            -lr * (correct(spectrum, "hsc").matrix @ g),
        ),
    }
    found = []
    for key, (text, value) in candidates.items():
        scale = max(1.0, _norm(value) / max(_norm(seen.r), 1e-300))  # its own size's bound
        if _fits(seen.a, value, seen.ref, scale):
            found.append(Cause(key, text))
    return found


def _factor(seen: _Seen) -> list[Cause]:
    r, a, failure = seen.r, seen.a, seen.failure
    rr = float(np.vdot(r, r))
    if rr == 0 or seen.output == "rank":
        return []
    k = float(np.vdot(r, a)) / rr
    if k in (0.0, 1.0, -1.0) or not _fits(a, k * r, seen.ref, abs(k)):  # -1: the sign rule
        return []
    n = failure.H.shape[0]
    named = [(2.0, "2", "2"), (0.5, "1/2", "1/2"), (float(n), "n", "n, the order of H")]
    if failure.lr is not None and failure.lr != 1:
        named += [
            (failure.lr, "lr", "lr: the learning rate applied twice"),
            (1 / failure.lr, "1/lr", "1/lr: the learning rate left out"),
        ]
    found = [  # every name that fits: the probes tell lr = 0.5 from a constant 1/2
        Cause(
            f"factor:{key}", f"a constant factor: the output is {k:.6g} x the reference = {label}"
        )
        for value, key, label in named
        if math.isclose(k, value, rel_tol=1e-4)
    ]
    text = f"a constant factor: the output is {k:.6g} x the reference (no named factor)"
    return found or [Cause(f"factor:{k:.4g}", text)]


# --------------------------------------------------------------------------- the cutoff


def _cutoff(seen: _Seen) -> list[Cause]:
    """Which kept set the output matches, and the cutoff range that kept set implies."""
    if seen.output not in _CUTOFF_OUTPUTS:
        return []
    boundary = _boundary(seen)
    if boundary is None:
        return []
    k, k0, low, high, gold = boundary
    direction = "too large" if k < k0 else "too small"
    text = (
        f"the cutoff: the output keeps {k} eigenvalues where the golden cutoff "
        f"100 * n * eps * max|lam| = {gold:.3g} keeps {k0}, so the implementation's cutoff is "
        f"{direction}: between {low / gold:.3g} and {high / gold:.3g} x the golden one"
    )
    return [Cause("cutoff", text, (low, high))]


def _boundary(seen: _Seen) -> tuple[int, int, float, float, float] | None:
    """``(k, k0, low, high, gold)``: kept counts of the output and the golden cutoff, and the
    interval ``[low, high)`` the output's cutoff lies in."""
    h = seen.failure.H.astype(np.float64)
    n = h.shape[0]
    mags = np.sort(np.abs(np.asarray(decompose(h).eigenvalues)))[::-1]
    scale = float(mags[0])
    if scale == 0:
        return None
    gold = golden_rtol(n, seen.precision) * scale
    k0 = int((mags > gold).sum())
    if seen.output == "rank":
        k = round(float(seen.a))
        k = k if 0 <= k <= n else None
    else:
        k = _matching_count(seen, mags)
    if k is None or k == k0:
        return None
    low = float(mags[k]) if k < n else 0.0  # dropped: |lam| <= cutoff
    high = float(mags[k - 1]) if k > 0 else math.inf  # kept: |lam| > cutoff
    return k, k0, low, high, gold


def _matching_count(seen: _Seen, mags: np.ndarray) -> int | None:
    """The number of kept eigenvalues whose output matches ``a`` far better than any other."""
    failure = seen.failure
    h = failure.H.astype(np.float64)
    errors = {}
    for k in range(mags.shape[0] + 1):
        try:
            value = _cutoff_output(seen.output, h, failure.g, failure.lr, _rtol_keeping(k, mags))
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            continue
        scale = _norm(value)
        errors[k] = _norm(seen.a - value) / scale if scale > 0 else _norm(seen.a)
    if not errors:
        return None
    best = min(errors, key=errors.get)
    others = [e for k, e in errors.items() if k != best]
    clear = not others or errors[best] <= 0.1 * min(others)
    return best if errors[best] <= 0.1 and clear else None


def _rtol_keeping(k: int, mags: np.ndarray) -> float:
    """An ``rtol`` that keeps exactly the ``k`` largest magnitudes (geometric midpoints)."""
    scale = float(mags[0])
    if k == 0:
        return 1.0
    if k == mags.shape[0] or mags[k] == 0:
        return float(mags[k - 1]) / scale / 2
    return math.sqrt(float(mags[k]) * float(mags[k - 1])) / scale


def _cutoff_output(output: str, h: np.ndarray, g: Any, lr: Any, rtol: float) -> np.ndarray:
    if output == "pinv":
        return decompose(h, rtol=rtol).pinv()
    if output == "hc":
        return correct(h, rtol=rtol).matrix
    return hsc_step(h, np.asarray(g, dtype=np.float64), lr=lr, route="literal", rtol=rtol)


def _measured(cause: Cause, failure: Failure, probe: Probe) -> str:
    """The cutoff cause, with the implementation's cutoff measured and named where possible."""
    h = failure.H.astype(np.float64)
    n = h.shape[0]
    spectrum = decompose(h)
    lam = np.asarray(spectrum.eigenvalues)
    scale = float(np.abs(lam).max())
    gold = golden_rtol(n, probe.precision) * scale
    q = np.asarray(spectrum.eigenvectors, dtype=np.float64)
    index = int(np.argmin(np.abs(np.log(np.maximum(np.abs(lam), 1e-300) / gold))))
    measured = None if probe.output == "step_literal" else _measure(lam, q, index, gold, probe)
    text = cause.text
    suspects = _cutoff_suspects(lam, n, probe.precision)
    if measured is not None and measured[0] > 0:
        factor = math.sqrt(measured[0] * measured[1])
        text += f"; measured by moving one eigenvalue: {factor:.4g} x the golden cutoff"
        named = _matching(suspects, factor, gold)
        if len(named) > 1:  # tell them apart on the spectrum with the bulk halved
            named = _disambiguate(named, lam, q, index, gold=gold, probe=probe)
        text += (
            ", which matches " + " and ".join(f"{k} ({v:.4g} x)" for k, v in named.items())
            if named
            else ", no named cutoff (library defaults, ||H||_F or trace scaling, x2, /2) matches it"
        )
    elif cause.interval is not None:  # not measurable: name what lies in the interval
        low, high = cause.interval
        if measured is not None:  # kept at the floor: below it
            high = min(high, MEASURE_FLOOR * gold)
            text += (
                f"; measured by moving one eigenvalue: below {MEASURE_FLOOR:g} x the golden "
                f"cutoff, within the rounding of eigenvalues, where it cannot be measured further"
            )
        named = [
            f"{label} ({value / gold:.3g} x)"
            for label, value in suspects.items()
            if low <= value < high
        ]
        if named:
            text += "; named cutoffs in that range: " + ", ".join(named)
    rtol = golden_rtol(n, probe.precision)
    return (
        f"{text}. Pass atol = 0, rtol = 100 * n * eps = {rtol!r}, e.g. torch.linalg.pinv(H, "
        f"atol=0.0, rtol=100 * H.shape[0] * torch.finfo(H.dtype).eps, hermitian=True) or "
        f"hsc_ref.correct(H, policy='golden')"
    )


def _matching(suspects: dict[str, float], factor: float, gold: float) -> dict[str, float]:
    """The named cutoffs within :data:`CUTOFF_MATCH` of ``factor`` x ``gold``, as factors."""
    return {
        label: value / gold
        for label, value in suspects.items()
        if abs(value / gold - factor) <= CUTOFF_MATCH * factor
    }


def _disambiguate(
    named: dict[str, float],
    lam: np.ndarray,
    q: np.ndarray,
    index: int,
    *,
    gold: float,
    probe: Probe,
) -> dict[str, float]:
    """Keep the named cutoffs that also match a second measurement, with the bulk halved.

    Halving every eigenvalue but the largest and the moved one keeps ``max|lam|`` (so the
    golden cutoff and its multiples) and changes ``||H||_F`` and the trace norm.
    """
    n = lam.shape[0]
    bulk = np.ones(n, dtype=bool)
    bulk[[index, int(np.argmax(np.abs(lam)))]] = False
    if not bulk.any():
        return named
    halved = np.where(bulk, 0.5 * lam, lam)
    again = _measure(halved, q, index, gold, probe)
    if again is None or again[0] == 0:
        return named
    second = _matching(
        _cutoff_suspects(halved, n, probe.precision), math.sqrt(again[0] * again[1]), gold
    )
    return {label: value for label, value in named.items() if label in second} or named


def _measure(
    lam: np.ndarray, q: np.ndarray, index: int, gold: float, probe: Probe
) -> tuple[float, float] | None:
    """Bracket the implementation's cutoff, in units of ``gold``, by bisection on one eigenvalue.

    Eigenvalue ``index`` of ``Q diag(lam) Q^T`` is moved to ``t * gold`` (its sign kept) along
    its own eigenvector; whether the implementation keeps it is read from the quadratic form
    of its output on that eigenvector (or, for a rank, from the count going up by one).
    Returns ``(t_dropped, t_kept)`` within 0.1%, ``(0, MEASURE_FLOOR)`` when the eigenvalue
    is kept even at :data:`MEASURE_FLOOR`, or None when it is not kept at ``0.5 ||H||``.
    """
    sign = -1.0 if lam[index] < 0 else 1.0
    top = float(np.abs(lam).max())

    def output_at(t: float) -> Any:
        values = lam.copy()
        values[index] = sign * t * gold
        h = (q * values) @ q.T
        return probe.run(0.5 * (h + h.T), None, None), values[index]

    lo, hi = MEASURE_FLOOR, 0.5 * top / gold
    base = None
    if probe.output == "rank":  # the rank with the moved eigenvalue at 0, dropped
        out, _ = output_at(0.0)
        base = None if out is None else int(np.rint(float(out)))

    def kept(t: float) -> bool | None:
        out, value = output_at(t)
        if out is None:
            return None
        if probe.output == "rank":
            return None if base is None else bool(int(np.rint(float(out))) > base)
        v = q[:, index]
        form = float(v @ np.asarray(out, dtype=np.float64) @ v)
        if probe.output == "hc":
            form -= value
        return bool(abs(form) > 0.5 / abs(float(value)))  # 1/lam when kept, 0 when dropped

    if hi <= lo or kept(hi) is not True:
        return None
    at_floor = kept(lo)
    if at_floor is None:
        return None
    if at_floor:  # kept at the floor: the cutoff is below what rounding lets one measure
        return 0.0, lo
    for _ in range(_BISECTIONS):
        mid = math.sqrt(lo * hi)
        state = kept(mid)
        if state is None:
            return None
        lo, hi = (lo, mid) if state else (mid, hi)
        if hi / lo < 1.001:
            break
    return lo, hi


def _cutoff_suspects(lam: Any, n: int, precision: str) -> dict[str, float]:
    """Cutoffs of common mistakes and library defaults, in absolute terms."""
    lam = np.asarray(lam)
    scale = float(np.abs(lam).max())
    eps = float(np.finfo(np.dtype(precision)).eps)
    other = "float32" if precision == "float64" else "float64"
    rtol = golden_rtol(n, precision)
    return {
        "a cutoff scaled by ||H||_F (torch.linalg.norm's default) instead of max|lam|": (
            rtol * float(np.sqrt(np.sum(lam**2)))
        ),
        "a cutoff scaled by the trace norm sum|lam| instead of max|lam|": (
            rtol * float(np.abs(lam).sum())
        ),
        "SciPy's and torch.linalg.pinv's default rtol = n * eps": n * eps * scale,
        "JAX's pinv default rtol = 10 * n * eps": 10 * n * eps * scale,
        "NumPy's pinv and torch.pinverse default rcond = 1e-15": 1e-15 * scale,
        f"the eps of {other} instead of {precision}'s": golden_rtol(n, other) * scale,
        "an absolute cutoff 100 * n * eps, not scaled by max|lam|": rtol,
        "2 x the golden cutoff": 2 * rtol * scale,
        "1/2 x the golden cutoff": 0.5 * rtol * scale,
    }
