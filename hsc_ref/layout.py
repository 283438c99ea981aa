"""The flat parameter layout shared with other implementations, and converters to PyTorch's.

A model's parameters are a list of layers ``[(W, b), ...]`` with ``W`` of shape
``(fan_in, fan_out)`` and ``y = x @ W + b``. The flat vector concatenates, layer by layer,
``W.ravel()`` (C order) then ``b``. General nests of lists, tuples and dicts (keys in sorted
order) of arrays flatten the same way, depth first. A PyTorch ``nn.Linear`` stores ``weight``
as ``(out, in)``: ``W = weight.T``; :func:`layers_from_torch_linear`,
:func:`layers_to_torch_linear` and :func:`torch_parameter_order` map between the two, so
another implementation can line its Hessian rows and columns up with ours.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import autograd.numpy as anp
import numpy as np

from hsc_ref import _autograd_ops, _validation

__all__ = ["flatten", "layers_from_torch_linear", "layers_to_torch_linear", "torch_parameter_order"]


def _leaves(tree: Any, path: str = "params") -> list[tuple[str, np.ndarray]]:
    """Depth-first list of ``(path, array)`` leaves of a nest of lists/tuples/dicts."""
    if isinstance(tree, dict):
        return [lf for key in sorted(tree) for lf in _leaves(tree[key], f"{path}[{key!r}]")]
    if isinstance(tree, (list, tuple)):
        return [lf for i, item in enumerate(tree) for lf in _leaves(item, f"{path}[{i}]")]
    array = _validation.as_real_array(tree, path)
    return [(path, array)]


def _rebuild(template: Any, pieces: list[Any]) -> Any:
    """Rebuild a nest shaped like ``template`` from pieces consumed in depth-first order."""
    if isinstance(template, dict):
        rebuilt = {key: _rebuild(template[key], pieces) for key in sorted(template)}
        return {key: rebuilt[key] for key in template}
    if isinstance(template, (list, tuple)):
        items = [_rebuild(item, pieces) for item in template]
        return tuple(items) if isinstance(template, tuple) else items
    return pieces.pop(0)


def flatten(params: Any) -> tuple[np.ndarray, Callable[[Any], Any]]:
    """Flatten a nest of arrays into one vector; return it and the inverse map.

    The inverse ``unflatten(flat)`` accepts a flat vector of shape ``(n,)`` or a stack of
    parameter copies of shape ``(*lead, n)``; each leaf then gets shape ``(*lead, *shape)``.
    It is autograd-traceable, so losses can be written on the flat vector.

    Parameters
    ----------
    params : nest of lists, tuples and dicts of real arrays
        E.g. ``[(W1, b1), (W2, b2)]``.

    Returns
    -------
    flat : ndarray, shape (n,)
        The leaves raveled in C order and concatenated depth first (dict keys sorted), in
        their common floating dtype.
    unflatten : callable
        Inverse map.

    Examples
    --------
    >>> import numpy as np
    >>> W, b = np.arange(6.0).reshape(2, 3), np.array([10.0, 11.0, 12.0])
    >>> flat, unflatten = flatten([(W, b)])
    >>> flat
    array([ 0.,  1.,  2.,  3.,  4.,  5., 10., 11., 12.])
    >>> unflatten(flat)[0][1]
    array([10., 11., 12.])
    >>> unflatten(np.stack([flat, 2 * flat]))[0][0].shape   # two parameter copies
    (2, 2, 3)
    """
    leaves = _leaves(params)
    if not leaves:
        raise ValueError(f"params must contain at least one array, got an empty nest {params!r}")
    shapes = [array.shape for _, array in leaves]
    sizes = [int(np.prod(shape, dtype=np.int64)) for shape in shapes]
    bounds = np.cumsum([0, *sizes])
    dtype = np.result_type(*[array.dtype for _, array in leaves])
    flat = np.concatenate([array.ravel().astype(dtype) for _, array in leaves])
    n = int(bounds[-1])

    def unflatten(vector: Any) -> Any:
        if not hasattr(vector, "shape"):  # lists; arrays and autograd boxes pass through
            vector = _validation.as_real_array(vector, "flat vector")
        if vector.shape[-1:] != (n,):
            raise ValueError(f"flat vector must have last axis of length {n}, got {vector.shape}")
        lead = vector.shape[:-1]
        pieces = [  # take_last: a slice whose derivative copies a block (no add.at scatter)
            anp.reshape(_autograd_ops.take_last(vector, int(start), int(stop)), lead + shape)
            for start, stop, shape in zip(bounds[:-1], bounds[1:], shapes, strict=True)
        ]
        return _rebuild(params, pieces)

    return flat, unflatten


def _check_layer_pairs(layers: Sequence[Any], name: str) -> None:
    if not isinstance(layers, (list, tuple)) or not layers:
        raise TypeError(f"{name} must be a non-empty list of (weight, bias) pairs")
    for i, layer in enumerate(layers):
        if not isinstance(layer, (list, tuple)) or len(layer) != 2:
            raise TypeError(
                f"{name}[{i}] must be a (weight, bias) pair, got {type(layer).__name__}"
            )


def _checked_pair(
    weight: Any, bias: Any, i: int, names: tuple[str, str], bias_axis: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validate one layer: a 2-D matrix and a 1-D bias of length ``weight.shape[bias_axis]``."""
    w = _validation.as_real_array(_to_numpy(weight), f"layers[{i}] {names[0]}", ndim=2)
    b = _validation.as_real_array(_to_numpy(bias), f"layers[{i}] {names[1]}", ndim=1)
    if b.shape[0] != w.shape[bias_axis]:
        raise ValueError(
            f"layers[{i}] {names[1]} must have length {names[0]}.shape[{bias_axis}] = "
            f"{w.shape[bias_axis]}, got {b.shape[0]}"
        )
    return w, b


