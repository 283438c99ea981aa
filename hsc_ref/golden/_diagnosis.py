"""Diagnoses of failed golden outputs: the chain of quantities, and the likely cause.

The outputs of a case form a chain: Gram matrices, loss, gradient, Hessian, spectrum (and
rank), ``H^+``, ``Hc``, steps. :func:`depends_on` says which failure follows from which, so
that a report names the earliest failing quantity first. :func:`diagnose` names the
pattern of one failed output, recomputing from the case's own reference data and using what
the whole result set says (:func:`set_evidence`):

- a sign flip, or a constant factor with its value and what it matches, matched to the
  output's own tolerance and only where the factor can act (``lr`` and a doubled step for
  steps, told apart by the set's other cases; the batch size, the number of outputs, the
  1/2 squared-error convention for losses; ``1/||g||`` of a clipped gradient; a Gram-matrix
  or style-loss convention, ...);
- a known loss variant re-evaluated from the inputs at the checked precision (weights loaded
  without ``W = weight.T``, the minimax generator loss, ``log(1 + exp(t))``, BCE through
  sigmoid probabilities, PyTorch's ``BCELoss`` clamp, ``F.softplus``'s threshold; variants
  that agree on one loss told apart by the set's others), or PyTorch's parameter order;
- a symmetrized game Jacobian, singular values reported as eigenvalues, a reversed order;
- a pseudo-inverse that is another function of ``H``: a ridge inverse, the negative
  eigenvalues dropped, ``1/|lam|``, other eigenvectors (``Q.T`` for ``Q``);
- eigenvalues kept or dropped by a pseudo-inverse, with the cutoff range they imply and the
  library defaults in that range;
- a Newton step, or ``Hc`` applied instead of inverted;
- non-finite values, blamed on the first stage of the chain where they appear;
- differences at float32 rounding, only when the whole set's errors say float32;
- otherwise :data:`NO_KNOWN_CAUSE`, and :func:`reproduction` gives the lines to look closer.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hsc_ref.golden._variants import loss_variants
from hsc_ref.golden.cases import PRECISIONS, RTOL_FACTOR, GoldenCase, cutoff_keywords, eps_of
from hsc_ref.layout import torch_parameter_order

__all__ = [
    "STAGES",
    "NO_KNOWN_CAUSE",
    "Failure",
    "SetEvidence",
    "stage_of",
    "depends_on",
    "set_evidence",
    "float32_visible",
    "diagnose",
    "reproduction",
    "cutoff_policy_lines",
]

STAGES: dict[str, int] = {
    "gram": 0,
    "style_gram": 0,
    "layer_loss": 1,
    "loss": 1,
    "grad": 2,
    "hessian": 3,
    "jacobian": 3,
    "eigenvalues": 4,
    "rank": 5,
    "pinv": 5,
    "hc": 6,
    "step": 7,
    "step_cholesky": 7,
    "step_literal": 7,
}
"""Position of each output (by base name) in the chain, earliest first."""

_PARENTS: dict[str, tuple[str, ...]] = {
    "layer_loss": ("gram", "style_gram"),
    "loss": ("gram", "style_gram", "layer_loss"),
    "grad": ("loss",),
    "hessian": ("grad",),
    "jacobian": ("grad",),
    "eigenvalues": ("hessian",),
    "rank": ("eigenvalues",),
    "pinv": ("eigenvalues",),
    "hc": ("pinv",),
    "step": ("hessian",),
    "step_cholesky": ("hessian",),
    "step_literal": ("hc",),
}


def _split(output: str) -> tuple[str, str]:
    """``(base, suffix)``: ``"hc_g" -> ("hc", "_g")``, ``"gram_1" -> ("gram", "")``."""
    suffix = output[-2:] if output[-2:] in ("_g", "_d") else ""
    base = output[: len(output) - len(suffix)]
    head, _, tail = base.rpartition("_")
    return (head if tail.isdigit() and head else base), suffix


def stage_of(output: str) -> int:
    """Position of ``output`` in the chain (unknown outputs come last).

    Examples
    --------
    >>> stage_of("loss_g") < stage_of("hessian_g") < stage_of("step_g")
    True
    """
    return STAGES.get(_split(output)[0], len(STAGES))


def _ancestors(base: str) -> set[str]:
    seen: set[str] = set()
    todo = list(_PARENTS.get(base, ()))
    while todo:
        parent = todo.pop()
        if parent not in seen:
            seen.add(parent)
            todo += _PARENTS.get(parent, ())
    return seen


def depends_on(output: str, other: str) -> bool:
    """Whether ``output`` is computed from ``other`` (so a failure of ``other`` explains it).

    Examples
    --------
    >>> depends_on("hc", "loss"), depends_on("step", "pinv"), depends_on("jacobian", "grad_d")
    (True, False, True)
    """
    base, suffix = _split(output)
    other_base, other_suffix = _split(other)
    same_chain = other_suffix == suffix or (base == "jacobian" and other_suffix != "")
    return same_chain and other_base in _ancestors(base)


# --------------------------------------------------------------------------- cutoff policy


def _fmt_rtol(rtol: float) -> str:
    return repr(float(rtol))


def _players(case: GoldenCase) -> list[str]:
    return [s for s in ("", "_g", "_d") if f"eigenvalues{s}" in case.outputs]


def cutoff_policy_lines(cases: Iterable[GoldenCase], precision: str) -> list[str]:
    """The golden cutoff of every matrix of ``cases`` at ``precision``, with its keywords.

    Examples
    --------
    >>> from hsc_ref.golden.cases import build_case
    >>> lines = cutoff_policy_lines([build_case("matrix_spd")], "float32")
    >>> lines[1]
    '- n = 10 (matrix_spd): rtol = 0.00011920928955078125'
    """
    by_n: dict[int, list[str]] = {}
    for case in cases:
        for suffix in _players(case):
            n = int(case.outputs[f"eigenvalues{suffix}"].shape[0])
            label = case.name + (
                f" ({'generator' if suffix == '_g' else 'discriminator'})" if suffix else ""
            )
            by_n.setdefault(n, []).append(label)
    if not by_n:
        return []
    eps = eps_of(precision)
    lines = [
        f"Cutoff policy of every pseudo-inverse, rank, Hc and literal step (checked at "
        f"{precision}): keep |lam| > atol + rtol * max|lam| with atol = 0 and rtol = "
        f"{RTOL_FACTOR:g} * n * eps = {RTOL_FACTOR:g} * n * {eps!r}, n the order of the matrix "
        f"(each GAN player's own). hsc_ref's correct() and hsc_step() default to SciPy's "
        f"n * eps and library defaults differ: pass it explicitly:"
    ]
    for n, labels in sorted(by_n.items()):
        rtol = RTOL_FACTOR * n * eps
        lines.append(f"- n = {n} ({', '.join(labels)}): rtol = {_fmt_rtol(rtol)}")
    n0 = next(iter(by_n))  # the first checked case's n
    calls = cutoff_keywords(RTOL_FACTOR * n0 * eps)
    lines.append(f"  e.g. for n = {n0}: {'; '.join(calls.values())}")
    return lines


# --------------------------------------------------------------------------- context


def _suffix(output: str) -> str:
    return _split(output)[1]


def _reference_h(case: GoldenCase, suffix: str) -> np.ndarray | None:
    if "H" in case.inputs and not suffix:
        h = np.asarray(case.inputs["H"], dtype=np.float64)
    elif f"hessian{suffix}" in case.outputs:
        h = np.asarray(case.outputs[f"hessian{suffix}"], dtype=np.float64)
    else:
        return None
    return 0.5 * (h + h.T)


def _reference_g(case: GoldenCase, suffix: str) -> np.ndarray | None:
    if "g" in case.inputs and not suffix:
        return np.asarray(case.inputs["g"], dtype=np.float64)
    g = case.outputs.get(f"grad{suffix}")
    return None if g is None else np.asarray(g, dtype=np.float64)


def _game_n(case: GoldenCase) -> int | None:
    if "eigenvalues_g" in case.outputs and "eigenvalues_d" in case.outputs:
        return int(case.outputs["eigenvalues_g"].shape[0] + case.outputs["eigenvalues_d"].shape[0])
    return None


# --------------------------------------------------------------------------- set evidence

FLOAT32_SHARE = 0.5
"""Share of a set's float32-visible compared outputs (:func:`float32_visible`) that must fail
within their float32 tolerance (and not their float64 one) before float32 rounding is named:
a float32 computation saved as float64 moves each of them by about its float32 rounding, far
more than its float64 tolerance, so it fails nearly all of them (the mutation suite's float32
mutant all but one); one wrong formula fails the few outputs computed from it (a ridge
pseudo-inverse about one in eight within float32, and others beyond). A test pins both."""

FLOAT32_BEYOND = 0.1
"""Largest share (of those within) of failures beyond their float32 tolerance that a float32
verdict tolerates: float32 rounding stays within the float32 tolerances by construction (the
clean float32 implementation uses under 4% of them), so more failures beyond them say that
something else is wrong."""

FACTOR_RESOLUTION_LIMIT = 1e-2
"""No constant factor is named when an output's relative tolerance exceeds 1%: a factor
known to within more than 1% cannot be told from a nearby value (2.00629 is not 2)."""

_STEPS = ("step", "step_cholesky", "step_literal")


@dataclass(frozen=True)
class Failure:
    """One failed output of a result set: its case, its name and the implementation's value.

    Attributes
    ----------
    case : GoldenCase
        The case the output belongs to.
    output : str
        The output's name (``"pinv_d"``).
    actual : array_like or None
        The implementation's value (None when missing).
    """

    case: GoldenCase
    output: str
    actual: Any

    @property
    def key(self) -> str:
        """``"<case>/<output>"``."""
        return f"{self.case.name}/{self.output}"


@dataclass(frozen=True)
class SetEvidence:
    """What a whole result set says about each of its failures (:func:`set_evidence`).

    Attributes
    ----------
    precision : str
        The precision the set was checked at.
    float32 : str
        Non-empty when the set's errors say float32 (:data:`FLOAT32_SHARE`): the counts.
    step_factors : tuple of (str, float, float, float)
        ``(key, lr, k, resolution)`` of every failed step that is a constant multiple ``k``
        of its reference: whether ``k`` follows ``lr`` from case to case tells the learning
        rate from a constant.
    loss_matches : mapping of str to frozenset of str
        Per failed loss, the known wrong losses (:mod:`~hsc_ref.golden._variants`) it equals;
        a loss that two of them give alike is told apart by the set's other losses.
    nonfinite : frozenset of str
        The result keys that hold a non-finite value.
    golden_dir, results : str
        Where the golden set and the results file lie, for the reproduction snippets.
    seed : int
        The golden set's seed (a snippet rebuilds a model case's reference from it).
    cutoff_rules : frozenset of str or None
        The keys of the known wrong cutoffs (:func:`_library_cutoffs`) that lie in the cutoff
        ranges implied by the most failed pseudo-inverses and ranks of the set (``None``: no
        known cutoff lies in any). One matrix leaves a wide range that holds several rules;
        the wrong rule explains the others too. Not all of them: a float32 computation
        inverts its own rounding noise of exact zeros, which no cutoff rule predicts.
    """

    precision: str = "float64"
    float32: str = ""
    step_factors: tuple[tuple[str, float, float, float], ...] = ()
    loss_matches: Mapping[str, frozenset[str]] = field(default_factory=dict)
    nonfinite: frozenset[str] = frozenset()
    golden_dir: str = "GOLDEN_DIR"
    results: str = "RESULTS.npz"
    seed: int = 0
    cutoff_rules: frozenset[str] | None = None


def _float_array(actual: Any, desired: Any) -> np.ndarray | None:
    """``actual`` as float64, or None when it is not a numeric array of the reference's shape."""
    if actual is None:
        return None
    raw = np.asarray(actual)
    if raw.dtype.hasobject or raw.dtype.kind not in "biuf" or raw.shape != np.shape(desired):
        return None
    return raw.astype(np.float64)


