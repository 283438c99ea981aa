"""Exact value, gradient and Hessian of an MLP loss, derived by hand: the second exact route.

Private; :mod:`hsc_ref.gan.game` uses it for the package's MLP games (``route="exact"``) and
keeps autograd (:func:`hsc_ref.derivatives.hessian`) as the reference it is tested against.

The network is a chain of dense layers ``a_m = h_m W_m + b_m``, ``h_{m+1} = s_m(a_m)`` on a
batch of inputs ``h_0 = x`` (rows are samples), with the activations of
:data:`hsc_ref.models.ACTIVATIONS` by name, and the loss is a sum over the output entries,
``L = sum_{b,o} l_bo(h_L[b, o])``, given by its first and second derivative per entry.
Parameters of layer ``m`` are ``W~_m = [W_m; b_m]`` (``b`` as one more row), whose ravel is
exactly the flat layout of :mod:`hsc_ref.layout`; with ``h~_m = [h_m, 1]``,
``a_m = h~_m W~_m``.

Second-order forward-over-reverse, written as batched matrix products over the shared
weights, one primal for all tangents:

* forward: ``a_m``, ``h_m`` and the activation's derivatives ``s'_m``, ``s''_m``;
* reverse: ``delta_m = dL/da_m`` (the gradient is ``h~_m^T delta_m``) and the per-sample
  curvature ``D_m[b] = d2L / da_m[b]^2``::

      D_m = s'_m E_m s'_m + diag(g_m s''_m),   E_{m-1} = W_m D_m W_m^T,   E_L = diag(l'')

  with ``g_m = dL/dh_{m+1}``. Samples do not interact, so ``D_m`` is ``(batch, w, w)``.
* tangents: the tangent of parameter ``W~_p[i, j]`` is ``da_p = h~_p[:, i] e_j^T``, a
  combination of the per-sample seeds ``e_j`` at ``a_p[b]``. Pushing the ``w_p`` seeds of
  every sample forward gives ``J_pq[b] = da_q[b] / da_p[b]`` and
  ``S_pq[b] = dh~_q[b] / da_p[b]`` (a zero column for the bias's 1); the reverse tangent of
  ``delta_q`` is ``J_pq D_q``. By linearity in the seeds, the Hessian block of layers
  ``p <= q`` is::

      H[(p, i, j), (q, k, l)] = sum_b h~_p[b, i] (h~_q[b, k] (J_pq D_q)[b, j, l]
                                                  + S_pq[b, j, k] delta_q[b, l])

  (``J_pp = I``, ``S_pp = 0``): one product ``h~_p^T Q`` with inner dimension ``batch`` per
  block of rows, the ``n`` Hessian-vector products of the ``n`` unit tangents at once.

Blocks ``q < p`` are the transposes of blocks ``p < q``; a diagonal block's entry and its
mirror come from one product over the pairs ``i <= k`` (the ``i = k`` sub-blocks are
symmetrized), so the result is exactly symmetric, as autograd's route returns it.
Kinks follow autograd's conventions (``relu'(0) = 1/2``, from its rule for ``maximum``;
``leaky_relu'(0) = 0.2``, from ``where(a > 0, ...)``) so the two routes agree everywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from hsc_ref import _backend
from hsc_ref.derivatives import ValueGradHessian

__all__: list[str] = []

Derivatives = tuple[np.ndarray, np.ndarray, np.ndarray]
"""``(s(a), s'(a), s''(a))`` of an activation, element-wise."""

OutputLoss = Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]]
"""``loss(out) -> (value, dl, d2l)``: the loss value and its element-wise first and second
derivatives with respect to the network output ``out`` (same shape as ``out``)."""

CHUNK_BYTES = 32 * 2**20
"""Most bytes of one block of rows of a Hessian block's product."""

