"""The style-transfer objective's exact pixel Hessian, derived by hand (no autograd).

Private; the style optimizers can call :func:`transfer_value_grad_hessian` where they call
``hessian(objective, x, batched=True)``, which stays the reference it is tested against.

The objective of :class:`~hsc_ref.style.loss.TransferObjective` is
``L(x) = sum_l Phi_l(F_l) + t TV(x)`` with ``Phi_l = b w_l k_l E_l`` (plus the content term
``a/2 ||F_L - P||^2`` at the last layer) and the features ``F_l = tanh(u_l)``,
``u_l = patches(p_l) W_l + b_l``, ``p_0 = 2 x - 1``, ``p_l = pool(F_{l-1})``: linear maps
(periodic 3x3 patches, 2x2 average pooling, the weights) and element-wise ``tanh``. Its
Hessian is, with ``g_l = dL/dF_l`` from the primal reverse pass::

    H = sum_l [J_l^T Hess(Phi_l) J_l + Ju_l^T diag(g_l tanh''(u_l)) Ju_l] + 2 t (Dv'Dv + Dh'Dh)

where ``Ju_l = du_l/dx`` and ``J_l = dF_l/dx = tanh'(u_l) Ju_l`` are the forward tangents of
all pixels at once. Every position reads only its receptive field (a window of pixels), so
``Ju_l`` is kept per position on its window, pushed from layer to layer through the pooling
and the convolution (batched matrix products over the shared weights). With ``F`` as an
``M x C`` matrix, ``G = F^T F`` and ``Phi = c ||G - A||^2``::

    Hess(Phi)[dF] = 4 c dF (G - A) + 4 c F (dF^T F + F^T dF)

The first part (and the content term, and the ``tanh''`` term) is a ``C x C`` matrix per
position, so it adds ``Ju_m^T K_m Ju_m`` on each window. The second is global but of rank at
most ``C (C + 1) / 2``: ``4 c sum_{c,d} u_dc (u_dc + u_cd)^T`` with the gradients
``u_dc = sum_m F_md dF_mc / dx`` of the Gram entries; all layers' terms are one product
``V V^T``. The result is
symmetrized, ``(H + H^T) / 2``, as autograd's route returns it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import scipy.sparse

from hsc_ref import _backend, derivatives
from hsc_ref._engine import _symmetrize_inplace
from hsc_ref._mlp_hessian import matmul
from hsc_ref.derivatives import ValueGradHessian
from hsc_ref.style.loss import TransferObjective, convention_factor

__all__: list[str] = []

BLOCK_BYTES = 64 * 2**20
"""Most bytes of one block of local Hessians (positions are taken in blocks)."""


def _pool(x: np.ndarray) -> np.ndarray:
    """2x2 average pooling of ``(..., h, w, c)`` (an odd last row or column is dropped)."""
    h, w, c = x.shape[-3] // 2, x.shape[-2] // 2, x.shape[-1]
    x = x[..., : 2 * h, : 2 * w, :].reshape(*x.shape[:-3], h, 2, w, 2, c)
    return x.mean(axis=(-4, -2))


def _pool_adjoint(y: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The adjoint of :func:`_pool`: each value spread as 1/4 over its 2x2 cell."""
    h, w = y.shape[-3], y.shape[-2]
    out = np.zeros((*y.shape[:-3], *shape, y.shape[-1]))
    cell = 0.25 * y
    for di in (0, 1):
        for dj in (0, 1):
            out[..., di : 2 * h : 2, dj : 2 * w : 2, :] = cell
    return out


def _patches_adjoint(g: np.ndarray) -> np.ndarray:
    """The adjoint of :func:`~hsc_ref.style.loss.patches3x3`: ``(..., h, w, 9c) -> (..., h, w, c)``.

    Block ``(a, b)`` of the patch axis holds ``x`` rolled by ``(1 - a, 1 - b)``; it rolls back.
    """
    c = g.shape[-1] // 9
    out = np.zeros((*g.shape[:-1], c))
    for a in range(3):
        for b in range(3):
            block = g[..., (3 * a + b) * c : (3 * a + b + 1) * c]
            out += np.roll(block, (a - 1, b - 1), axis=(-3, -2))
    return out


