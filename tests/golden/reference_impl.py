"""An independent implementation of every golden output, with switchable realistic bugs.

Written from the formulas the manifest and ``docs/validating.md`` state, with NumPy, SciPy and
autograd directly: nothing of hsc_ref is called. :class:`Config` holds the choices an
implementation makes; its defaults are the correct ones, and each mutant of
``tests/golden/mutants.py`` changes one of them. ``implement(case, config)`` returns the
case's results as ``{"<case>/<output>": array}``.

The model stage (loss, gradient, Hessian, Jacobian, Gram matrices) is cached per case and
per the choices that affect it, so that mutants of the linear algebra reuse it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import scipy.linalg

GOLDEN_RTOL_FACTOR = 100.0  # the documented policy: rtol = 100 * n * eps(dtype), atol = 0


@dataclass(frozen=True)
class Config:
    """The choices of one implementation; the defaults are the documented ones."""

    dtype: str = "float64"  # the precision computed and saved in
    float32_inside: bool = False  # compute in float32, save as float64
    # cutoff of every pseudo-inverse and of the rank
    cutoff_scale: float = 1.0
    cutoff_rule: str = "golden"  # or a library default, "absolute", "other_eps", "game_n",
    # or a norm of OTHER_NORMS in place of max|lam|
    rank_rule: str = "golden"  # or "numpy_matrix_rank", "torch_matrix_rank", "jax_matrix_rank"
    # losses
    softplus: str = "logaddexp"  # "naive", "torch_threshold", "sigmoid_bce", "bce_clamped"
    generator_loss: str = "non_saturating"  # or "minimax"
    reduction: str = "mean"  # or "sum" over the batch
    mlp_mean_over: str = "batch_and_outputs"  # or "batch"
    d_loss_concatenated: bool = False  # one mean over the real and fake batch together
    weight_layout: str = "ours"  # or "transposed": the flat chunk read as nn.Linear's (out, in)
    report_order: str = "ours"  # or "torch": flat outputs in parameters_to_vector order
    gram: str = "gatys"  # or "pytorch_tutorial", "tensorflow_tutorial", "keras_example"
    style_layers: str = "mean"  # or "sum"
    # the step
    step_sign: float = -1.0
    lr_power: int = 1  # 2: lr applied twice; 0: left out
    clip_gradient: float | None = None  # clip g to this norm before the step
    step_method: str = "hsc"  # or "newton" (pinv(H) g), "hc_times_g" (Hc g)
    # reporting
    symmetrize_jacobian: bool = False
    eigenvalues: str = "eigh"  # or "singular_values", "descending"
    # ---- the diagnosis suite's bugs (kept in their own block)
    pinv_method: str = "eigh"  # or "ridge", "positive_only", "mask_over_lam", "svd_without_u"
    ridge: float = 1e-8  # the delta of pinv_method="ridge": (H^2 + delta I)^-1 H
    eigenvectors: str = "columns"  # or "transposed": Q.T used where Q belongs
    step_gradient_scale: float = 1.0  # 2: the gradient accumulated twice before the step
    squared_error_half: bool = False  # the loss 0.5 * mean (f - y)^2

    def model_key(self, kind: str) -> tuple:
        """The choices that change the model stage of a case of ``kind``."""
        names = {
            "matrix": (),
            "mlp": ("reduction", "mlp_mean_over", "weight_layout", "squared_error_half"),
            "gan": (
                "softplus",
                "generator_loss",
                "reduction",
                "d_loss_concatenated",
                "weight_layout",
            ),
            "dirac": ("softplus", "generator_loss", "reduction", "d_loss_concatenated"),
            "style": ("gram", "style_layers"),
        }[kind]
        return (self.compute_dtype, *(getattr(self, n) for n in names))

    def case_key(self, kind: str) -> tuple:
        """The choices that change any output of a case of ``kind`` (for caching)."""
        model = {
            "reduction",
            "mlp_mean_over",
            "weight_layout",
            "softplus",
            "generator_loss",
            "d_loss_concatenated",
            "gram",
            "style_layers",
            "squared_error_half",
        }
        rest = tuple(getattr(self, f.name) for f in fields(self) if f.name not in model)
        return (*self.model_key(kind), *rest)

    @property
    def compute_dtype(self) -> type:
        return np.float32 if self.dtype == "float32" or self.float32_inside else np.float64

    def changes(self) -> dict[str, Any]:
        """The fields that differ from the defaults."""
        default = Config()
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        }


# --------------------------------------------------------------------------- losses


def softplus(t: Any, kind: str) -> Any:
    """``log(1 + e^t)``, written as each implementation writes it."""
    if kind == "logaddexp":
        return anp.logaddexp(0.0, t)
    if kind == "naive":
        return anp.log(1.0 + anp.exp(t))
    if kind == "torch_threshold":  # F.softplus(t, beta=1, threshold=20)
        return anp.where(t > 20, t, anp.log1p(anp.exp(anp.minimum(t, 20))))
    p = 1.0 / (1.0 + anp.exp(t))  # sigmoid(-t): softplus(t) = BCE(sigmoid(-t), 1)
    log_p = anp.log(p)
    if kind == "bce_clamped":  # nn.BCELoss clamps its logs at -100
        log_p = anp.maximum(log_p, -100.0)
    elif kind != "sigmoid_bce":
        raise ValueError(f"unknown softplus {kind!r}")
    return -log_p


def _mean(x: Any, config: Config, axes: tuple[int, ...] = (-2, -1)) -> Any:
    """Mean (or, mutated, sum) over the batch axes, one value per parameter copy."""
    return anp.sum(x, axis=axes) if config.reduction == "sum" else anp.mean(x, axis=axes)


def mlp_apply(flat: Any, layers: Sequence[Sequence[int]], x: Any, act: str, layout: str) -> Any:
    """``x @ W + b`` per layer over the flat layout (``W.ravel()`` then ``b``, layer by layer).

    ``flat`` is ``(k, n)``: ``k`` copies of the parameters, giving ``(k, batch, out)``.
    """
    h, offset, copies = x, 0, flat.shape[:-1]
    for i, (fan_in, fan_out) in enumerate(layers):
        chunk = flat[..., offset : offset + fan_in * fan_out]
        offset += fan_in * fan_out
        if layout == "transposed":  # the chunk read as nn.Linear's weight (out, in)
            w = anp.swapaxes(anp.reshape(chunk, (*copies, fan_out, fan_in)), -1, -2)
        else:
            w = anp.reshape(chunk, (*copies, fan_in, fan_out))
        h = anp.matmul(h, w) + flat[..., None, offset : offset + fan_out]
        offset += fan_out
        if i < len(layers) - 1:
            h = anp.tanh(h) if act == "tanh" else anp.maximum(h, 0.0)
    return h


def _cast(case: Any, dtype: type) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=dtype) for k, v in case.inputs.items()}


def _hessian(fun: Callable, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value, gradient and symmetrized Hessian of ``fun``, which maps ``(k, n) -> (k,)``.

    One reverse pass over ``n`` copies of ``x`` gives every gradient; a second one, of
    ``sum_k grad_k . e_k``, gives row ``k`` of the Hessian at copy ``k``.
    """
    n = x.shape[0]

    def grads(copies: Any) -> Any:
        return autograd.grad(lambda c: anp.sum(fun(c)))(copies)

    eye = np.eye(n, dtype=x.dtype)
    h = autograd.grad(lambda c: anp.sum(grads(c) * eye))(np.tile(x, (n, 1)))
    return np.asarray(fun(x[None])[0]), grads(x[None])[0], 0.5 * (h + h.T)