def _within(a: np.ndarray, d: np.ndarray, tol: Any) -> bool:
    return bool(np.all(np.abs(a - d) <= tol.atol + tol.rtol * np.abs(d)))


def _float32_row(case: GoldenCase, output: str, a: np.ndarray) -> bool:
    """Whether ``a`` is within ``output``'s float32 tolerance, and not far below its rounding."""
    if "float32" not in PRECISIONS or not np.isfinite(a).all():
        return False
    d = np.asarray(case.outputs[output], dtype=np.float64)
    tol32 = case.tolerances[output]["float32"]
    err = float(np.abs(a - d).max()) if a.size else 0.0
    return tol32.comparable and _within(a, d, tol32) and err >= 0.1 * eps_of("float32") * _scale(d)


def float32_visible(case: GoldenCase, output: str) -> bool:
    """Whether float32 rounding of ``output`` would fail its float64 tolerance.

    True for a floating output that is comparable at float32, with a nonzero reference whose
    float64 tolerance is below one float32 rounding of its scale: there a float32
    computation cannot pass. Integer outputs (the rank), exact zeros and outputs not
    comparable at float32 say nothing about float32.

    Examples
    --------
    >>> from hsc_ref.golden.cases import build_case
    >>> case = build_case("matrix_spd")
    >>> float32_visible(case, "step"), float32_visible(case, "rank")
    (True, False)
    """
    d = np.asarray(case.outputs[output])
    if d.dtype.kind != "f" or "float32" not in PRECISIONS:
        return False
    scale = _scale(d)
    tol32, tol64 = case.tolerances[output]["float32"], case.tolerances[output]["float64"]
    return (
        tol32.comparable
        and scale > 0
        and tol64.atol + tol64.rtol * scale < (eps_of("float32") * scale)
    )


def _float32_counts(arrays: Sequence[tuple[Failure, Any]]) -> tuple[int, int]:
    """How many failures lie within their float32 tolerance, and how many beyond it."""
    within = beyond = 0
    for failure, a in arrays:
        tol32 = failure.case.tolerances[failure.output]["float32"]
        if a is None or not np.isfinite(a).all():
            beyond += 1
        elif tol32.comparable:
            d = np.asarray(failure.case.outputs[failure.output], dtype=np.float64)
            within, beyond = (within + 1, beyond) if _within(a, d, tol32) else (within, beyond + 1)
    return within, beyond