def layers_from_torch_linear(
    layers: Sequence[tuple[Any, Any]],
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Convert ``nn.Linear`` pairs ``(weight (out, in), bias (out,))`` to ``[(W, b)]``.

    ``W = weight.T``. Accepts NumPy arrays or anything with ``.detach().cpu().numpy()``
    (PyTorch tensors).

    Examples
    --------
    >>> import numpy as np
    >>> weight = np.arange(6.0).reshape(3, 2)      # nn.Linear(2, 3).weight layout
    >>> [(W, b)] = layers_from_torch_linear([(weight, np.zeros(3))])
    >>> W.shape
    (2, 3)
    """
    _check_layer_pairs(layers, "layers")
    out = []
    for i, (weight, bias) in enumerate(layers):
        w, b = _checked_pair(weight, bias, i, ("weight", "bias"), bias_axis=0)
        out.append((np.ascontiguousarray(w.T), b.copy()))
    return out


def layers_to_torch_linear(
    layers: Sequence[tuple[Any, Any]],
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inverse of :func:`layers_from_torch_linear`: ``[(W, b)] -> [(weight = W.T, bias)]``.

    Examples
    --------
    >>> import numpy as np
    >>> layers = [(np.ones((2, 3)), np.zeros(3))]
    >>> layers_to_torch_linear(layers)[0][0].shape
    (3, 2)
    """
    _check_layer_pairs(layers, "layers")
    out = []
    for i, (W, b) in enumerate(layers):
        w, bias = _checked_pair(W, b, i, ("W", "b"), bias_axis=1)
        out.append((np.ascontiguousarray(w.T), bias.copy()))
    return out


def _to_numpy(x: Any) -> Any:
    """PyTorch tensors to NumPy without importing torch; other input unchanged."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        return x.detach().cpu().numpy()
    return x


def torch_parameter_order(layers: Sequence[Sequence[int]]) -> np.ndarray:
    """Indices ``p`` with ``torch_flat = ours[p]`` for ``nn.Linear`` layers ``(fan_in, fan_out)``.

    PyTorch's ``parameters_to_vector`` stores each ``weight`` as ``(out, in)`` row-major, then
    the bias; hsc_ref stores ``W = weight.T`` row-major, then the bias. A Hessian in PyTorch's
    order is ``H[np.ix_(p, p)]``.

    Examples
    --------
    >>> torch_parameter_order([(2, 3)])          # W (2, 3) = weight.T, then b (3,)
    array([0, 3, 1, 4, 2, 5, 6, 7, 8])
    """
    layers = layers.tolist() if isinstance(layers, np.ndarray) else layers
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or not layers:
        raise TypeError(
            f"layers must be a non-empty list of (fan_in, fan_out) pairs, got {layers!r:.60}"
        )
    pieces, offset = [], 0
    for i, layer in enumerate(layers):
        if isinstance(layer, (str, bytes)) or not isinstance(layer, Sequence) or len(layer) != 2:
            raise TypeError(f"layers[{i}] must be a (fan_in, fan_out) pair, got {layer!r:.60}")
        fan_in, fan_out = (
            _validation.check_count(size, f"layers[{i}] {side}", minimum=1)
            for size, side in zip(layer, ("fan_in", "fan_out"), strict=True)
        )
        weight = offset + np.arange(fan_in)[None, :] * fan_out + np.arange(fan_out)[:, None]
        pieces += [weight.ravel(), offset + fan_in * fan_out + np.arange(fan_out)]
        offset += fan_in * fan_out + fan_out
    return np.concatenate(pieces)
