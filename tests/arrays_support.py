"""Checks of other libraries' arrays through the linear algebra, shared by test_arrays.py and
test_cupy.py so that every library runs the same assertions on the same cases.

The linear algebra computes on NumPy copies of such arrays and copies the results back (see
``hsc_ref._backend``), so the claim checked is exact: each result is an array of the caller's
library, dtype, device and shape whose values are *bit-identical* to those of the NumPy path on
the same values. No tolerance is involved; a result that went through another solver, another
dtype or a lossy conversion fails. Each library's own conversions (``Library.make`` and
``Library.host``) are used on the test side, never those of the code under test.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np
import pytest
from strategies import matrix_with_spectrum

from hsc_ref.corrections import (
    CORRECTIONS,
    correct,
    get_correction,
    hsc_inverse_values,
    literal_hsc,
    literal_hsc_nonsymmetric,
    summarize,
)
from hsc_ref.spectral import cutoff_for, decompose, decompose_symmetric, pinv_values
from hsc_ref.steps import HSC_ROUTES, auto_route, cholesky_error_bound, hsc_step, spectral_step

PARAMS = {"damped": {"mu": 0.1}, "clip": {"delta": 0.5}, "fill": {"mu": 1.0}}
"""Parameters of the corrections that take one."""

LAM = np.array([-3.0, -0.5, 0.0, 0.0, 0.25, 1.0, 2.0, 4.0])
"""A spectrum with both signs and an exact double zero: rank, inertia and null space matter."""
N = LAM.shape[0]


@dataclass(frozen=True)
class Library:
    """An array library under test, with its own conversions to and from NumPy.

    ``make`` copies a NumPy array into the library (onto ``device``); ``host`` copies one of
    its arrays back to NumPy. ``module`` spells the dtypes (``module.float32``...).
    """

    name: str
    module: Any
    device: Any
    make: Callable[[np.ndarray], Any]
    host: Callable[[Any], np.ndarray]

    def dtype(self, name: str) -> Any:
        """The library's dtype of a NumPy dtype name."""
        return getattr(self.module, name)