def _mlp_stage(case: Any, config: Config) -> dict[str, np.ndarray]:
    inp = _cast(case, config.compute_dtype)
    layers, act = case.meta["layers"], case.meta["activation"]

    def loss(theta: Any) -> Any:
        residual = mlp_apply(theta, layers, inp["x"], act, config.weight_layout) - inp["y"]
        over_outputs = anp.sum if config.mlp_mean_over == "batch" else anp.mean
        half = 0.5 if config.squared_error_half else 1.0
        return half * _mean(over_outputs(residual**2, axis=-1), config, axes=(-1,))

    value, grad, hess = _hessian(loss, inp["theta"])
    return {"loss": value, "grad": grad, "hessian": hess}


def _game_logits(case: Any, inp: dict, config: Config) -> Callable:
    """``(real, fake)`` logits, each ``(k, batch, 1)``, of ``k`` copies of both players."""
    if case.kind == "dirac":

        def logits(theta: Any, phi: Any) -> tuple[Any, Any]:
            fake = theta[..., None, :] * anp.ones_like(inp["z"])  # G(theta, z) = theta
            return phi[..., None, :] * inp["x_real"], phi[..., None, :] * fake  # D = psi x

        return logits
    act, layout = case.meta["activation"], config.weight_layout

    def logits(theta: Any, phi: Any) -> tuple[Any, Any]:
        fake = mlp_apply(theta, case.meta["layers_g"], inp["z"], act, layout)
        real_t = mlp_apply(phi, case.meta["layers_d"], inp["x_real"], act, layout)
        return real_t, mlp_apply(phi, case.meta["layers_d"], fake, act, layout)

    return logits