def _float32_evidence(arrays: Sequence[tuple[Failure, Any]], visible: int, precision: str) -> str:
    if precision != "float64" or "float32" not in PRECISIONS:
        return ""
    within, beyond = _float32_counts(arrays)
    if not within or within < FLOAT32_SHARE * visible or beyond > FLOAT32_BEYOND * within:
        return ""
    return (
        f"{within} of the set's {visible} compared outputs that float32 rounding would fail "
        f"fail within their float32 tolerance, {beyond} beyond it"
    )


def set_evidence(
    failures: Sequence[Failure],
    compared: Sequence[tuple[GoldenCase, str]],
    precision: str,
    *,
    nonfinite: Iterable[str] = (),
    golden_dir: str = "GOLDEN_DIR",
    results: str = "RESULTS.npz",
    seed: int = 0,
) -> SetEvidence:
    """What the failed outputs of a whole result set say together.

    Parameters
    ----------
    failures : sequence of Failure
        The failed outputs of the set (downstream ones included: a float32 computation fails
        nearly every output, most of them downstream of an earlier one).
    compared : sequence of (GoldenCase, str)
        The outputs the check compared (passed or failed).
    precision : str
        The precision the set was checked at.
    nonfinite : iterable of str
        The result keys holding a non-finite value.
    golden_dir, results : str
        The paths the reproduction snippets load.
    seed : int
        The golden set's seed.

    Returns
    -------
    SetEvidence

    Examples
    --------
    >>> from hsc_ref.golden.cases import build_case
    >>> case = build_case("matrix_spd")
    >>> one = [Failure(case, "step", 2 * case.outputs["step"])]
    >>> compared = [(case, output) for output in case.outputs]
    >>> set_evidence(one, compared, precision="float64").step_factors[0][1:3]
    (0.5, 2.0)
    """
    arrays = [(f, _float_array(f.actual, f.case.outputs[f.output])) for f in failures]
    factors = []
    matches = {}
    rule_counts: dict[str, int] = {}
    for failure, a in arrays:
        if a is None or (not np.isfinite(a).all() and _split(failure.output)[0] != "loss"):
            continue
        base = _split(failure.output)[0]
        d = np.asarray(failure.case.outputs[failure.output], dtype=np.float64)
        if base in _STEPS:
            tol = failure.case.tolerances[failure.output][precision]
            found = _constant_factor(a, d, tol, precision)
            if found is not None:
                lr = float(failure.case.inputs.get("lr", 1.0))
                factors.append((failure.key, lr, *found))
        elif base == "loss":
            matches[failure.key] = _variant_matches(failure.case, failure.output, a, precision)
        elif base in ("pinv", "hc", "rank") and np.isfinite(a).all():
            found_range = _cutoff_range(failure.case, failure.output, a, precision)
            for key, _label in found_range[-1] if found_range is not None else ():
                rule_counts[key] = rule_counts.get(key, 0) + 1
    most = max(rule_counts.values(), default=0)
    rules = frozenset(k for k, count in rule_counts.items() if count == most) if most else None
    return SetEvidence(
        precision,
        _float32_evidence(arrays, sum(float32_visible(c, o) for c, o in compared), precision),
        tuple(factors),
        matches,
        frozenset(nonfinite),
        str(golden_dir),
        str(results),
        int(seed),
        rules,
    )


# --------------------------------------------------------------------------- patterns


def _float32_hint(case: GoldenCase, output: str, evidence: SetEvidence) -> str:
    tol64 = case.tolerances[output]["float64"]
    tol32 = case.tolerances[output]["float32"]
    return (
        f"differences at float32 rounding: the error is within this output's float32 "
        f"tolerance ({tol32.atol:.3g}) but not its float64 one ({tol64.atol:.3g}), and the "
        f"whole set says so ({evidence.float32}): the implementation computes (or reads an "
        f"input) in float32 and saves float64; compute in float64, or check a float32 "
        f"implementation with its own arrays (--precision float32)"
    )


def _scale(a: Any) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(np.abs(a).max()) if a.size else 0.0


def _resolution(tol: Any, d: np.ndarray, precision: str) -> float | None:
    """The relative accuracy to which a constant factor of ``d`` is known, or None.

    A correct implementation's value lies within the output's tolerance ``tau = atol + rtol
    |d|`` of the reference (that is what the tolerance bounds). An implementation that
    multiplies its own value by ``k`` gives ``a = k (d + e)``, ``|e| <= tau``: ``|a - k d| <=
    |k| tau``, and ``k`` read at the largest entry of ``d`` is off by at most ``tau / max|d|``
    relatively. So the factor is known to ``max(tau / max|d|, 4 eps)`` (the floor: the
    rounding of the ratio itself), and not at all past :data:`FACTOR_RESOLUTION_LIMIT`.
    """
    scale = _scale(d)
    if scale == 0:
        return None
    r = max((tol.atol + tol.rtol * scale) / scale, 4 * eps_of(precision))
    return r if r <= FACTOR_RESOLUTION_LIMIT else None


def _constant_factor(
    a: np.ndarray, d: np.ndarray, tol: Any, precision: str
) -> tuple[float, float] | None:
    """``(k, resolution)`` with ``a = k d`` within ``k`` times the output's tolerance, or None.

    The residual test allows twice the bound of :func:`_resolution` (the implementation's
    own error, and the error of ``k``), so a correct implementation scaled by ``k`` passes it
    and a value off by more than its tolerance at any entry does not.
    """
    r = _resolution(tol, d, precision)
    if r is None or a.shape != d.shape or a.size == 0:
        return None
    i = int(np.argmax(np.abs(d)))
    k = float(a.flat[i] / d.flat[i])
    if not math.isfinite(k) or k == 0:
        return None
    tau = np.maximum(tol.atol + tol.rtol * np.abs(d), 4 * eps_of(precision) * _scale(d))
    if np.any(np.abs(a - k * d) > 2 * abs(k) * tau) or abs(k - 1) <= 2 * r:
        return None
    return k, r


_HYPOTHESES: dict[str, Any] = {
    "lr": lambda lr: lr,
    "1/lr": lambda lr: 1 / lr,
    "2": lambda lr: 2.0,
    "1/2": lambda lr: 0.5,
}
"""Step factors that a whole set can confirm: each predicts a case's factor from its ``lr``."""


