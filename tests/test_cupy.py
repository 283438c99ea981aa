"""CuPy arrays through the linear algebra: the checks of test_arrays.py on a GPU.

See docs/design.md, "Other libraries' arrays". Skipped where CuPy or a CUDA device is missing
(this includes every CPU-only machine). CuPy arrays take the path of every other library's
arrays, which tests/test_arrays.py runs on array-api-strict (a second device included), PyTorch
and JAX: copied to the host, computed by the NumPy path, copied back onto the caller's device.
The checks are the shared ones of ``arrays_support``: results are CuPy arrays on the input's
device, with the NumPy path's dtype, shape and bits.
"""

from __future__ import annotations

import numpy as np
import pytest
from arrays_support import (
    Library,
    assert_same,
    check_corrections,
    check_decompose,
    check_steps,
    check_validation,
)
from strategies import ROUNDING_FACTOR

from hsc_ref.corrections import correct

cp = pytest.importorskip("cupy")
try:
    if cp.cuda.runtime.getDeviceCount() < 1:
        pytest.skip("no CUDA device", allow_module_level=True)
except cp.cuda.runtime.CUDARuntimeError as exc:  # driver or device missing
    pytest.skip(f"no usable CUDA device: {exc}", allow_module_level=True)

CUPY = Library("cupy", cp, cp.cuda.Device(0), make=cp.asarray, host=cp.asnumpy)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_decompose_and_spectrum_methods_return_cupy_with_numpys_bits(dtype):
    with CUPY.device:
        check_decompose(CUPY, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_corrections_and_spectral_maps_return_cupy_with_numpys_bits(dtype):
    with CUPY.device:
        check_corrections(CUPY, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_steps_by_every_route_return_cupy_with_numpys_bits(dtype):
    with CUPY.device:
        check_steps(CUPY, dtype)


def test_bad_cupy_matrices_get_the_numpy_paths_messages():
    with CUPY.device:
        check_validation(CUPY)


def test_a_cupy_result_stays_on_the_inputs_device():
    if cp.cuda.runtime.getDeviceCount() < 2:
        pytest.skip("one CUDA device")
    other = Library("cupy", cp, cp.cuda.Device(1), make=cp.asarray, host=cp.asnumpy)
    H = np.diag([2.0, 0.0, -1.0])
    with other.device:
        assert_same(correct(cp.asarray(H)).matrix, correct(H).matrix, other)


def test_gram_matrix_accepts_cupy():
    """``style.gram`` is autograd.numpy code, which NumPy's dispatch runs on CuPy arrays."""
    style = pytest.importorskip("hsc_ref.style")
    F = np.random.default_rng(5).standard_normal((4, 4, 3))
    G = style.gram(cp.asarray(F))
    assert isinstance(G, cp.ndarray)
    tol = ROUNDING_FACTOR * 40 * float(np.finfo(np.float64).eps) * 16.0 * 9.0
    assert np.abs(cp.asnumpy(G) - style.gram(F)).max() <= tol