def _game_stage(case: Any, config: Config) -> dict[str, np.ndarray]:
    inp = _cast(case, config.compute_dtype)
    logits = _game_logits(case, inp, config)
    sp = functools.partial(softplus, kind=config.softplus)
    n_g = inp["theta"].shape[0]

    def loss_g(w: Any) -> Any:
        fake = logits(w[..., :n_g], w[..., n_g:])[1]
        if config.generator_loss == "minimax":
            return -_mean(sp(fake), config)
        return _mean(sp(-fake), config)

    def loss_d(w: Any) -> Any:
        real, fake = logits(w[..., :n_g], w[..., n_g:])
        if config.d_loss_concatenated:
            return _mean(anp.concatenate([sp(-real), sp(fake)], axis=-2), config)
        return _mean(sp(-real), config) + _mean(sp(fake), config)

    # both losses over w = (theta, phi): each player's Hessian is a diagonal block, and the
    # game Jacobian takes the generator's rows of one and the discriminator's of the other
    w = np.concatenate([inp["theta"], inp["phi"]])
    value_g, grad_g, joint_g = _hessian(loss_g, w)
    value_d, grad_d, joint_d = _hessian(loss_d, w)
    return {
        "loss_g": value_g,
        "grad_g": grad_g[:n_g],
        "hessian_g": joint_g[:n_g, :n_g],
        "loss_d": value_d,
        "grad_d": grad_d[n_g:],
        "hessian_d": joint_d[n_g:, n_g:],
        "jacobian": np.concatenate([joint_g[:n_g], joint_d[n_g:]]),
    }


def _patches(h: Any) -> Any:
    """Periodic 3x3 neighbourhoods ordered (row offset, column offset, channel)."""
    rows = [anp.roll(h, 1 - a, axis=-3) for a in range(3)]
    return anp.concatenate([anp.roll(r, 1 - b, axis=-2) for r in rows for b in range(3)], axis=-1)


def _features(image: Any, layers: Sequence[tuple[Any, Any]]) -> list[Any]:
    """The extractor's feature maps of ``(..., H, W, C)`` images."""
    h, out = 2.0 * image - 1.0, []
    for i, (w, b) in enumerate(layers):
        if i > 0:
            rows, cols = h.shape[-3] // 2, h.shape[-2] // 2
            pooled = anp.reshape(h, (*h.shape[:-3], rows, 2, cols, 2, h.shape[-1]))
            h = anp.mean(pooled, axis=(-4, -2))
        h = anp.tanh(anp.matmul(_patches(h), w) + b)
        out.append(h)
    return out


def _gram_and_loss(f: Any, target: Any, config: Config, pixels: int) -> tuple[Any, Any]:
    """A layer's Gram matrix ``G = F F^T`` (as reported) and its style loss, per convention."""
    flat = anp.reshape(f, (*f.shape[:-3], -1, f.shape[-1]))  # (..., M, C)
    m, c = flat.shape[-2], flat.shape[-1]
    gram = anp.matmul(anp.swapaxes(flat, -1, -2), flat)
    if config.gram == "pytorch_tutorial":  # G / (C M), then mse_loss: a mean over C^2 entries
        gram = gram / (c * m)
        return gram, anp.mean((gram - target) ** 2, axis=(-2, -1))
    if config.gram == "tensorflow_tutorial":  # G / M (mean over positions), then a mean
        gram = gram / m
        return gram, anp.mean((gram - target) ** 2, axis=(-2, -1))
    if config.gram == "keras_example":  # sum (G - A)^2 / (4 * 3^2 * size^2)
        return gram, anp.sum((gram - target) ** 2, axis=(-2, -1)) / (4.0 * 9.0 * pixels**2)
    return gram, anp.sum((gram - target) ** 2, axis=(-2, -1)) / (4.0 * c**2 * m**2)