def _factor_candidates(case: GoldenCase, output: str) -> list[tuple[str, str, float]]:
    """``(hypothesis, description, value)`` of the factors a bug is likely to put into
    ``output``; ``hypothesis`` names an entry of :data:`_HYPOTHESES`, or is empty."""
    base, suffix = _split(output)
    lr = float(case.inputs["lr"]) if "lr" in case.inputs else 1.0
    out: list[tuple[str, str, float]] = []
    if base in _STEPS:
        if lr != 1:
            out.append(("lr", f"lr = {lr:g}: the learning rate applied twice", lr))
            out.append(("1/lr", f"1/lr = {1 / lr:g}: the learning rate left out", 1 / lr))
        out.append(
            (
                "2",
                "a constant factor 2 (a doubled step: e.g. the gradient accumulated twice into "
                ".grad or summed over two copies, or an extra 2 in the update)",
                2.0,
            )
        )
        out.append(
            (
                "1/2",
                "a constant factor 1/2 (a halved step: e.g. the gradient averaged over two "
                "copies, or an extra 0.5 in the update)",
                0.5,
            )
        )
    g = _reference_g(case, suffix)
    if g is not None and base in ("grad", *_STEPS):
        g_norm = float(np.linalg.norm(g))
        if g_norm > 1:
            out.append(
                (
                    "",
                    f"1/||g|| = {1 / g_norm:.6g}: the gradient clipped to norm 1 (||g|| = "
                    f"{g_norm:.6g}), as the article's loop clips the generator's gradient; the "
                    f"golden step uses the unclipped gradient",
                    1 / g_norm,
                )
            )
    batch = case.meta.get("batch")
    if batch and base in ("loss", "grad", "hessian", "jacobian"):
        out.append(
            (
                "",
                f"the batch size B = {batch}: a sum over the batch where the mean is pinned",
                batch,
            )
        )
        out.append(("", f"1/B = {1 / batch:g}: divided by the batch size once more", 1 / batch))
        if suffix == "_d" or base == "jacobian":
            out.append(
                (
                    "",
                    "1/2: one mean over the concatenated real and fake batch instead of the sum "
                    "of the two means (L_D = mean softplus(-r) + mean softplus(f)), or the "
                    "pix2pix/CycleGAN (L_real + L_fake) / 2",
                    0.5,
                )
            )
    layers = case.meta.get("layers")
    if layers and base in ("loss", "grad", "hessian"):
        outs = int(layers[-1][1])
        if outs > 1:
            out.append(("", f"{outs} = the number of outputs: a mean over the batch only", outs))
        out.append(
            (
                "",
                "1/2: the 1/2 convention of squared error (0.5 * mean (f - y)^2), where the "
                "golden loss is the plain mean",
                0.5,
            )
        )
    out += [("", name, value) for name, value in _style_factors(case, output)]
    return out


def _style_layer_shapes(case: GoldenCase) -> list[tuple[int, int]]:
    """``(C_l, M_l)`` of each layer of a style case."""
    shape = case.meta.get("image_shape")
    channels = case.meta.get("channels")
    if not shape or not channels:
        return []
    h, w = int(shape[0]), int(shape[1])
    shapes = []
    for i, c in enumerate(channels):
        if i > 0:
            h, w = h // 2, w // 2
        shapes.append((int(c), h * w))
    return shapes


def _style_factors(case: GoldenCase, output: str) -> list[tuple[str, float]]:
    from hsc_ref.style.loss import CONVENTIONS, convention_factor  # noqa: PLC0415

    base, _ = _split(output)
    shapes = _style_layer_shapes(case)
    if not shapes or base not in ("gram", "style_gram", "layer_loss", "loss"):
        return []
    out: list[tuple[str, float]] = []
    if base == "loss":
        out.append(
            (f"{len(shapes)} = the number of layers: a sum over layers, not the mean", len(shapes))
        )
        return out
    index = int(output.rsplit("_", 1)[1])
    c, m = shapes[index]
    pixels = int(case.meta["image_shape"][0]) * int(case.meta["image_shape"][1])
    if base in ("gram", "style_gram"):
        return [
            (
                f"1/(C M) = 1/{c * m}: G / (C M), the PyTorch tutorial's and jcjohnson's Gram "
                "normalization convention",
                1 / (c * m),
            ),
            (f"1/M = 1/{m}: G / M, the TensorFlow tutorial's Gram normalization convention", 1 / m),
            (f"1/C = 1/{c}: G / C", 1 / c),
        ]
    for name in sorted(CONVENTIONS):
        k = convention_factor(name, c, m, pixels)
        if k != 1:
            out.append((f"{k:.6g} = the {name} style-loss convention for C = {c}, M = {m}", k))
    return out


def _set_consistent(
    matches: list[tuple[str, str]], case: GoldenCase, evidence: SetEvidence
) -> tuple[list[tuple[str, str]], str]:
    """The step factors among ``matches`` that the set's other cases' steps follow too."""
    others = [f for f in evidence.step_factors if f[0].partition("/")[0] != case.name]
    if not others or not any(h in _HYPOTHESES for h, _ in matches):
        return matches, ""

    def follows(hypothesis: str) -> bool:
        predict = _HYPOTHESES[hypothesis]
        return all(abs(abs(k) / predict(lr) - 1) <= 2 * r for _, lr, k, r in others)

    kept = [(h, name) for h, name in matches if h not in _HYPOTHESES or follows(h)]
    if not kept:
        return matches, "; the other cases' steps do not follow it"
    lrs = sorted({lr for _, lr, _, _ in others} | {float(case.inputs.get("lr", 1.0))})
    if len(lrs) == 1:
        return kept, ""
    return kept, (
        f"; the failed steps of {len({f[0].partition('/')[0] for f in others})} other cases "
        f"follow it too (lr from {lrs[0]:g} to {lrs[-1]:g})"
    )


def _factor_hint(
    case: GoldenCase, output: str, a: np.ndarray, d: np.ndarray, evidence: SetEvidence
) -> str:
    precision = evidence.precision
    found = _constant_factor(a, d, case.tolerances[output][precision], precision)
    if found is None:
        return ""
    k, r = found
    if abs(k + 1) <= 2 * r:
        return (
            "actual = -reference everywhere: a sign flip (the step is s = -lr pinv(Hc) g, a "
            "descent direction for positive curvature; check the sign of the update and of the "
            "gradient)"
        )
    sign = "; the sign is flipped" if k < 0 else ""
    matches = [
        (hypothesis, name)
        for hypothesis, name, value in _factor_candidates(case, output)
        if abs(abs(k) / value - 1) <= 2 * r
    ]
    note = ""
    if _split(output)[0] in _STEPS and matches:
        matches, note = _set_consistent(matches, case, evidence)
    if a.size == 1 and not matches:
        return ""  # any two numbers differ by a factor: only a known one says something
    names = [name for _, name in matches]
    what = f"matches {' or '.join(names)}" if names else "matches no known convention"
    return (
        f"actual = {k:.6g} x reference everywhere (1/k = {1 / k:.6g}){sign}: a constant "
        f"factor; {what}{note}"
    )


def _permutation_hint(case: GoldenCase, output: str, a: np.ndarray, d: np.ndarray) -> str:
    layers = case.meta.get(f"layers{_suffix(output)}")
    if not layers or output not in case.meta.get("flat_outputs", ()) or a.shape != d.shape:
        return ""
    p = torch_parameter_order(layers)
    permuted = d[p] if d.ndim == 1 else d[np.ix_(p, p)]
    if np.allclose(a, permuted, rtol=1e-6, atol=1e-6 * max(_scale(d), 1e-300)):
        return (
            "it matches the reference in PyTorch's parameter order (nn.Linear weight (out, in) "
            "row-major): report it in hsc_ref's flat layout, W = weight.T row-major then b "
            "(hsc_ref.layout.torch_parameter_order gives the permutation)"
        )
    return ""


def _close(a: np.ndarray, b: np.ndarray, rel: float) -> bool:
    return a.shape == b.shape and float(np.abs(a - b).max()) <= rel * max(_scale(b), 1e-300)


