"""Known wrong versions of a golden case's loss, re-evaluated from the case's inputs.

Independent of the models that built the case: a few lines of NumPy per family, from the
formulas the manifest states. The diagnosis compares a failed loss with each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from hsc_ref.golden.cases import GoldenCase

__all__: list[str] = []

Softplus = Callable[[np.ndarray], np.ndarray]


def _softplus(t: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, t)


def _torch_softplus(t: np.ndarray) -> np.ndarray:
    """PyTorch's ``F.softplus`` (beta 1, threshold 20): linear above the threshold."""
    return np.where(t > 20, t, np.log1p(np.exp(np.minimum(t, 20))))


def _bce_loss_softplus(t: np.ndarray) -> np.ndarray:
    """``nn.BCELoss(sigmoid(-t), 1)`` = ``-max(log(sigmoid(t... )), -100)``: the clamped log."""
    with np.errstate(over="ignore", divide="ignore"):
        p = 1.0 / (1.0 + np.exp(t))  # sigmoid(-t): BCE(sigmoid(-t), 1) = softplus(t)
        return -np.maximum(np.log(p), -100.0)


def _sigmoid_bce_softplus(t: np.ndarray) -> np.ndarray:
    """``-log(sigmoid(-t))``: BCE through sigmoid probabilities, unclamped (log(0) = -inf)."""
    with np.errstate(over="ignore", divide="ignore"):
        return -np.log(1.0 / (1.0 + np.exp(t)))


def _naive_softplus(t: np.ndarray) -> np.ndarray:
    """``log(1 + exp(t))`` as written: overflows above t = 709 (88 in float32)."""
    with np.errstate(over="ignore"):
        return np.log(1.0 + np.exp(t))


def _mlp(
    flat: np.ndarray, layers: Sequence[Sequence[int]], x: np.ndarray, act: str, transposed: bool
):
    h, offset = x, 0
    for i, (fan_in, fan_out) in enumerate(layers):
        chunk = flat[offset : offset + fan_in * fan_out]
        offset += fan_in * fan_out
        w = chunk.reshape(fan_out, fan_in).T if transposed else chunk.reshape(fan_in, fan_out)
        h = h @ w + flat[offset : offset + fan_out]
        offset += fan_out
        if i < len(layers) - 1:
            h = np.tanh(h) if act == "tanh" else np.maximum(h, 0.0)
    return h


def _mlp_variants(case: GoldenCase) -> dict[str, dict[str, float]]:
    x, y, theta = case.inputs["x"], case.inputs["y"], case.inputs["theta"]
    out = _mlp(theta, case.meta["layers"], x, case.meta["activation"], transposed=True)
    return {
        "": {
            "the weights loaded without W = weight.T (the flat chunk reshaped to nn.Linear's "
            "(out, in))": float(np.mean((out - y) ** 2))
        }
    }


def _game_logits(case: GoldenCase, transposed: bool) -> tuple[np.ndarray, np.ndarray]:
    theta, phi = case.inputs["theta"], case.inputs["phi"]
    x_real, z = case.inputs["x_real"], case.inputs["z"]
    if case.kind == "dirac":
        return phi[0] * x_real, phi[0] * np.broadcast_to(theta, z.shape)
    act = case.meta["activation"]
    fake = _mlp(theta, case.meta["layers_g"], z, act, transposed)
    return (
        _mlp(phi, case.meta["layers_d"], x_real, act, transposed),
        _mlp(phi, case.meta["layers_d"], fake, act, transposed),
    )


def _game_losses(real: np.ndarray, fake: np.ndarray, sp: Softplus, minimax: bool = False):
    loss_g = -np.mean(sp(fake)) if minimax else np.mean(sp(-fake))
    return float(loss_g), float(np.mean(sp(-real)) + np.mean(sp(fake)))


def _game_variants(case: GoldenCase) -> dict[str, dict[str, float]]:
    real, fake = _game_logits(case, transposed=False)
    named: dict[str, tuple[float, float]] = {
        "softplus written as log(1 + exp(t)) (it overflows above t = 709, 88 in float32, and "
        "loses the digits of log(1 + e^t) for t < -17) instead of logaddexp(0, t)": _game_losses(
            real, fake, _naive_softplus
        ),
        "BCE through sigmoid probabilities, -log(sigmoid(t)) (log(0) = -inf once sigmoid rounds "
        "to 0 or 1) instead of BCE with logits": _game_losses(real, fake, _sigmoid_bce_softplus),
        "the minimax generator loss -mean softplus(f) instead of the non-saturating mean "
        "softplus(-f)": _game_losses(real, fake, _softplus, minimax=True),
        "PyTorch's nn.BCELoss on sigmoid probabilities (its log clamped at -100) instead of "
        "BCE with logits": _game_losses(real, fake, _bce_loss_softplus),
        "PyTorch's F.softplus (linear above its threshold 20, off by e^-t there) instead of "
        "logaddexp(0, t)": _game_losses(real, fake, _torch_softplus),
    }
    if case.kind != "dirac":
        wrong = _game_logits(case, transposed=True)
        named[
            "the weights loaded without W = weight.T (the flat chunk reshaped to nn.Linear's "
            "(out, in))"
        ] = _game_losses(*wrong, _softplus)
    return {
        "_g": {name: values[0] for name, values in named.items()},
        "_d": {name: values[1] for name, values in named.items()},
    }


def loss_variants(case: GoldenCase, precision: str = "float64") -> dict[str, dict[str, Any]]:
    """``{player suffix: {description of the mistake: loss value}}`` for ``case``'s family.

    Evaluated at ``precision``: the inputs are rounded to it and every operation runs in it,
    as an implementation at that precision would compute the wrong loss.
    """
    dtype = np.dtype(precision)
    inputs = {k: np.asarray(v).astype(dtype) for k, v in case.inputs.items()}
    rounded = replace(case, inputs=inputs)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if case.kind == "mlp":
            return _mlp_variants(rounded)
        if case.kind in ("gan", "dirac"):
            return _game_variants(rounded)
    return {}