def _tv_adjoint_difference(x: np.ndarray) -> np.ndarray:
    """``(D_v^T D_v + D_h^T D_h) x`` for the forward differences along rows and columns."""
    out = np.zeros_like(x)
    d = np.diff(x, axis=-3)
    out[..., 1:, :, :] += d
    out[..., :-1, :, :] -= d
    d = np.diff(x, axis=-2)
    out[..., :, 1:, :] += d
    out[..., :, :-1, :] -= d
    return out


class _Layer(NamedTuple):
    """One feature layer at the primal point, with the terms of its loss Hessian."""

    W: np.ndarray  # (9 C_in, C)
    features: np.ndarray  # F = tanh(u), (h, w, C)
    d1: np.ndarray  # tanh'(u)
    d2: np.ndarray  # tanh''(u)
    grad: np.ndarray  # g = dL/dF (total, through the later layers)
    gram_weight: float  # 4 c of the layer's style term
    local: np.ndarray  # Q = 4 c (G - A) (+ a I at the content layer), (C, C)


def _layer_loss(objective: TransferObjective, index: int, F: np.ndarray, pixels: int):
    """Value, gradient, ``4 c`` and ``Q`` of the loss terms that read layer ``index``."""
    layers = len(objective.extractor.layers)
    C = F.shape[-1]
    M = F.shape[0] * F.shape[1]
    factor = convention_factor(objective.convention, C, M, pixels)
    c = objective.style_weight * factor / (layers * 4.0 * C**2 * M**2)
    Fm = F.reshape(M, C)
    residual = Fm.T @ Fm - objective.style_grams[index]
    value = c * float(np.sum(residual * residual))
    grad = 4.0 * c * Fm @ residual
    local = 4.0 * c * residual
    if index == layers - 1:  # the content term a/2 ||F - P||^2
        a = objective.content_weight
        diff = F - objective.content_features
        value += 0.5 * a * float(np.sum(diff * diff))
        grad += a * diff.reshape(M, C)
        local = local + a * np.eye(C)
    return value, grad.reshape(F.shape), 4.0 * c, local


def _primal(
    objective: TransferObjective, image: np.ndarray
) -> tuple[float, list[_Layer], np.ndarray]:
    """Forward and reverse pass: the value, every layer's primal facts and the pixel gradient."""
    h = 2.0 * image - 1.0
    inputs, feats = [], []
    for i, (W, b) in enumerate(objective.extractor.layers):
        inputs.append(h.shape[:2])
        if i > 0:
            h = _pool(h)
        h = np.tanh(_patches(h) @ W + b)
        feats.append(h)
    pixels = image.shape[0] * image.shape[1]
    value, layers, g = 0.0, [], None
    for i in range(len(feats) - 1, -1, -1):
        F = feats[i]
        v, own_grad, gram_weight, local = _layer_loss(objective, i, F, pixels)
        value += v
        g = own_grad if g is None else own_grad + g
        d1 = 1.0 - F * F
        W = objective.extractor.layers[i][0]
        layers.insert(0, _Layer(W, F, d1, -2.0 * F * d1, g, gram_weight, local))
        back = _patches_adjoint((g * d1) @ W.T)
        g = _pool_adjoint(back, inputs[i]) if i > 0 else back
    tv = objective.tv_weight
    value += tv * float(np.sum(np.diff(image, axis=0) ** 2) + np.sum(np.diff(image, axis=1) ** 2))
    grad = 2.0 * g + 2.0 * tv * _tv_adjoint_difference(image)
    return value, layers, grad


def _patches(x: np.ndarray) -> np.ndarray:
    """:func:`~hsc_ref.style.loss.patches3x3` of a NumPy array (periodic padding, 9 slices)."""
    h, w = x.shape[-3], x.shape[-2]
    padded = np.pad(x, [(1, 1), (1, 1), (0, 0)], mode="wrap")
    return np.concatenate(
        [padded[a : a + h, b : b + w] for a in range(3) for b in range(3)], axis=-1
    )


# ------------------------------------------------------------------ receptive fields