def _style_stage(case: Any, config: Config) -> dict[str, np.ndarray]:
    inp = _cast(case, config.compute_dtype)
    n_layers = len(case.meta["channels"])
    layers = [(inp[f"W{i}"], inp[f"b{i}"]) for i in range(n_layers)]
    shape = tuple(case.meta["image_shape"])
    pixels = shape[0] * shape[1]
    targets = [
        _gram_and_loss(f, 0.0, config, pixels)[0] for f in _features(inp["style_image"], layers)
    ]

    def layer_terms(flat: Any) -> list[tuple[Any, Any]]:
        features = _features(anp.reshape(flat, (*flat.shape[:-1], *shape)), layers)
        return [
            _gram_and_loss(f, a, config, pixels) for f, a in zip(features, targets, strict=True)
        ]

    def loss(flat: Any) -> Any:
        total = sum(term for _, term in layer_terms(flat))
        return total if config.style_layers == "sum" else total / n_layers

    value, grad, hess = _hessian(loss, inp["image"].ravel())
    out = {"loss": value, "grad": grad, "hessian": hess}
    for i, (gram, term) in enumerate(layer_terms(inp["image"].ravel()[None])):
        out |= {f"gram_{i}": gram[0], f"style_gram_{i}": targets[i], f"layer_loss_{i}": term[0]}
    return out


_MODEL_STAGES = {"mlp": _mlp_stage, "gan": _game_stage, "dirac": _game_stage, "style": _style_stage}
_CACHE: dict[tuple, dict[str, np.ndarray]] = {}


def model_stage(case: Any, config: Config) -> dict[str, np.ndarray]:
    """Loss, gradient, Hessian (and Jacobian, Gram matrices) of a model case, cached."""
    key = (case.name, id(case), *config.model_key(case.kind))
    if key not in _CACHE:
        _CACHE[key] = _MODEL_STAGES[case.kind](case, config)
    return _CACHE[key]


# --------------------------------------------------------------------------- linear algebra


def _eps(dtype: type) -> float:
    return float(np.finfo(dtype).eps)


OTHER_NORMS: dict[str, Callable[[np.ndarray], Any]] = {
    "frobenius": lambda lam: np.sqrt(np.sum(lam * lam)),  # torch.linalg.norm(H)'s default
    "trace": lambda lam: np.abs(np.sum(lam)),  # |trace H|
    "nuclear": lambda lam: np.sum(np.abs(lam)),  # sum |lam|, torch.linalg.matrix_norm 'nuc'
}
"""Norms of a symmetric ``H`` a cutoff may be scaled by in place of ``max|lam|``, from its
eigenvalues (equal to the matrix's own up to rounding)."""


def _cutoff(lam: np.ndarray, n_policy: int, config: Config) -> float:
    """The magnitude at or below which an eigenvalue counts as zero."""
    dtype = lam.dtype.type
    n, norm, eps = lam.shape[0], float(np.abs(lam).max()), _eps(dtype)
    rule = config.cutoff_rule
    if rule == "absolute":
        return GOLDEN_RTOL_FACTOR * n * eps
    if rule == "other_eps":
        other = np.float32 if dtype == np.float64 else np.float64
        return GOLDEN_RTOL_FACTOR * n * _eps(other) * norm
    if rule in OTHER_NORMS:  # the golden rtol times another norm of H than max|lam|
        other = float(OTHER_NORMS[rule](lam))
        return GOLDEN_RTOL_FACTOR * n_policy * eps * other * config.cutoff_scale
    rtol = {
        "golden": GOLDEN_RTOL_FACTOR * n_policy * eps,
        "game_n": GOLDEN_RTOL_FACTOR * n_policy * eps,
        "numpy_pinv": 1e-15,  # numpy.linalg.pinv's rcond
        "torch_pinverse": 1e-15,  # torch.pinverse's rcond
        "scipy_pinvh": n * eps,  # scipy.linalg.pinvh: atol 0, rtol n eps
        "scipy_pinv": n * eps,
        "torch_linalg_pinv": n * eps,  # torch.linalg.pinv: rtol max(m, n) eps
        "jax_pinv": 10 * n * eps,  # jax.numpy.linalg.pinv: 10 max(m, n) eps
    }[rule]
    return rtol * norm * config.cutoff_scale


