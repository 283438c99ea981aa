"""Diagnoses of failed golden outputs: the chain of quantities, and the likely cause.

The outputs of a case form a chain: Gram matrices, loss, gradient, Hessian, spectrum (and
rank), ``H^+``, ``Hc``, steps. :func:`depends_on` says which failure follows from which, so
that a report names the earliest failing quantity first. :func:`diagnose` names the
pattern of one failed output, recomputing from the case's own reference data:

- differences at float32 rounding (within the float32 tolerance, not the float64 one);
- a sign flip, or a constant factor with its value and what it matches (``lr``, the batch
  size, ``1/||g||`` of a clipped gradient, a Gram-matrix or style-loss convention, ...);
- a known loss variant re-evaluated from the inputs (weights loaded without ``W =
  weight.T``, the minimax generator loss, PyTorch's ``BCELoss`` clamp, ``F.softplus``'s
  threshold), or PyTorch's parameter order;
- a symmetrized game Jacobian, singular values reported as eigenvalues, a reversed order;
- eigenvalues kept or dropped by a pseudo-inverse, with the cutoff range they imply and the
  library defaults in that range;
- a Newton step, or ``Hc`` applied instead of inverted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from hsc_ref.golden._variants import loss_variants
from hsc_ref.golden.cases import PRECISIONS, RTOL_FACTOR, GoldenCase, cutoff_keywords, eps_of
from hsc_ref.layout import torch_parameter_order

__all__ = ["STAGES", "stage_of", "depends_on", "diagnose", "cutoff_policy_lines"]

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


# --------------------------------------------------------------------------- patterns


def _float32_hint(case: GoldenCase, output: str, err: float, precision: str) -> str:
    if precision != "float64" or "float32" not in PRECISIONS:
        return ""
    tol64 = case.tolerances[output]["float64"]
    tol32 = case.tolerances[output]["float32"]
    scale = _scale(case.outputs[output])
    if not tol32.comparable or err > tol32.atol + tol32.rtol * scale:
        return ""
    if err <= tol64.atol + tol64.rtol * scale or err < 0.1 * eps_of("float32") * scale:
        return ""  # passes, or far below what float32 rounding leaves
    return (
        f"differences at float32 rounding: the error {err:.3g} is within this output's float32 "
        f"tolerance ({tol32.atol:.3g}) but not its float64 one ({tol64.atol:.3g}): the "
        f"implementation computes (or reads an input) in float32 and saves float64; compute "
        f"in float64, or check a float32 implementation with its own arrays (--precision float32)"
    )


def _scale(a: Any) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(np.abs(a).max()) if a.size else 0.0


def _constant_factor(a: np.ndarray, d: np.ndarray, rel: float) -> float | None:
    """``k`` with ``a = k d`` to relative accuracy ``rel`` (None if there is no such ``k``)."""
    scale = _scale(d)
    if scale == 0 or a.shape != d.shape:
        return None
    big = np.abs(d) > 1e-6 * scale
    k = float(np.median(a[big] / d[big]))
    if not math.isfinite(k) or k == 0:
        return None
    if float(np.abs(a - k * d).max()) > rel * abs(k) * scale:
        return None
    return None if abs(k - 1) <= 10 * rel else k


def _factor_candidates(case: GoldenCase, output: str) -> list[tuple[str, float]]:
    """Named factors a wrong implementation is likely to introduce into ``output``."""
    base, suffix = _split(output)
    lr = float(case.inputs["lr"]) if "lr" in case.inputs else 1.0
    out: list[tuple[str, float]] = []
    if lr != 1:
        out += [(f"lr = {lr:g}: the learning rate applied twice", lr)]
        out += [(f"1/lr = {1 / lr:g}: the learning rate left out", 1 / lr)]
    g = _reference_g(case, suffix)
    if g is not None and base in ("grad", "step", "step_cholesky", "step_literal"):
        g_norm = float(np.linalg.norm(g))
        if g_norm > 1:
            out.append(
                (
                    f"1/||g|| = {1 / g_norm:.6g}: the gradient clipped to norm 1 (||g|| = "
                    f"{g_norm:.6g}), as the article's loop clips the generator's gradient; the "
                    f"golden step uses the unclipped gradient",
                    1 / g_norm,
                )
            )
    batch = case.meta.get("batch")
    if batch and base in ("loss", "grad", "hessian", "jacobian"):
        out += [
            (f"the batch size B = {batch}: a sum over the batch where the mean is pinned", batch)
        ]
        out += [(f"1/B = {1 / batch:g}: divided by the batch size once more", 1 / batch)]
        if suffix == "_d" or base == "jacobian":
            out.append(
                (
                    "1/2: one mean over the concatenated real and fake batch instead of the sum "
                    "of the two means (L_D = mean softplus(-r) + mean softplus(f))",
                    0.5,
                )
            )
    layers = case.meta.get("layers")
    if layers and base in ("loss", "grad", "hessian"):
        outs = int(layers[-1][1])
        if outs > 1:
            out.append((f"{outs} = the number of outputs: a mean over the batch only", outs))
    out += _style_factors(case, output)
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


def _factor_hint(
    case: GoldenCase, output: str, a: np.ndarray, d: np.ndarray, precision: str
) -> str:
    rel = 1e-6 if precision == "float64" else 1e-3
    k = _constant_factor(a, d, rel)
    if k is None:
        return ""
    sign = "; the sign is flipped" if k < 0 else ""
    if abs(k + 1) <= 10 * rel:
        return (
            "actual = -reference everywhere: a sign flip (the step is s = -lr pinv(Hc) g, a "
            "descent direction for positive curvature; check the sign of the update and of the "
            "gradient)"
        )
    matches = [
        name
        for name, value in _factor_candidates(case, output)
        if abs(abs(k) / value - 1) <= 10 * rel
    ]
    if a.size == 1 and not matches:
        return ""  # any two numbers differ by a factor: only a known one says something
    what = f"matches {' or '.join(matches)}" if matches else "matches no known convention"
    return (
        f"actual = {k:.6g} x reference everywhere (1/k = {1 / k:.6g}){sign}: a constant "
        f"factor; {what}"
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
        if _close(a, np.sort(np.abs(d)), rel) or _close(a, np.sort(np.abs(d))[::-1], rel):
            return (
                "actual equals |eigenvalues|: singular values reported as eigenvalues (an SVD "
                "loses the sign of negative curvature); use eigh"
            )
        if _close(a, d[::-1], rel):
            return "actual is the reference in descending order: report eigenvalues ascending"
    return ""


def _variant_hint(case: GoldenCase, output: str, a: np.ndarray, precision: str) -> str:
    base, suffix = _split(output)
    if base != "loss" or a.shape != ():
        return ""
    tol = case.tolerances[output][precision]
    value, reference = float(a), float(case.outputs[output])

    def close(x: float, y: float) -> bool:
        return abs(x - y) <= tol.atol + tol.rtol * abs(y)

    for description, variant in loss_variants(case).get(suffix, {}).items():
        if math.isfinite(variant) and not close(variant, reference) and close(value, variant):
            return f"the loss equals the reference model's loss with {description}"
    return ""


def _nonfinite_hint(case: GoldenCase) -> str:
    logits = case.meta.get("max_abs_logit")
    if logits is None:
        return "non-finite values: an overflow, a division by zero or a failed solve"
    saturated = f" (this case has discriminator logits up to |t| = {logits:g})"
    return (
        f"non-finite values: an overflow or a log of 0{saturated}: softplus written as "
        f"log(1 + exp(t)) overflows for t > 709 (88 in float32), and BCE through sigmoid "
        f"probabilities takes log(0) once sigmoid rounds to 1 (t > 37; 17 in float32), and "
        f"torch.logaddexp's second derivative is NaN at t = -800 (torch 2.13); write softplus "
        f"so that value and derivatives are exact (logaddexp(0, t) in NumPy, "
        f"F.softplus(t, threshold=40) in PyTorch) and BCE with logits"
    )


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


def _library_cutoffs(case: GoldenCase, output: str, n: int, norm: float, precision: str):
    eps = eps_of(precision)
    base, _ = _split(output)
    out = [
        ("NumPy's pinv / torch.pinverse / CuPy's default rcond = 1e-15", 1e-15 * norm),
        ("SciPy's pinv/pinvh and torch.linalg.pinv default rtol = n * eps", n * eps * norm),
        ("JAX's pinv default rtol = 10 * n * eps", 10 * n * eps * norm),
        (
            f"an absolute cutoff atol = {RTOL_FACTOR:g} * n * eps that ignores ||H|| = {norm:.3g}",
            RTOL_FACTOR * n * eps,
        ),
    ]
    if base == "rank":
        out.append(
            ("NumPy/JAX/PyTorch matrix_rank's default tol = max|sigma| * n * eps", n * eps * norm)
        )
    other = "float32" if precision == "float64" else "float64"
    out.append(
        (
            f"the {other} cutoff (eps of {other}) at {precision}",
            RTOL_FACTOR * n * eps_of(other) * norm,
        )
    )
    game_n = _game_n(case)
    if game_n and _suffix(output):
        out.append(
            (
                f"the whole game's n = {game_n} instead of this player's own n = {n}",
                RTOL_FACTOR * game_n * eps * norm,
            )
        )
    return out


def _cutoff_hint(case: GoldenCase, output: str, a: np.ndarray, precision: str) -> str:
    base, suffix = _split(output)
    h = _reference_h(case, suffix)
    if base not in ("pinv", "hc", "rank") or h is None:
        return ""
    lam = np.linalg.eigvalsh(h)
    n, norm = lam.shape[0], float(np.abs(lam).max())
    implied = _implied_kept(output, np.asarray(a, dtype=np.float64), h, lam) if norm else None
    if implied is None:
        return ""
    kept, smallest = implied
    cutoff = RTOL_FACTOR * n * eps_of(precision) * norm
    mags = np.sort(np.abs(lam))[::-1]
    golden = int((mags > cutoff).sum())
    if kept == golden:
        return ""
    changed = mags[min(kept, golden) : max(kept, golden)]
    verb = "kept" if kept > golden else "dropped"
    listed = ", ".join(f"{m:.3g} ({m / cutoff:.2g} x the cutoff)" for m in changed[:4])
    if kept > golden and not 0.5 <= smallest / max(float(changed[-1]), 1e-300) <= 2:
        listed += f" (the smallest inverted as {smallest:.3g}: its own rounding noise)"
    low = min(float(mags[kept]) if kept < n else 0.0, smallest)
    high = smallest
    in_range = [
        name
        for name, value in _library_cutoffs(case, output, n, norm, precision)
        if low <= value < high
    ]
    matches = f"; that range holds {' and '.join(in_range)}" if in_range else ""
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


def diagnose(case: GoldenCase, output: str, actual: Any, precision: str) -> str:
    """The likely cause of a failed ``output`` of ``case``, or an empty string.

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

    Returns
    -------
    str
        One or more causes, separated by ``"; "``.

    Examples
    --------
    >>> from hsc_ref.golden.cases import build_case
    >>> case = build_case("matrix_spd")
    >>> diagnose(case, "step", -case.outputs["step"], "float64")[:38]
    'actual = -reference everywhere: a sign'
    """
    if actual is None:
        return ""
    raw = np.asarray(actual)
    d = np.asarray(case.outputs[output], dtype=np.float64)
    if raw.dtype.hasobject or raw.dtype.kind not in "biuf" or raw.shape != d.shape:
        return ""
    a = raw.astype(np.float64)
    if not np.isfinite(a).all():
        return _nonfinite_hint(case)
    err = float(np.abs(a - d).max()) if a.size else 0.0
    first = _variant_hint(case, output, a, precision) or _float32_hint(case, output, err, precision)
    if first:
        return first
    hints: Sequence[str] = [
        _permutation_hint(case, output, a, d),
        _structure_hint(output, a, d, precision),
        _factor_hint(case, output, a, d, precision),
        _cutoff_hint(case, output, a, precision),
        _step_hint(case, output, a, precision),
    ]
    found = [h for h in hints if h]
    if not found and _split(output)[0] in ("loss", "grad", "hessian"):
        found.append(_unrecognized_model_hint(case, output))
    return "; ".join(found)


def _unrecognized_model_hint(case: GoldenCase, output: str) -> str:
    """A model output differs in no recognized way: where to look."""
    logits = case.meta.get("max_abs_logit")
    if logits is not None and logits >= 20:
        return (
            f"no known pattern; this case has discriminator logits up to |t| = {logits:.3g}, "
            f"where softplus written as log(1 + exp(t)), BCE through sigmoid probabilities or "
            f"PyTorch's F.softplus (linear above 20) lose digits: write softplus(t) = "
            f"logaddexp(0, t) and BCE with logits"
        )
    return (
        "no known pattern: the function evaluated is not the reference one; check the inputs, "
        "the flat layout and the conventions in the case's meta"
    )