def _structure_hint(output: str, a: np.ndarray, d: np.ndarray, precision: str) -> str:
    base, _ = _split(output)
    rel = 1e-6 if precision == "float64" else 1e-3
    if base == "jacobian" and a.ndim == 2 and a.shape[0] == a.shape[1]:
        if _close(a, 0.5 * (d + d.T), rel):
            return (
                "actual is the symmetric part (J + J^T)/2 of the game Jacobian: the Jacobian of "
                "the simultaneous gradient field is not symmetric; only the per-player Hessians "
                "are symmetrized"
            )
        if _close(a, d.T, rel):
            return "actual is the transposed game Jacobian: rows are the field (grad L_G, grad L_D)"
    if base == "eigenvalues" and a.ndim == 1:
        # without a negative eigenvalue |lam| is lam: the order is then all that differs
        if _close(a, d[::-1], rel):
            return (
                "actual is the reference in descending order: report eigenvalues ascending "
                "(eigh returns them ascending; an SVD's singular values come descending)"
            )
        negative = bool((d < -rel * _scale(d)).any())
        sorted_abs = np.sort(np.abs(d))
        if negative and (_close(a, sorted_abs, rel) or _close(a, sorted_abs[::-1], rel)):
            return (
                "actual equals |eigenvalues|: singular values reported as eigenvalues (an SVD "
                "loses the sign of negative curvature); use eigh"
            )
    return ""


@functools.lru_cache(maxsize=64)
def _variants_at(case: GoldenCase, precision: str) -> dict[str, dict[str, Any]]:
    return loss_variants(case, precision)


def _variant_matches(
    case: GoldenCase, output: str, a: np.ndarray, precision: str
) -> frozenset[str]:
    """The known wrong losses that ``a`` equals (and the reference does not)."""
    base, suffix = _split(output)
    if base != "loss" or a.shape != ():
        return frozenset()
    tol = case.tolerances[output][precision]
    value, reference = float(a), float(case.outputs[output])

    def close(x: float, y: float) -> bool:
        return abs(x - y) <= tol.atol + tol.rtol * abs(y)

    out = []
    for description, raw in _variants_at(case, precision).get(suffix, {}).items():
        variant = float(raw)
        if math.isfinite(value):
            if math.isfinite(variant) and not close(variant, reference) and close(value, variant):
                out.append(description)
        elif math.isnan(value) == math.isnan(variant) and (math.isnan(value) or value == variant):
            out.append(description)
    return frozenset(out)


def _variant_hint(case: GoldenCase, output: str, a: np.ndarray, evidence: SetEvidence) -> str:
    matches = _variant_matches(case, output, a, evidence.precision)
    if not matches:
        return ""
    key = f"{case.name}/{output}"
    chosen = set(matches)
    for other_key in sorted(evidence.loss_matches):
        common = chosen & evidence.loss_matches[other_key]
        if other_key != key and common:
            chosen = common  # another loss of the set tells them apart
    order = list(_variants_at(case, evidence.precision).get(_split(output)[1], {}))
    named = [d for d in order if d in chosen]
    same = " (the same value at these inputs)" if len(named) > 1 else ""
    verb = "equals" if math.isfinite(float(a)) else "is non-finite as"
    return f"the loss {verb} the reference model's loss with {', or with '.join(named)}{same}"


_WHAT = {
    "gram": "the Gram matrix",
    "style_gram": "the style Gram matrix",
    "layer_loss": "the layer loss",
    "loss": "the loss",
    "grad": "the gradient",
    "hessian": "the Hessian",
    "jacobian": "the game Jacobian",
    "eigenvalues": "the eigenvalues",
    "pinv": "the pseudo-inverse",
    "hc": "Hc",
    "rank": "the rank",
}


def _zero_eigenvalues(case: GoldenCase, suffix: str, precision: str, of_hc: bool) -> str:
    h = _reference_h(case, suffix)
    if h is None:
        return ""
    lam = np.linalg.eigvalsh(h)
    if of_hc:
        kept = np.abs(lam) > RTOL_FACTOR * lam.shape[0] * eps_of(precision) * np.abs(lam).max()
        lam = lam + np.where(kept, 1 / np.where(kept, lam, 1), 0)
    n, norm = lam.shape[0], float(np.abs(lam).max())
    cutoff = RTOL_FACTOR * n * eps_of(precision) * norm
    mags = np.sort(np.abs(lam))
    small, zeros = int((mags <= cutoff).sum()), int((lam == 0).sum())
    what = ("Hc" if of_hc else "H") + {"": "", "_g": "_G", "_d": "_D"}[suffix]
    if not small:
        return f"; {what} has no eigenvalue at or below the cutoff"
    exact = f", {zeros} of them exactly 0" if zeros else f", the smallest |lam| = {mags[0]:.3g}"
    counted = "1 eigenvalue" if small == 1 else f"{small} eigenvalues"
    return (
        f": {what} has {counted} at or below the cutoff {cutoff:.3g}{exact}: a "
        f"division by an eigenvalue before the cutoff is applied (1/lam is inf, mask / lam is "
        f"0/0 = NaN at an exact zero, and inf * 0 in Q diag(1/lam) Q^T is NaN); apply the "
        f"cutoff first: np.where(kept, 1 / np.where(kept, lam, 1), 0)"
    )


def _nonfinite_hint(case: GoldenCase, output: str, evidence: SetEvidence) -> str:
    """Non-finite values: blamed on the first stage of the chain where they appear."""
    base, suffix = _split(output)
    earlier = [
        o
        for o in sorted(case.outputs, key=lambda o: (stage_of(o), o))
        if depends_on(output, o) and f"{case.name}/{o}" not in evidence.nonfinite
    ]
    finite = f" ({', '.join(earlier)} finite)" if earlier and evidence.nonfinite else ""
    where = f"non-finite values first appear in {output}, {_WHAT.get(base, 'the step')}{finite}"
    logits = case.meta.get("max_abs_logit")
    if base in ("gram", "style_gram", "layer_loss", "loss", "grad", "hessian", "jacobian"):
        if logits is None or logits < 17:
            return f"{where}: an overflow, a log of 0 or a division by zero in the model"
        return (
            f"{where}: an overflow or a log of 0 (this case has discriminator logits up to "
            f"|t| = {logits:g}): softplus written as log(1 + exp(t)) overflows for t > 709 (88 "
            f"in float32), and BCE through sigmoid probabilities takes log(0) once sigmoid "
            f"rounds to 1 (t > 37; 17 in float32), and torch.logaddexp's second derivative is "
            f"NaN at t = -800 (torch 2.13); write softplus so that value and derivatives are "
            f"exact (logaddexp(0, t) in NumPy, F.softplus(t, threshold=40) in PyTorch) and BCE "
            f"with logits"
        )
    if base == "eigenvalues":
        return (
            f"{where}: the eigensolver returned non-finite eigenvalues of a finite Hessian (a "
            f"failed eigh, or a Hessian that is not the one reported)"
        )
    if base in ("pinv", "hc"):
        return where + _zero_eigenvalues(case, suffix, evidence.precision, of_hc=False)
    if base == "step_literal":
        return where + _zero_eigenvalues(case, suffix, evidence.precision, of_hc=True)
    return (
        f"{where}: lam / (1 + lam^2) is finite for every finite lam, so the step divides by "
        f"an eigenvalue, or a Cholesky solve failed"
    )