def case(dtype: Any = np.float64, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``H`` with spectrum :data:`LAM`, a gradient ``g`` and a block ``G`` of 3, in ``dtype``."""
    H = matrix_with_spectrum(LAM, seed=seed).astype(dtype)
    rng = np.random.default_rng(seed + 1)
    return H, rng.standard_normal(N).astype(dtype), rng.standard_normal((N, 3)).astype(dtype)


def assert_kind(out: Any, lib: Library, dtype: str, shape: tuple[int, ...]) -> None:
    """``out`` is an array of ``lib`` on ``lib.device`` with this dtype and shape."""
    assert array_api_compat.is_array_api_obj(out) and not isinstance(out, np.ndarray), type(out)
    assert type(out) is type(lib.make(np.zeros(1))), f"{type(out)} is not a {lib.name} array"
    assert array_api_compat.device(out) == lib.device, array_api_compat.device(out)
    assert out.dtype == lib.dtype(dtype), f"dtype {out.dtype}, expected {dtype}"
    assert tuple(out.shape) == shape, out.shape


def assert_same(out: Any, expected: np.ndarray, lib: Library) -> None:
    """``out`` is ``lib``'s kind of ``expected``, with bit-identical values."""
    assert isinstance(expected, np.ndarray), type(expected)
    assert_kind(out, lib, expected.dtype.name, expected.shape)
    host = lib.host(out)
    assert host.dtype == expected.dtype
    assert host.tobytes() == expected.tobytes(), np.abs(host - expected).max()


def check_decompose(lib: Library, dtype: Any) -> None:
    """decompose and every Spectrum method: the caller's kind, the NumPy path's bits."""
    H, g, G = case(dtype)
    want, got = decompose(H), decompose(lib.make(H))
    assert (got.atol, got.rtol, got.cutoff) == (want.atol, want.rtol, want.cutoff)
    assert got.rtol == N * float(np.finfo(dtype).eps)  # float32 keeps its own cutoff
    assert (got.n, got.rank, got.null_dim, got.inertia) == (N, 6, 2, want.inertia)
    assert got.dtype == lib.dtype(np.dtype(dtype).name)
    pinv_values_np = want.pinv_eigenvalues()
    pairs = [
        (got.eigenvalues, want.eigenvalues),
        (got.eigenvectors, want.eigenvectors),
        (got.kept, want.kept),
        (got.pinv_eigenvalues(), pinv_values_np),
        (got.dense(), want.dense()),
        (got.dense(lib.make(pinv_values_np)), want.dense(pinv_values_np)),
        (got.pinv(), want.pinv()),
        (got.solve(lib.make(g)), want.solve(g)),
        (got.solve(g), want.solve(g)),  # a NumPy argument mixes with the spectrum's kind
        (got.apply(lib.make(pinv_values_np), lib.make(G)), want.apply(pinv_values_np, G)),
        (decompose_symmetric(lib.make(H), atol=0.0, rtol=None).eigenvalues, want.eigenvalues),
    ]
    for out, expected in pairs:
        assert_same(out, expected, lib)
    op, v = got.as_linear_operator(), np.linspace(-1.0, 1.0, N).astype(dtype)
    assert np.array_equal(op.matvec(v), want.as_linear_operator().matvec(v))  # SciPy: NumPy


def check_corrections(lib: Library, dtype: Any) -> None:
    """correct (from a matrix and from a spectrum) and the spectral maps, for every method."""
    H, _, _ = case(dtype)
    spectrum_np, spectrum = decompose(H), decompose(lib.make(H))
    for method in sorted(CORRECTIONS):
        params = PARAMS.get(method, {})
        want = correct(H, method, **params)
        for got in (correct(lib.make(H), method, **params), correct(spectrum, method, **params)):
            assert_same(got.matrix, want.matrix, lib)
            assert_same(got.eigenvalues_before, want.eigenvalues_before, lib)
            assert_same(got.eigenvalues_after, want.eigenvalues_after, lib)
            assert_same(got.spectrum.eigenvectors, want.spectrum.eigenvectors, lib)
            facts = ("rank_before", "rank_after", "inertia_before", "inertia_after", "cutoff")
            assert all(getattr(got, f) == getattr(want, f) for f in facts), method
        correction = get_correction(method, **params)
        assert_same(correction.values(spectrum), correction.values(spectrum_np), lib)
        assert_same(
            correction.inverse_values(spectrum), correction.inverse_values(spectrum_np), lib
        )
        assert summarize(spectrum, method, **params) == summarize(spectrum_np, method, **params)
    lam = spectrum_np.eigenvalues
    assert_same(hsc_inverse_values(lib.make(lam)), hsc_inverse_values(lam), lib)
    assert_same(pinv_values(lib.make(lam), 0.1), pinv_values(lam, 0.1), lib)
    assert cutoff_for(lib.make(lam), 0.5, 0.25) == cutoff_for(lam, 0.5, 0.25)
    assert_same(literal_hsc(lib.make(H)), literal_hsc(H), lib)
    J = np.triu(H) - np.tril(H, -1)  # not symmetric
    assert_same(literal_hsc_nonsymmetric(lib.make(J)), literal_hsc_nonsymmetric(J), lib)


def check_steps(lib: Library, dtype: Any) -> None:
    """hsc_step by every route, spectral_step for every method, and the route helpers."""
    H, g, G = case(dtype)
    for route in HSC_ROUTES:
        want = hsc_step(H, g, lr=0.5, route=route)
        assert_same(hsc_step(lib.make(H), lib.make(g), lr=0.5, route=route), want, lib)
        assert_same(hsc_step(lib.make(H), g, lr=0.5, route=route), want, lib)  # NumPy g
        assert_same(hsc_step(H, lib.make(g), lr=0.5, route=route), want, lib)  # NumPy H
    assert_same(hsc_step(lib.make(H), lib.make(G)), hsc_step(H, G), lib)  # a block of gradients
    spectrum_np, spectrum = decompose(H), decompose(lib.make(H))
    for method in sorted(CORRECTIONS):
        params = PARAMS.get(method, {})
        want = spectral_step(spectrum_np, g, method, lr=2.0, **params)
        assert_same(spectral_step(spectrum, lib.make(g), method, lr=2.0, **params), want, lib)
    assert cholesky_error_bound(lib.make(H)) == cholesky_error_bound(H)
    assert auto_route(lib.make(H)) == auto_route(H) == "cholesky"
    assert auto_route(lib.make(H * 1e8)) == "spectral"


def _raises(exc: type[Exception], match: str, fn: Callable[[], Any]) -> None:
    with pytest.raises(exc, match=match):
        fn()


def check_validation(lib: Library) -> None:
    """Bad matrices of ``lib`` are refused with the NumPy path's messages (argument and rule)."""
    H, g, _ = case()
    A = H.copy()
    A[0, 1] += 1.0
    nan = H.copy()
    nan[2, 2] = math.nan
    _raises(
        ValueError,
        r"^H must be symmetric: max\|H - H.T\| = 1 exceeds",
        lambda: decompose(lib.make(A)),
    )
    _raises(ValueError, "^H must be finite, got NaN", lambda: correct(lib.make(nan)))
    _raises(
        ValueError, r"^H must be square, got shape \(8, 3\)", lambda: decompose(lib.make(H[:, :3]))
    )
    _raises(ValueError, "^H must be 2-D, got 1-D", lambda: hsc_step(lib.make(g), lib.make(g)))
    _raises(ValueError, "^H must not be empty", lambda: decompose(lib.make(np.zeros((0, 0)))))
    _raises(ValueError, "^g must be finite", lambda: hsc_step(lib.make(H), lib.make(g * math.inf)))
    _raises(
        ValueError,
        r"^g must have shape \(8,\) or \(8, k\)",
        lambda: hsc_step(lib.make(H), lib.make(g[:3])),
    )
    spectrum = decompose(lib.make(H))
    _raises(ValueError, r"^b must have shape \(8,\)", lambda: spectrum.solve(lib.make(g[:3])))
    _raises(ValueError, r"^values must have shape \(8,\)", lambda: spectrum.dense(lib.make(g[:3])))
    refused = ["bool", "complex128", "float16"]
    for name in [d for d in refused if hasattr(lib.module, d)]:
        bad = lib.make(np.eye(2, dtype=name))
        _raises(
            TypeError,
            r"^H must be a real floating-point array \(float32 or float64\), got dtype "
            + str(bad.dtype).replace(".", r"\."),
            lambda bad=bad: decompose(bad),
        )