UNCHECKED_BYTES = 2**26
"""Without ``max_bytes``, calls that need at most this many bytes skip the check of the memory
available (64 MiB always fits where NumPy runs; the check reads ``/proc/meminfo``, which cost
more than the rest of a GAN player's Hessian at n = 82)."""

ONE_THREAD_WORK = 2**18
"""Multiply-adds up to which OpenBLAS computes a product on one thread (65536 times its
``GEMM_MULTITHREAD_THRESHOLD`` of 4)."""

SPLIT_WORK = 2**24
"""Products with more multiply-adds than :data:`ONE_THREAD_WORK`, up to this many, are split
into one-thread pieces by :func:`matmul`. A second BLAS thread pays only on larger products:
on the shared 2-core machine, beside other busy processes, a 105 x 64 x 169 product took
12 ms with two OpenBLAS threads (the second waits for a time slice) and 47 us with one."""


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b``; mid-sized products in row pieces that OpenBLAS runs on one thread.

    ``a`` is ``(..., m, k)`` and ``b`` is ``(k, n)`` or ``(..., k, n)``. The pieces are one
    stacked product (NumPy calls BLAS once per piece); the result is the same product to
    rounding.
    """
    (m, k), n = a.shape[-2:], b.shape[-1]
    rows = ONE_THREAD_WORK // max(1, k * n)
    if m * k * n <= ONE_THREAD_WORK or m * k * n > SPLIT_WORK or rows < 1:
        return a @ b
    pieces, lead = -(-m // rows), a.shape[:-2]
    padded = np.zeros((*lead, pieces * rows, k), dtype=np.result_type(a, b))
    padded[..., :m, :] = a
    out = np.matmul(padded.reshape(*lead, pieces, rows, k), b[..., None, :, :])
    return out.reshape(*lead, pieces * rows, n)[..., :m, :]


def _tanh(a: np.ndarray) -> Derivatives:
    y = np.tanh(a)
    d1 = 1.0 - y * y
    return y, d1, -2.0 * y * d1


def _relu(a: np.ndarray) -> Derivatives:
    d1 = (a > 0).astype(a.dtype)
    d1[a == 0] = 0.5  # autograd's rule for maximum(a, 0) splits a tie evenly
    return np.maximum(a, 0.0), d1, np.zeros_like(a)


def _leaky_relu(a: np.ndarray) -> Derivatives:
    positive = a > 0
    return np.where(positive, a, 0.2 * a), np.where(positive, 1.0, 0.2), np.zeros_like(a)


def _sigmoid(a: np.ndarray) -> Derivatives:
    s = np.exp(-np.logaddexp(0.0, -a))  # the forward formula of hsc_ref.models
    t = np.exp(-np.logaddexp(0.0, a))  # 1 - s without cancellation
    d1 = s * t
    return s, d1, d1 * (t - s)


def _identity(a: np.ndarray) -> Derivatives:
    return a, np.ones_like(a), np.zeros_like(a)


ACTIVATION_DERIVATIVES: dict[str, Callable[[np.ndarray], Derivatives]] = {
    "tanh": _tanh,
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "sigmoid": _sigmoid,
    "identity": _identity,
}
"""Each activation of :data:`hsc_ref.models.ACTIVATIONS` with its first two derivatives."""


def supports(activations: Sequence[str] | None) -> bool:
    """Whether every activation name has hand-derived derivatives here."""
    return activations is not None and all(a in ACTIVATION_DERIVATIVES for a in activations)


class Forward(NamedTuple):
    """The primal pass: layer inputs ``h_m`` and the activations' derivatives at ``a_m``."""

    inputs: list[np.ndarray]  # h_0 .. h_{L-1}, each (batch, fan_in)
    output: np.ndarray  # h_L, (batch, out)
    d1: list[np.ndarray]  # s'_m(a_m), (batch, fan_out)
    d2: list[np.ndarray]  # s''_m(a_m)