def _pinv(a: np.ndarray, n_policy: int, config: Config, eig: tuple | None = None) -> np.ndarray:
    """The pseudo-inverse of a symmetric matrix under the configured cutoff.

    ``eig`` is ``a``'s eigendecomposition when already computed.
    """
    if config.cutoff_rule == "numpy_pinv":
        return np.linalg.pinv(a)  # the library's own default, SVD-based
    if config.cutoff_rule == "scipy_pinvh":
        return scipy.linalg.pinvh(a)
    if config.cutoff_rule == "scipy_pinv":
        return scipy.linalg.pinv(a)
    if not np.isfinite(a).all():  # a NaN upstream (Hc of a NaN pinv): eigh would raise
        return np.full_like(a, np.nan)
    if config.pinv_method == "ridge":  # torch.linalg.solve(H @ H + eps * I, H)
        return np.linalg.solve(a @ a + a.dtype.type(config.ridge) * np.eye(a.shape[0]), a)
    lam, q = _eigh(a, config) if eig is None else eig
    kept = _kept(lam, n_policy, config)
    if config.pinv_method == "mask_over_lam":  # kept.float() / lam: 0/0 at an exact zero
        inv = kept.astype(a.dtype) / lam
    elif config.pinv_method == "svd_without_u":  # V diag(1/s) V^T: s = |lam|, signs lost
        inv = np.where(kept, 1 / np.where(kept, np.abs(lam), 1), 0).astype(a.dtype)
    else:
        inv = np.where(kept, 1 / np.where(kept, lam, 1), 0).astype(a.dtype)
    return (q * inv) @ q.T