# --------------------------------------------------------------------------- spectral maps


def _reference_policy(case: GoldenCase, suffix: str) -> str:
    names = {"": "H", "_g": "H_G (generator)", "_d": "H_D (discriminator)"}
    entry = case.meta.get("cutoff_policy", {}).get(names[suffix], {})
    return str(entry.get("reference_policy", "float64"))


def _eigen(
    case: GoldenCase, suffix: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float] | None:
    """``(H, lam, Q, cutoff)`` of the reference matrix of a player, under its reference policy."""
    h = _reference_h(case, suffix)
    if h is None:
        return None
    lam, q = np.linalg.eigh(h)
    norm = float(np.abs(lam).max())
    if norm == 0:
        return None
    policy = _reference_policy(case, suffix)
    return h, lam, q, RTOL_FACTOR * lam.shape[0] * eps_of(policy) * norm


def _positive_rank_hint(case: GoldenCase, output: str, a: np.ndarray) -> str:
    """A rank that counts the positive eigenvalues only."""
    base, suffix = _split(output)
    eigen = _eigen(case, suffix) if base == "rank" and a.shape == () else None
    if eigen is None:
        return ""
    lam, cutoff = eigen[1], eigen[3]
    kept, positive = int((np.abs(lam) > cutoff).sum()), int((lam > cutoff).sum())
    if kept == positive or int(a) != positive:
        return ""
    return (
        f"the rank counts only the positive eigenvalues ({positive} of {kept} kept): the "
        f"negative eigenvalues dropped, the cutoff tests lam > cutoff where the policy keeps "
        f"|lam| > cutoff"
    )


def _spectral_map_hint(
    case: GoldenCase, output: str, a: np.ndarray, precision: str, *, cutoff_moved: bool = False
) -> str:
    """``pinv`` or ``hc`` that is another function of ``H`` than the golden pseudo-inverse.

    ``cutoff_moved``: the implementation kept another number of eigenvalues than the golden
    cutoff. Inverting ``|lam|`` and a ridge inverse keep the golden count, and near the cutoff
    a dropped eigenvalue changes the entries by little more than their tolerance, as a
    flipped sign or a fitted ridge does: those two rules are then not tried.
    """
    base, suffix = _split(output)
    eigen = _eigen(case, suffix) if base in ("pinv", "hc") else None
    if eigen is None or a.shape != eigen[0].shape:
        return ""
    h, lam, q, cutoff = eigen
    kept = np.abs(lam) > cutoff
    positive = lam > cutoff
    tol = case.tolerances[output][precision]
    part = 0.5 * (a + a.T) - (h if base == "hc" else 0.0)

    def fits(values: np.ndarray) -> bool:
        ref = (q * values) @ q.T
        full = ref + (h if base == "hc" else 0.0)
        return bool(np.all(np.abs(part - ref) <= 2 * (tol.atol + tol.rtol * np.abs(full))))

    inv = np.where(kept, 1 / np.where(kept, lam, 1), 0.0)
    # what a change of one eigenvalue's inverse must exceed to be seen through the tolerance
    bound = 2 * (tol.atol + tol.rtol * _scale(part))
    # a cutoff drops the smallest |lam| first: only a dropped negative eigenvalue larger than
    # a kept positive one, and visible, tells "negative ones dropped" from a cutoff
    negative = kept & ~positive
    telling = negative & (np.abs(lam) > np.abs(lam[positive]).min(initial=np.inf))
    telling &= np.abs(inv) > bound
    if telling.any() and fits(np.where(positive, inv, 0.0)):
        return (
            f"the negative eigenvalues dropped: actual is the pseudo-inverse of H's positive "
            f"part ({int(positive.sum())} of the {int(kept.sum())} kept eigenvalues, none of "
            f"its {int(negative.sum())} negative ones): the cutoff tests lam > cutoff "
            f"where the policy keeps |lam| > cutoff (negative curvature is not noise)"
        )
    # flipping the sign of a negative eigenvalue's inverse changes it by 2/|lam|
    flips = (negative & (2 * np.abs(inv) > bound)).any()
    if flips and not cutoff_moved and fits(np.abs(inv)):
        return (
            f"actual inverts |lam|: the {int(negative.sum())} negative eigenvalues come out "
            f"positive, as V diag(1/s) V^T from an SVD H = U diag(s) V^T gives (for a "
            f"symmetric H, U and V differ by the signs of the negative eigenvalues: pinv = "
            f"V diag(1/s) U^T)"
        )
    rayleigh = np.einsum("ij,ik,kj->j", q, part, q)
    usable = kept & (np.abs(rayleigh) > 0)
    if usable.any():
        # the smallest kept eigenvalue is damped the most: its shrink must be visible
        i = int(np.argmin(np.where(usable, np.abs(lam), np.inf)))
        delta = float(lam[i] / rayleigh[i] - lam[i] ** 2)
        shrunk = abs(rayleigh[i] - inv[i]) > bound
        if delta > 0 and shrunk and not cutoff_moved and fits(lam / (lam**2 + delta)):
            return (
                f"a ridge (Tikhonov) inverse (H^2 + delta I)^-1 H with delta = {delta:.3g} in "
                f"place of the pseudo-inverse: it shrinks each eigenvalue's inverse by lam^2 / "
                f"(lam^2 + delta) (by {delta / lam[i] ** 2:.3g} relatively at |lam| = "
                f"{abs(lam[i]):.3g}) and has no cutoff; the golden H^+ inverts the kept "
                f"eigenvalues exactly and drops the others"
            )
    # the tolerance is a 2-norm bound, so (Weyl) it bounds each eigenvalue's error too
    spectrum = np.sort(np.linalg.eigvalsh(part))
    if np.all(np.abs(spectrum - np.sort(inv)) <= bound) and not fits(inv):
        return (
            "actual has the reference's eigenvalues but other eigenvectors: Q.T used where Q "
            "belongs (Q^T diag(1/lam) Q for Q diag(1/lam) Q^T), or the eigenvectors read as "
            "rows; eigh returns them as the columns of Q"
        )
    return ""


# --------------------------------------------------------------------------- cutoff


def _implied_kept(
    output: str, a: np.ndarray, h: np.ndarray, lam: np.ndarray
) -> tuple[int, float] | None:
    """How many eigenvalues an implementation kept, and the smallest magnitude it inverted.

    A pseudo-inverse's nonzero eigenvalues are ``1 / mu`` for the kept eigenvalues ``mu`` of
    the implementation's own ``H``, so the eigenvalues of ``pinv`` (of ``hc - H``) give both
    without eigenvectors, which mix within clusters of tiny eigenvalues. An eigenvalue counts
    as inverted when ``|1/mu| >= 1 / (2 max|lam|)``, more than any dropped one's error.
    """
    base = _split(output)[0]
    mags = np.sort(np.abs(lam))[::-1]
    if base == "rank":
        if a.shape != () or not float(a).is_integer() or not 0 <= int(a) <= lam.shape[0]:
            return None
        k = int(a)
        return k, float(mags[k - 1]) if k else math.inf
    if a.shape != h.shape or base not in ("pinv", "hc"):
        return None
    part = 0.5 * (a + a.T) - (h if base == "hc" else 0.0)
    inv = np.abs(np.linalg.eigvalsh(part))
    inverted = inv[inv >= 0.5 / float(mags[0])]
    return int(inverted.size), float(1.0 / inverted.max()) if inverted.size else math.inf