def forward(layers: Sequence[tuple[np.ndarray, np.ndarray]], activations: Sequence[str], x: Any):
    """Run the chain on ``x`` (batch, fan_in of the first layer); keep what the Hessian needs."""
    h = np.asarray(x, dtype=np.float64)
    inputs, d1s, d2s = [], [], []
    for (W, b), name in zip(layers, activations, strict=True):
        inputs.append(h)
        h, d1, d2 = ACTIVATION_DERIVATIVES[name](matmul(h, W) + b)
        d1s.append(d1)
        d2s.append(d2)
    return Forward(inputs, h, d1s, d2s)


class Backward(NamedTuple):
    """``delta_m = dL/da_m`` (batch, w) and ``D_m = d2L/da_m^2`` per sample (batch, w, w)."""

    delta: dict[int, np.ndarray]
    curvature: dict[int, np.ndarray]


def _diag(v: np.ndarray) -> np.ndarray:
    """``(batch, w) -> (batch, w, w)`` diagonal matrices."""
    out = np.zeros((*v.shape, v.shape[-1]), dtype=v.dtype)
    np.einsum("...ii->...i", out)[...] = v
    return out


def backward(layers, fwd: Forward, dl: np.ndarray, d2l: np.ndarray, first: int) -> Backward:
    """Gradient and per-sample curvature at every layer from the last down to ``first``."""
    g, E = dl, _diag(d2l)
    delta, curvature = {}, {}
    for m in range(len(layers) - 1, first - 1, -1):
        d1, d2 = fwd.d1[m], fwd.d2[m]
        delta[m] = g * d1
        D = d1[:, :, None] * E * d1[:, None, :]
        np.einsum("...ii->...i", D)[...] += g * d2
        curvature[m] = D
        if m > first:
            W = layers[m][0]
            g = matmul(delta[m], W.T)
            E = np.matmul(W @ D, W.T)
    return Backward(delta, curvature)


def _augmented(h: np.ndarray) -> np.ndarray:
    """``[h, 1]``: the bias is the last row of ``W~``."""
    return np.concatenate([h, np.ones((h.shape[0], 1), dtype=h.dtype)], axis=1)


class _Block(NamedTuple):
    """What the Hessian block of layers ``p <= q`` is made of (see the module docs)."""

    h_p: np.ndarray  # h~_p, (batch, a_p) with a_p = fan_in_p + 1
    h_q: np.ndarray  # h~_q, (batch, a_q)
    R: np.ndarray  # J_pq D_q, (batch, w_p, w_q); D_p for q = p
    S: np.ndarray | None  # dh_q / da_p, (batch, w_p, a_q - 1); None for q = p
    delta: np.ndarray  # delta_q, (batch, w_q)


def _blocks_of_row(layers, fwd: Forward, bwd: Backward, p: int, stop: int):
    """Yield ``(q, _Block)`` for ``q = p .. stop - 1``, pushing the seeds at ``a_p`` forward."""
    h_p = _augmented(fwd.inputs[p])
    yield p, _Block(h_p, h_p, bwd.curvature[p], None, bwd.delta[p])
    J = None
    for q in range(p + 1, stop):
        W = layers[q][0]
        if J is None:  # J_pp = I, so S = diag(s'_p) and J = S W
            S, J = _diag(fwd.d1[p]), fwd.d1[p][:, :, None] * W
        else:
            S = J * fwd.d1[q - 1][:, None, :]
            J = S @ W
        yield q, _Block(h_p, _augmented(fwd.inputs[q]), J @ bwd.curvature[q], S, bwd.delta[q])