class _Window(NamedTuple):
    """The pixel rows and columns each position of a layer reads, slot by slot.

    ``rows[i, s]`` is the image row of slot ``s`` of row position ``i`` (likewise ``cols``).
    The parts of a window (the two pooled children ``stride`` apart, the three convolution
    offsets ``2 stride`` apart) share the slots where they overlap: they read the same
    pixels there when every pooling halves its grid exactly (:func:`supports`). Several
    slots may still hold one pixel (small images wrap onto themselves): their contributions
    then add up, as they should.
    """

    rows: np.ndarray  # (h_l, f_rows)
    cols: np.ndarray  # (w_l, f_cols)
    stride: int  # pixels between neighbouring positions


def _first_window(height: int, width: int) -> _Window:
    offsets = np.arange(3) - 1
    rows = (np.arange(height)[:, None] + offsets) % height
    return _Window(rows, (np.arange(width)[:, None] + offsets) % width, 1)


def _combine(parts: list[np.ndarray], shift: int) -> np.ndarray:
    """The parts written at slots ``0, shift, 2 shift, ...`` (checked to agree where they meet)."""
    f = parts[0].shape[1]
    out = np.full((parts[0].shape[0], shift * (len(parts) - 1) + f), -1)
    for k, part in enumerate(parts):
        region = out[:, k * shift : k * shift + f]
        if np.any((region >= 0) & (region != part)):
            raise RuntimeError("receptive fields do not line up; supports() should have refused")
        region[...] = part
    return out


def _next_table(t: np.ndarray, stride: int) -> np.ndarray:
    """Pooling then a 3x3 periodic convolution on the pooled grid, along one axis."""
    size = t.shape[0] // 2
    pooled = _combine([t[0 : 2 * size : 2], t[1 : 2 * size : 2]], stride)
    return _combine([np.roll(pooled, 1 - a, axis=0) for a in range(3)], 2 * stride)


def _next_window(win: _Window) -> _Window:
    rows, cols = _next_table(win.rows, win.stride), _next_table(win.cols, win.stride)
    return _Window(rows, cols, 2 * win.stride)


def _pixel_index(win: _Window, channels: int, width: int) -> np.ndarray:
    """Flat pixel index of every slot, ``(positions, f_rows * f_cols * channels)``."""
    rows, cols = win.rows, win.cols
    pix = (rows[:, None, :, None] * width + cols[None, :, None, :])[..., None] * channels
    pix = pix + np.arange(channels)
    return pix.reshape(rows.shape[0] * cols.shape[0], -1)


def _first_jacobian(layer: _Layer, channels: int) -> np.ndarray:
    """``du_0 / dx`` on each position's window: ``(h, w, 3, 3, C_in, C)``, ``2 W_0`` everywhere."""
    h, w, C = layer.features.shape
    kernel = 2.0 * layer.W.reshape(3, 3, channels, C)
    return np.broadcast_to(kernel, (h, w, 3, 3, channels, C))


def _next_jacobian(JF: np.ndarray, stride: int, layer: _Layer) -> np.ndarray:
    """``du_l / dx`` from ``dF_{l-1} / dx``: pool the windows, then the 3x3 convolution.

    The parts go to the slots :func:`_next_window` gives them: pooled children ``stride``
    apart, convolution offsets ``2 stride`` apart.
    """
    h, w, f = JF.shape[0] // 2, JF.shape[1] // 2, JF.shape[2]
    pooled = np.zeros((h, w, f + stride, f + stride, *JF.shape[4:]))
    for di in (0, 1):
        for dj in (0, 1):
            rows, cols = slice(di * stride, di * stride + f), slice(dj * stride, dj * stride + f)
            pooled[:, :, rows, cols] += 0.25 * JF[di : 2 * h : 2, dj : 2 * w : 2]
    f, step, c_in = f + stride, 2 * stride, JF.shape[-1]
    Ju = np.zeros((h, w, 2 * step + f, 2 * step + f, JF.shape[4], layer.W.shape[1]))
    for a in range(3):
        for b in range(3):
            shifted = np.roll(pooled, (1 - a, 1 - b), axis=(0, 1))
            W_ab = layer.W[(3 * a + b) * c_in : (3 * a + b + 1) * c_in]
            Ju[:, :, a * step : a * step + f, b * step : b * step + f] += shifted @ W_ab
    return Ju