def _library_cutoffs(
    case: GoldenCase, output: str, lam: np.ndarray, precision: str
) -> list[tuple[str, str, float]]:
    """``(key, label, cutoff)`` of the wrong cutoffs people use, for the spectrum ``lam``."""
    eps, n = eps_of(precision), lam.shape[0]
    mags = np.abs(lam)
    norm = float(mags.max())
    base, _ = _split(output)
    rtol = RTOL_FACTOR * n * eps
    out = [
        (
            "rcond_1e-15",
            "NumPy's pinv / torch.pinverse / CuPy's default rcond = 1e-15",
            1e-15 * norm,
        ),
        (
            "n_eps",
            "SciPy's pinv/pinvh and torch.linalg.pinv default rtol = n * eps",
            n * eps * norm,
        ),
        ("10_n_eps", "JAX's pinv default rtol = 10 * n * eps", 10 * n * eps * norm),
        (
            "absolute",
            f"an absolute cutoff atol = {RTOL_FACTOR:g} * n * eps that ignores ||H|| = {norm:.3g}",
            rtol,
        ),
        (
            "frobenius",
            "the golden rtol times ||H||_F (torch.linalg.norm(H)'s default, "
            f"{float(np.sqrt((mags**2).sum())) / norm:.3g} x max|lam| here) instead of max|lam|",
            rtol * float(np.sqrt((mags**2).sum())),
        ),
        (
            "trace",
            "the golden rtol times |trace H| instead of max|lam|",
            rtol * abs(float(lam.sum())),
        ),
        (
            "nuclear",
            "the golden rtol times sum |lam| (the nuclear norm) instead of max|lam|",
            rtol * float(mags.sum()),
        ),
    ]
    if base == "rank":
        out.append(
            (
                "rank_default",
                "NumPy/JAX/PyTorch matrix_rank's default tol = max|sigma| * n * eps",
                n * eps * norm,
            )
        )
    other = "float32" if precision == "float64" else "float64"
    out.append(
        (
            "other_eps",
            f"the {other} cutoff (eps of {other}) at {precision}",
            RTOL_FACTOR * n * eps_of(other) * norm,
        )
    )
    game_n = _game_n(case)
    if game_n and _suffix(output):
        out.append(
            (
                "game_n",
                f"the whole game's n = {game_n} instead of this player's own n = {n}",
                RTOL_FACTOR * game_n * eps * norm,
            )
        )
    return out


def _cutoff_range(case: GoldenCase, output: str, a: np.ndarray, precision: str):
    """What a failed pseudo-inverse or rank says of the implementation's cutoff, or ``None``.

    Returns ``(kept, golden, changed, smallest, low, high, cutoff, in_range)``: the count of
    eigenvalues it kept and the golden count, the magnitudes kept or dropped in between, the
    smallest magnitude it inverted, the range ``[low, high)`` its cutoff lies in, the golden
    cutoff, and the known wrong cutoffs ``(key, label)`` inside that range.
    """
    base, suffix = _split(output)
    h = _reference_h(case, suffix)
    if base not in ("pinv", "hc", "rank") or h is None:
        return None
    lam = np.linalg.eigvalsh(h)
    n, norm = lam.shape[0], float(np.abs(lam).max())
    implied = _implied_kept(output, np.asarray(a, dtype=np.float64), h, lam) if norm else None
    if implied is None:
        return None
    kept, smallest = implied
    cutoff = RTOL_FACTOR * n * eps_of(precision) * norm
    mags = np.sort(np.abs(lam))[::-1]
    golden = int((mags > cutoff).sum())
    if kept == golden:
        return None
    changed = mags[min(kept, golden) : max(kept, golden)]
    low = min(float(mags[kept]) if kept < n else 0.0, smallest)
    high = smallest
    in_range = [
        (key, label)
        for key, label, value in _library_cutoffs(case, output, lam, precision)
        if low <= value < high
    ]
    return kept, golden, changed, smallest, low, high, cutoff, in_range


def _cutoff_hint(
    case: GoldenCase, output: str, a: np.ndarray, precision: str, evidence: SetEvidence
) -> str:
    found = _cutoff_range(case, output, a, precision)
    if found is None:
        return ""
    kept, golden, changed, smallest, low, high, cutoff, in_range = found
    n = np.shape(_reference_h(case, _split(output)[1]))[0]
    verb = "kept" if kept > golden else "dropped"
    listed = ", ".join(f"{m:.3g} ({m / cutoff:.2g} x the cutoff)" for m in changed[:4])
    if kept > golden and not 0.5 <= smallest / max(float(changed[-1]), 1e-300) <= 2:
        listed += f" (the smallest inverted as {smallest:.3g}: its own rounding noise)"
    best = [(key, label) for key, label in in_range if key in (evidence.cutoff_rules or ())]
    in_range = best or in_range  # the rules that explain the most failed matrices of the set
    labels = [label for _key, label in in_range]
    matches = f"; that range holds {' and '.join(labels)}" if labels else ""
    return (
        f"eigenvalues kept or dropped near the cutoff: {kept} kept where the golden cutoff "
        f"keeps {golden}, so |lam| = {listed} {verb}; the implementation's cutoff lies in "
        f"[{low:.3g}, {high:.3g}) = [{low / cutoff:.3g}, {high / cutoff:.3g}) x the golden "
        f"cutoff {cutoff:.3g}{matches}. Pass the golden policy explicitly: "
        f"{'; '.join(cutoff_keywords(RTOL_FACTOR * n * eps_of(precision)).values())}"
    )


def _step_hint(case: GoldenCase, output: str, a: np.ndarray, precision: str) -> str:
    base, suffix = _split(output)
    h, g = _reference_h(case, suffix), _reference_g(case, suffix)
    if base not in ("step", "step_cholesky", "step_literal") or h is None or g is None:
        return ""
    lr = float(case.inputs.get("lr", 1.0))
    lam, q = np.linalg.eigh(h)
    n, norm = lam.shape[0], float(np.abs(lam).max())
    kept = np.abs(lam) > RTOL_FACTOR * n * eps_of("float64") * norm
    inv = np.where(kept, 1 / np.where(kept, lam, 1), 0.0)
    coeff = q.T @ g
    rel = 1e-6 if precision == "float64" else 1e-3
    candidates = {
        "the Newton step -lr pinv(H) g, not the HSC step -lr pinv(H + pinv(H)) g": inv,
        "-lr Hc g: Hc applied where its pseudo-inverse belongs": lam + inv,
        "-lr H g: a gradient-scaled step without any inverse": lam,
    }
    for name, values in candidates.items():
        if _close(a, -lr * (q @ (values * coeff)), rel):
            return f"actual equals {name}"
    return ""


# --------------------------------------------------------------------------- entry point

NO_KNOWN_CAUSE = "no known cause matches"
"""How a diagnosis begins when no rule explains a failure (a reproduction snippet follows)."""