def _eigh(a: np.ndarray, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """``eigh``, with the eigenvector matrix transposed when the mutant says so."""
    lam, q = np.linalg.eigh(a)
    return lam, (q.T if config.eigenvectors == "transposed" else q)


def _kept(lam: np.ndarray, n_policy: int, config: Config) -> np.ndarray:
    """The eigenvalues above the cutoff (the positive ones only, mutated)."""
    cutoff = _cutoff(lam, n_policy, config)
    return lam > cutoff if config.pinv_method == "positive_only" else np.abs(lam) > cutoff


def _rank(h: np.ndarray, lam: np.ndarray, n_policy: int, config: Config) -> np.ndarray:
    if config.rank_rule == "numpy_matrix_rank":
        return np.int64(np.linalg.matrix_rank(h))  # the library's default tolerance
    if config.rank_rule in ("torch_matrix_rank", "jax_matrix_rank"):
        sigma = np.abs(lam)  # both: S.max() * max(M, N) * eps
        return np.int64((sigma > sigma.max() * lam.shape[0] * _eps(lam.dtype.type)).sum())
    return np.int64(_kept(lam, n_policy, config).sum())


def _phi(lam: np.ndarray) -> np.ndarray:
    """``lam / (1 + lam^2)``, as ``1 / (lam + 1/lam)`` where ``|lam| > 1``."""
    big = np.abs(lam) > 1
    safe = np.where(big, lam, 1)
    return np.where(big, 1 / (safe + 1 / safe), lam / (1 + lam * lam))


def _eigenvalues(h: np.ndarray, lam: np.ndarray, config: Config) -> np.ndarray:
    if config.eigenvalues == "singular_values":
        return np.sort(np.linalg.svd(h, compute_uv=False))
    if config.eigenvalues == "descending":
        return lam[::-1]
    return lam


def spectral(h: np.ndarray, g: np.ndarray, lr: float, n_policy: int, config: Config) -> dict:
    """Eigenvalues, ``H^+``, ``Hc``, rank and the three step routes."""
    dtype = h.dtype.type
    n = h.shape[0]
    if not (np.isfinite(h).all() and np.isfinite(g).all()):  # what a NaN upstream leaves
        nan = np.full((n, n), np.nan, dtype)
        vec = np.full(n, np.nan, dtype)
        out = {"eigenvalues": vec, "pinv": nan, "hc": nan, "rank": np.int64(0)}
        return out | {"step": vec, "step_cholesky": vec, "step_literal": vec}
    lam, q = _eigh(h, config)
    pinv = _pinv(h, n_policy, config, (lam, q))
    hc = h + pinv
    if config.clip_gradient is not None:
        norm = float(np.linalg.norm(g))
        g = g * dtype(min(1.0, config.clip_gradient / norm)) if norm > 0 else g
    g = g * dtype(config.step_gradient_scale)  # only the step's gradient: grad is reported
    scale = dtype(config.step_sign * lr**config.lr_power)
    spectral_map = {
        "hsc": _phi(lam),
        "newton": np.diag(q.T @ pinv @ q).astype(dtype),
        "hc_times_g": np.diag(q.T @ hc @ q).astype(dtype),
    }[config.step_method]
    out = {
        "eigenvalues": _eigenvalues(h, lam, config),
        "pinv": pinv,
        "hc": hc,
        "rank": _rank(h, lam, n_policy, config),
        "step": scale * (q @ (spectral_map * (q.T @ g))),
        "step_literal": scale * (_pinv(hc, n_policy, config) @ g),
    }
    try:
        factor = scipy.linalg.cho_factor(np.eye(n, dtype=dtype) + h @ h)
        out["step_cholesky"] = scale * scipy.linalg.cho_solve(factor, h @ g)
    except np.linalg.LinAlgError:
        pass  # I + H^2 not numerically positive definite at this precision: not computed
    if config.step_method != "hsc":  # every route of the wrong step
        out["step_cholesky"] = out["step_literal"] = out["step"]
    return out


# --------------------------------------------------------------------------- cases


def _torch_order(layers: Sequence[Sequence[int]]) -> np.ndarray:
    """Indices ``p`` with ``torch_flat = ours[p]`` (weight (out, in) row-major, then bias)."""
    pieces, offset = [], 0
    for fan_in, fan_out in layers:
        weight = offset + np.arange(fan_in)[None, :] * fan_out + np.arange(fan_out)[:, None]
        pieces += [weight.ravel(), offset + fan_in * fan_out + np.arange(fan_out)]
        offset += (fan_in + 1) * fan_out
    return np.concatenate(pieces)


def _reorder(case: Any, out: dict[str, np.ndarray]) -> None:
    for suffix in ("", "_g", "_d"):
        layers = case.meta.get(f"layers{suffix}")
        if not layers:
            continue
        p = _torch_order(layers)
        for base in ("grad", "hessian", "step", "step_cholesky", "step_literal"):
            key = f"{base}{suffix}"
            if key in out:
                out[key] = out[key][np.ix_(p, p)] if out[key].ndim == 2 else out[key][p]


def _players(case: Any) -> list[str]:
    return ["_g", "_d"] if case.kind in ("gan", "dirac") else [""]


_RESULTS: dict[tuple, dict[str, np.ndarray]] = {}


def implement(case: Any, config: Config = Config()) -> dict[str, np.ndarray]:
    """Every output of ``case`` as this implementation computes it: ``{"case/output": array}``.

    Cached per case and per the choices that affect it: a mutant recomputes only the cases
    its change reaches.
    """
    key = (case.name, id(case), *config.case_key(case.kind))
    if key not in _RESULTS:
        _RESULTS[key] = _implement(case, config)
    return dict(_RESULTS[key])


def _implement(case: Any, config: Config) -> dict[str, np.ndarray]:
    dtype = config.compute_dtype
    lr = float(case.inputs["lr"])
    if case.kind == "matrix":
        stage = {"hessian": case.inputs["H"].astype(dtype), "grad": case.inputs["g"].astype(dtype)}
        out = spectral(stage["hessian"], stage["grad"], lr, stage["hessian"].shape[0], config)
    else:
        stage = model_stage(case, config)
        out = dict(stage)
        game_n = sum(stage[f"grad{s}"].shape[0] for s in _players(case))
        for suffix in _players(case):
            h, g = stage[f"hessian{suffix}"], stage[f"grad{suffix}"]
            n_policy = game_n if config.cutoff_rule == "game_n" else h.shape[0]
            out |= {f"{k}{suffix}": v for k, v in spectral(h, g, lr, n_policy, config).items()}
    if config.symmetrize_jacobian and "jacobian" in out:
        out["jacobian"] = 0.5 * (out["jacobian"] + out["jacobian"].T)
    if config.report_order == "torch":
        _reorder(case, out)
    saved = np.float64 if config.dtype == "float64" else np.float32
    return {
        f"{case.name}/{k}": (np.asarray(v).astype(saved) if np.asarray(v).dtype.kind == "f" else v)
        for k, v in out.items()
        if k in case.outputs
    }


def implement_all(gold: Any, config: Config = Config()) -> dict[str, np.ndarray]:
    """Results of every case of a golden set."""
    results: dict[str, np.ndarray] = {}
    for case in gold.cases.values():
        results |= implement(case, config)
    return results