def _jacobians(objective: TransferObjective, layers: list[_Layer]):
    """Yield ``(window, du_l/dx, dF_l/dx)`` per layer, on each position's window."""
    height, width, channels = objective.shape
    win = _first_window(height, width)
    Ju, JF = _first_jacobian(layers[0], channels), None
    for i, layer in enumerate(layers):
        if i > 0:
            Ju = _next_jacobian(JF, win.stride, layer)
            win = _next_window(win)
        JF = Ju * layer.d1[:, :, None, None, None, :]
        yield win, Ju, JF


# ------------------------------------------------------------------ the Hessian


def _add_local(H: np.ndarray, pix: np.ndarray, Ju: np.ndarray, JF: np.ndarray, layer: _Layer):
    """``sum_m Ju_m^T K_m Ju_m`` on each window, ``K_m = s'_m Q s'_m + diag(g_m s''_m)``."""
    M, R, C = pix.shape[0], pix.shape[1], layer.W.shape[1]
    Ju, JF = Ju.reshape(M, R, C), JF.reshape(M, R, C)
    curvature = (layer.grad * layer.d2).reshape(M, 1, C)
    flat = H.reshape(-1)
    for chunk in _position_chunks(M, R):
        L = matmul(JF[chunk] @ layer.local, np.swapaxes(JF[chunk], 1, 2))
        L += matmul(Ju[chunk] * curvature[chunk], np.swapaxes(Ju[chunk], 1, 2))
        index = pix[chunk, :, None] * H.shape[0] + pix[chunk, None, :]
        np.add.at(flat, index.ravel(), L.ravel())