def _row_chunks(rows: int, bytes_per_row: int) -> list[slice]:
    step = max(1, CHUNK_BYTES // max(1, bytes_per_row))
    return [slice(i, min(i + step, rows)) for i in range(0, rows, step)]


@functools.lru_cache(maxsize=64)
def _upper_pairs(a: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(a)``, read-only and made once per order: a trainer asks for the same
    pairs at every step, for every layer."""
    pairs = np.triu_indices(a)
    for index in pairs:
        index.flags.writeable = False
    return pairs


def _fill_diagonal(view: np.ndarray, blk: _Block) -> None:
    """``view[i, j, k, l] = sum_b h[b,i] h[b,k] D[b,j,l]``, exactly symmetric.

    The sum depends on the pairs ``{i, k}`` and ``{j, l}`` only, so one product over the
    pairs ``i <= k`` gives both ``H[(i,j),(k,l)]`` and its mirror ``H[(k,l),(i,j)]``; the
    ``w x w`` sub-blocks with ``i = k`` are symmetrized.
    """
    h, D = blk.h_p, blk.R
    a, w = h.shape[1], D.shape[1]
    D2 = D.reshape(D.shape[0], w * w)
    i_all, k_all = _upper_pairs(a)  # the pairs i <= k, row by row
    for rows in _row_chunks(a, 8 * a * w * w):
        if rows.start == 0 and rows.stop == a:  # one chunk: every pair
            i_idx, k_idx = i_all, k_all
        else:
            chosen = (i_all >= rows.start) & (i_all < rows.stop)
            i_idx, k_idx = i_all[chosen], k_all[chosen]
        T = matmul((h[:, i_idx] * h[:, k_idx]).T, D2).reshape(-1, w, w)  # [pair, j, l]
        view[i_idx, :, k_idx, :] = T
        view[k_idx, :, i_idx, :] = T.transpose(0, 2, 1)
        same = i_idx == k_idx
        view[i_idx[same], :, i_idx[same], :] = 0.5 * (T[same] + T[same].transpose(0, 2, 1))


def _fill_off_diagonal(view: np.ndarray, blk: _Block) -> None:
    """``view[i, j, k, l] = sum_b h_p[b,i] (h_q[b,k] R[b,j,l] + S[b,j,k] delta[b,l])``."""
    batch, w_p, w_q = blk.R.shape
    a_p, a_q = blk.h_p.shape[1], blk.h_q.shape[1]
    R2 = blk.R.reshape(batch, w_p * w_q)
    S2T = blk.S.reshape(batch, w_p * (a_q - 1)).T
    for rows in _row_chunks(a_p, 8 * a_q * w_p * w_q):
        hp = blk.h_p[:, rows]
        ci = hp.shape[1]
        X = (hp[:, :, None] * blk.h_q[:, None, :]).reshape(batch, ci * a_q)
        view[rows] = matmul(X.T, R2).reshape(ci, a_q, w_p, w_q).transpose(0, 2, 1, 3)
        Y = (hp[:, :, None] * blk.delta[:, None, :]).reshape(batch, ci * w_q)
        T2 = matmul(S2T, Y).reshape(w_p, a_q - 1, ci, w_q)
        view[rows, :, :-1, :] += T2.transpose(2, 0, 1, 3)


def _mirror(dst: np.ndarray, src: np.ndarray, tile: int = 128) -> None:
    """``dst = src.T`` tile by tile (a plain transposed copy misses the cache on every row)."""
    for i in range(0, src.shape[0], tile):
        for j in range(0, src.shape[1], tile):
            dst[j : j + tile, i : i + tile] = src[i : i + tile, j : j + tile].T


def _offsets(layers, first: int, stop: int) -> list[int]:
    sizes = [(layers[m][0].shape[0] + 1) * layers[m][0].shape[1] for m in range(first, stop)]
    return np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()


def hessian_blocks(layers, fwd: Forward, bwd: Backward, first: int, stop: int) -> np.ndarray:
    """The symmetric Hessian over the flat parameters of layers ``first .. stop - 1``."""
    offsets = _offsets(layers, first, stop)
    H = np.empty((offsets[-1], offsets[-1]))
    for p in range(first, stop):
        r = slice(offsets[p - first], offsets[p - first + 1])
        for q, blk in _blocks_of_row(layers, fwd, bwd, p, stop):
            c = slice(offsets[q - first], offsets[q - first + 1])
            shape = (blk.h_p.shape[1], blk.R.shape[1], blk.h_q.shape[1], blk.R.shape[2])
            view = H[r, c].reshape(shape)  # splits each axis of a strided block: a view
            if not np.may_share_memory(view, H):  # never silently fill a copy
                raise RuntimeError(f"internal: block ({p}, {q}) of H is not a view")
            if q == p:
                _fill_diagonal(view, blk)
            else:
                _fill_off_diagonal(view, blk)
                _mirror(H[c, r], H[r, c])
    return H


def _check_chain(layers, activations, x: np.ndarray, first: int, stop: int) -> None:
    if len(layers) != len(activations) or not layers:
        raise ValueError(
            f"layers and activations must be non-empty and of equal length, got "
            f"{len(layers)} and {len(activations)}"
        )
    unknown = [a for a in activations if a not in ACTIVATION_DERIVATIVES]
    if unknown:
        raise ValueError(
            f"activations must be among {sorted(ACTIVATION_DERIVATIVES)}, got {unknown}"
        )
    if not 0 <= first < stop <= len(layers):
        raise ValueError(
            f"variable layers must satisfy 0 <= first < stop <= {len(layers)}, got {first}, {stop}"
        )
    if x.ndim != 2 or x.shape[1] != layers[0][0].shape[0]:
        raise ValueError(f"x must have shape (batch, {layers[0][0].shape[0]}), got {x.shape}")


def hessian_bytes(layers, batch: int, first: int, stop: int) -> int:
    """Bytes of the dense result and the temporaries at their peak, before allocating any."""
    n = _offsets(layers, first, stop)[-1]
    widths = [W.shape[1] for W, _ in layers]
    curvature = sum(batch * w * w for w in widths)  # D_m of every layer, kept
    seeds = 4 * batch * max(widths) ** 2  # J, S, R and a product
    widest_block = max((W.shape[0] + 1) * W.shape[1] for W, _ in layers)
    chunk = max(CHUNK_BYTES // 8, batch * widest_block)  # Q: at least one seed at a time
    result = chunk * max(1.0, max(W.shape[0] + 1 for W, _ in layers) / batch)
    return int(8 * (n * n + curvature + seeds + chunk + result))


def value_grad_hessian(
    layers: Sequence[tuple[np.ndarray, np.ndarray]],
    activations: Sequence[str],
    x: Any,
    loss: OutputLoss,
    *,
    first: int = 0,
    stop: int | None = None,
    max_bytes: int | None = None,
) -> ValueGradHessian:
    """Loss value, gradient and Hessian over the parameters of layers ``first .. stop - 1``.

    Layers outside that range are fixed (their parameters are constants of the loss); the
    gradient and the Hessian follow the flat layout of those layers' ``(W, b)``.

    Raises
    ------
    MemoryError
        If the dense Hessian and the temporaries exceed ``max_bytes`` (default: the memory
        available now), before anything large is allocated.
    """
    stop = len(layers) if stop is None else stop
    x = np.asarray(x, dtype=np.float64)
    _check_chain(layers, activations, x, first, stop)
    needed = hessian_bytes(layers, x.shape[0], first, stop)
    if max_bytes is not None or needed > UNCHECKED_BYTES:  # reading /proc costs 0.1 ms a call
        _backend.check_fits(needed, "the exact MLP Hessian", max_bytes)
    fwd = forward(layers, activations, x)
    value, dl, d2l = loss(fwd.output)
    bwd = backward(layers, fwd, dl, d2l, first)
    grad = np.concatenate(
        [matmul(_augmented(fwd.inputs[m]).T, bwd.delta[m]).ravel() for m in range(first, stop)]
    )
    return ValueGradHessian(float(value), grad, hessian_blocks(layers, fwd, bwd, first, stop))