def diagnose(
    case: GoldenCase,
    output: str,
    actual: Any,
    precision: str,
    evidence: SetEvidence | None = None,
) -> str:
    """The likely cause of a failed ``output`` of ``case``.

    Parameters
    ----------
    case : GoldenCase
        The case, with its reference outputs and inputs.
    output : str
        The failed output.
    actual : array_like or None
        The implementation's value.
    precision : str
        The precision the result set was checked at.
    evidence : SetEvidence, optional
        What the whole result set says (:func:`set_evidence`): float32 rounding is named only
        on its word, and a step's factor is told from the learning rate across cases.

    Returns
    -------
    str
        One or more causes, separated by ``"; "``; :data:`NO_KNOWN_CAUSE` and what to check
        when no rule applies; empty when ``actual`` is missing or not an array of the
        reference's shape.

    Raises
    ------
    ValueError
        When ``evidence`` is of a set checked at another precision.

    Examples
    --------
    >>> from hsc_ref.golden.cases import build_case
    >>> case = build_case("matrix_spd")
    >>> diagnose(case, "step", -case.outputs["step"], "float64")[:38]
    'actual = -reference everywhere: a sign'
    >>> diagnose(case, "pinv", case.outputs["pinv"] + 1e-9, "float64")[:22]
    'no known cause matches'
    """
    evidence = evidence if evidence is not None else SetEvidence(precision)
    if evidence.precision != precision:
        raise ValueError(
            f"evidence is of a set checked at {evidence.precision}, not at {precision}"
        )
    d = np.asarray(case.outputs[output], dtype=np.float64)
    a = _float_array(actual, d)
    if a is None:
        return ""
    if not np.isfinite(a).all():
        return _variant_hint(case, output, a, evidence) or _nonfinite_hint(case, output, evidence)
    variant = _variant_hint(case, output, a, evidence)
    if variant:
        return variant
    cutoff = _cutoff_hint(case, output, a, precision, evidence)
    spectral = _spectral_map_hint(
        case, output, a, precision, cutoff_moved=bool(cutoff)
    ) or _positive_rank_hint(case, output, a)
    hints: Sequence[str] = [
        _permutation_hint(case, output, a, d),
        _structure_hint(output, a, d, precision),
        _factor_hint(case, output, a, d, evidence),
        spectral,
        "" if spectral else cutoff,
        _step_hint(case, output, a, precision),
    ]
    found = [h for h in hints if h]
    if found:
        return "; ".join(found)
    if evidence.float32 and _float32_row(case, output, a):
        return _float32_hint(case, output, evidence)
    return _unrecognized_hint(case, output)


def _unrecognized_hint(case: GoldenCase, output: str) -> str:
    """No rule applies: say so, and where to look."""
    logits = case.meta.get("max_abs_logit")
    base = _split(output)[0]
    if base in ("loss", "grad", "hessian") and logits is not None and logits >= 20:
        return (
            f"{NO_KNOWN_CAUSE}; this case has discriminator logits up to |t| = {logits:.3g}, "
            f"where softplus written as log(1 + exp(t)), BCE through sigmoid probabilities or "
            f"PyTorch's F.softplus (linear above 20) lose digits: write softplus(t) = "
            f"logaddexp(0, t) and BCE with logits"
        )
    if base in ("gram", "style_gram", "layer_loss", "loss", "grad", "hessian", "jacobian"):
        return (
            f"{NO_KNOWN_CAUSE}: the function evaluated is not the reference one; check the "
            f"inputs, the flat layout and the conventions in the case's meta"
        )
    return (
        f"{NO_KNOWN_CAUSE}: {output} is not the reference's function of its inputs in any way "
        f"the checker recognizes; compare it entry by entry with the reproduction below"
    )


# --------------------------------------------------------------------------- reproduction

_SPECTRAL_REFERENCE = {
    "eigenvalues": "spectrum.eigenvalues",
    "pinv": "spectrum.pinv()",
    "hc": "correct(spectrum, 'hsc').matrix",
    "rank": "np.int64(spectrum.rank)",
    "step": "hsc_step(H, g, lr=lr, route='spectral')",
    "step_cholesky": "hsc_step(H, g, lr=lr, route='cholesky')",
    "step_literal": "hsc_step(H, g, lr=lr, route='literal', rtol=rtol)",
}


def reproduction(case: GoldenCase, output: str, evidence: SetEvidence) -> str:
    """Python lines that load ``output`` of ``case`` and the user's value, recompute the
    reference with hsc_ref's public API and compare them, worst entry first.

    Examples
    --------
    >>> from hsc_ref.golden.cases import build_case
    >>> snippet = reproduction(build_case("matrix_spd"), "pinv", SetEvidence())
    >>> print(snippet.splitlines()[4])
    case = read_golden('GOLDEN_DIR').cases['matrix_spd']
    """
    key = f"{case.name}/{output}"
    base, suffix = _split(output)
    lines = [
        "import numpy as np",
        "from hsc_ref import correct, decompose, hsc_step",
        "from hsc_ref.golden import build_case, load_results, read_golden",
        "from hsc_ref.golden.cases import cutoff_rtol",
        f"case = read_golden({evidence.golden_dir!r}).cases[{case.name!r}]",
        f"actual = np.asarray(load_results({evidence.results!r}, keys=[{key!r}])[{key!r}], "
        "dtype=np.float64)",
        f"desired = case.outputs[{output!r}]",
        f"tol = case.tolerances[{output!r}][{evidence.precision!r}]",
    ]
    h_source = "case.inputs['H']" if "H" in case.inputs and not suffix else None
    if h_source is None and f"hessian{suffix}" in case.outputs:
        h_source = f"case.outputs['hessian{suffix}']"
    g_source = (
        "case.inputs['g']" if "g" in case.inputs and not suffix else f"case.outputs['grad{suffix}']"
    )
    if base in _SPECTRAL_REFERENCE and h_source is not None:
        policy = _reference_policy(case, suffix)
        lines += [
            f"H = {h_source}  # the reference H (symmetric)",
            f"g, lr = {g_source}, float(case.inputs['lr'])",
            f"rtol = cutoff_rtol(H.shape[0], {policy!r})  # the golden cutoff policy",
            "spectrum = decompose(H, rtol=rtol)",
            f"reference = {_SPECTRAL_REFERENCE[base]}",
        ]
    else:
        lines.append(
            f"reference = build_case(case.name, {evidence.seed}).outputs"
            f"[{output!r}]  # rebuilt from the seed"
        )
    lines += [
        "assert np.array_equal(reference, desired) or np.allclose(reference, desired, "
        "rtol=0, atol=tol.atol)",
        "excess = np.abs(actual - desired) - (tol.atol + tol.rtol * np.abs(desired))",
        "worst = np.unravel_index(np.argmax(excess), np.shape(desired))",
        "print('worst entry', worst, 'actual', actual[worst], 'desired', desired[worst], "
        "'ratio', actual[worst] / desired[worst] if desired[worst] else None)",
        "print('max |actual - desired| =', np.abs(actual - desired).max(), 'tolerance', "
        "tol.atol, '+', tol.rtol, '|desired|:', tol.reason)",
    ]
    return "\n".join(lines)