def _position_chunks(positions: int, slots: int) -> list[slice]:
    step = max(1, BLOCK_BYTES // (8 * slots * slots))
    return [slice(m, min(m + step, positions)) for m in range(0, positions, step)]


def _gram_factor(pix: np.ndarray, JF: np.ndarray, layer: _Layer, n: int) -> np.ndarray:
    """``V`` with ``V V^T`` the Gram term ``4 c sum_{c,d} u_dc (u_dc + u_cd)^T``.

    ``u_dc = d(F^T F)_dc / dx = sum_m F_md dF_mc / dx`` (per channel ``c``, a sparse
    ``n x M`` matrix of the windows' ``dF_mc / dx`` times ``F``). With ``s_cd = u_dc + u_cd``
    the term is ``4 c (sum_{c<d} s_cd s_cd^T + 1/2 sum_c s_cc s_cc^T)`` (``4 c >= 0``), so
    ``V = sqrt(4 c) [s_cd for c < d, s_cc / sqrt(2)]``, ``n x C (C + 1) / 2``.
    """
    M, R, C = pix.shape[0], pix.shape[1], layer.W.shape[1]
    F, JF = layer.features.reshape(M, C), JF.reshape(M, R, C)
    positions = np.repeat(np.arange(M), R)
    U = np.empty((n, C, C))  # [pixel, d, c]
    for c in range(C):
        window = scipy.sparse.csr_matrix(
            (JF[:, :, c].ravel(), (pix.ravel(), positions)), shape=(n, M)
        )
        U[:, :, c] = window @ F
    upper_c, upper_d = np.triu_indices(C, 1)
    V = np.concatenate(
        [U[:, upper_d, upper_c] + U[:, upper_c, upper_d], np.sqrt(2.0) * np.einsum("pcc->pc", U)],
        axis=1,
    )
    return np.sqrt(layer.gram_weight) * V


def _add_total_variation(H: np.ndarray, shape: tuple[int, int, int], weight: float) -> None:
    """``2 t (D_v^T D_v + D_h^T D_h)``: forward differences between neighbouring pixels."""
    index = np.arange(H.shape[0]).reshape(shape)
    flat = H.reshape(-1)
    n = H.shape[0]
    for upper, lower in ((index[:-1], index[1:]), (index[:, :-1], index[:, 1:])):
        p, q = upper.ravel(), lower.ravel()
        np.add.at(flat, p * n + p, 2.0 * weight)
        np.add.at(flat, q * n + q, 2.0 * weight)
        np.add.at(flat, p * n + q, -2.0 * weight)
        np.add.at(flat, q * n + p, -2.0 * weight)


def supports(objective: Any) -> bool:
    """Whether the exact route applies: a ``TransferObjective`` whose image sides every
    pooling halves exactly (divisible by ``2^(layers - 1)``), so receptive fields line up."""
    if not isinstance(objective, TransferObjective):
        return False
    factor = 2 ** (len(objective.extractor.layers) - 1)
    return all(side % factor == 0 for side in objective.shape[:2])


def _check_sizes(objective: TransferObjective, max_bytes: int | None) -> None:
    n = objective.n
    _backend.check_fits(8 * n * n + 8 * BLOCK_BYTES, "the exact pixel Hessian", max_bytes)


def transfer_value_grad_hessian(
    objective: TransferObjective, x: Any, *, max_bytes: int | None = None
) -> ValueGradHessian:
    """Value, exact gradient and exact pixel Hessian of a style-transfer objective.

    The same numbers as ``value_grad_hessian(objective, x)`` (autograd) to rounding, without
    autograd (see the module docs); the Hessian is exactly symmetric.

    Parameters
    ----------
    objective : TransferObjective
    x : array_like, shape (n,)
        Flat image, ``n = H W C`` (C order of ``(H, W, C)``).
    max_bytes : int, optional
        Refuse (``MemoryError``, before allocating) when the dense Hessian and the
        temporaries need more; default: the memory available now.

    Raises
    ------
    TypeError, ValueError
        If ``objective`` is not a :class:`~hsc_ref.style.loss.TransferObjective`, its image
        sides are not divisible by ``2^(layers - 1)`` (:func:`supports`; use autograd's
        route there), or ``x`` is not a finite vector of length ``n``.
    """
    if not isinstance(objective, TransferObjective):
        raise TypeError(f"objective must be a TransferObjective, got {type(objective).__name__}")
    if not supports(objective):
        layers = len(objective.extractor.layers)
        raise ValueError(
            f"the exact route needs image sides divisible by 2^(layers - 1) = {2 ** (layers - 1)}"
            f" ({layers} layers), got {objective.shape[:2]}; use autograd's hessian there"
        )
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (objective.n,) or not np.all(np.isfinite(x)):
        raise ValueError(f"x must be a finite vector of shape ({objective.n},), got {x.shape}")
    _check_sizes(objective, max_bytes)
    value, layers, grad = _primal(objective, x.reshape(objective.shape))
    n, (_, width, channels) = objective.n, objective.shape
    windows = [
        (layer, _pixel_index(win, channels, width), Ju, JF)
        for layer, (win, Ju, JF) in zip(layers, _jacobians(objective, layers), strict=True)
    ]
    V = np.concatenate([_gram_factor(pix, JF, layer, n) for layer, pix, _, JF in windows], axis=1)
    H = np.matmul(V, np.ascontiguousarray(V.T), out=np.empty((n, n)))  # plain gemm: no syrk
    for layer, pix, Ju, JF in windows:
        _add_local(H, pix, Ju, JF, layer)
    _add_total_variation(H, objective.shape, objective.tv_weight)
    return ValueGradHessian(value, grad.ravel(), _symmetrize_inplace(H))


def receptive_side(layers: int) -> int:
    """Side in pixels of the last layer's receptive field: ``3``, then ``+ 5 * 2^(l-1)``.

    Examples
    --------
    >>> [receptive_side(k) for k in (1, 2, 3)]
    [3, 8, 18]
    """
    side = 3
    for level in range(1, layers):
        side += 5 * 2 ** (level - 1)  # pooling adds one stride, the 3x3 convolution two
    return side


def value_grad_hessian(objective: Any, x: Any, *, route: str = "auto") -> ValueGradHessian:
    """Value, gradient and pixel Hessian by the exact route where it pays, else autograd.

    ``route="auto"``: :func:`transfer_value_grad_hessian` when :func:`supports` says so and
    the last layer's receptive field fits in the image (on smaller images its windows wrap
    onto themselves and autograd's route is faster), else
    :func:`hsc_ref.derivatives.value_grad_hessian` (batched, the reference); ``"exact"`` or
    ``"autograd"`` force one of them.
    """
    if route not in ("auto", "exact", "autograd"):
        raise ValueError(f"route must be one of ('auto', 'exact', 'autograd'), got {route!r}")
    fits = supports(objective) and receptive_side(len(objective.extractor.layers)) <= min(
        objective.shape[:2]
    )
    if route == "exact" or (route == "auto" and fits):
        return transfer_value_grad_hessian(objective, x)
    return derivatives.value_grad_hessian(objective, x, batched=True)
