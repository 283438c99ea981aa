"""Other libraries' arrays: array-api-strict, PyTorch and JAX through the linear algebra.

See docs/design.md, "Other libraries' arrays". Every library runs the checks of
``arrays_support`` (the caller's namespace, dtype, device and shape; values bit-identical to
the NumPy path), in float64 and float32, plus the refusals of the functions that need NumPy
and the comparisons of ``hsc_ref.testing``. array-api-strict (installed with the ``test``
extra) has no GPU but a second device, so the path a GPU array takes, device included, runs on
every machine; tests/test_cupy.py runs the same checks on CuPy where a GPU exists. A library
that is not installed is skipped.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import numpy as np
import pytest
from arrays_support import (
    Library,
    assert_kind,
    assert_same,
    case,
    check_corrections,
    check_decompose,
    check_steps,
    check_validation,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import learning_rates, symmetric_cases

from hsc_ref import derivatives, testing
from hsc_ref.corrections import correct
from hsc_ref.spectral import decompose, default_rtol
from hsc_ref.steps import hsc_step, spectral_step

ROOT = Path(__file__).resolve().parents[1]


def _strict(device_name: str) -> Library:
    xs = pytest.importorskip("array_api_strict")
    device = xs.Device(device_name)
    return Library(
        f"array_api_strict on {device_name}",
        xs,
        device,
        make=lambda a: xs.asarray(a.copy(), device=device),
        host=lambda x: np.from_dlpack(x).copy(),
    )


def _torch() -> Library:
    torch = pytest.importorskip("torch")
    return Library(
        "torch",
        torch,
        torch.device("cpu"),
        make=torch.tensor,  # a copy
        host=lambda t: t.detach().cpu().numpy().copy(),
    )


def _jax() -> Library:
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    device = jax.devices("cpu")[0]
    return Library("jax", jnp, device, make=lambda a: jnp.array(a, device=device), host=np.array)


LIBRARIES = {
    "strict": lambda: _strict("CPU_DEVICE"),
    "strict-device1": lambda: _strict("device1"),
    "torch": _torch,
    "jax": _jax,
}


def _float64_mode(name: str, dtype: type) -> AbstractContextManager:
    """JAX holds float64 only in its 64-bit mode (its default turns float64 into float32)."""
    if name == "jax" and dtype is np.float64:
        return pytest.importorskip("jax").enable_x64(True)
    return nullcontext()


@pytest.fixture(params=sorted(LIBRARIES))
def lib(request) -> Library:
    return LIBRARIES[request.param]()


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def dtype(request, lib):
    with _float64_mode(lib.name, request.param):
        yield request.param


# --------------------------------------------------------------------------- the shared checks


def test_decompose_and_spectrum_methods_return_the_callers_kind_with_numpys_bits(lib, dtype):
    check_decompose(lib, dtype)


def test_corrections_and_spectral_maps_return_the_callers_kind_with_numpys_bits(lib, dtype):
    check_corrections(lib, dtype)


def test_steps_by_every_route_return_the_callers_kind_with_numpys_bits(lib, dtype):
    check_steps(lib, dtype)


def test_bad_matrices_of_every_library_get_the_numpy_paths_messages(lib):
    with _float64_mode(lib.name, np.float64):
        check_validation(lib)


@settings(max_examples=max(1, settings.default.max_examples // 2))  # ci: 30, well under 1 s
@given(
    sym=symmetric_cases(tiny=True),
    seed=st.integers(0, 2**32 - 1),
    lr=learning_rates,
    which=st.sampled_from(["strict-device1", "torch"]),
    single=st.booleans(),
)
def test_drawn_matrices_give_numpys_bits_in_the_callers_kind(sym, seed, lr, which, single):
    lib = LIBRARIES[which]()
    dtype = np.float32 if single else np.float64
    H = sym.H.astype(dtype)
    g = (np.random.default_rng(seed).standard_normal(sym.n) * sym.norm).astype(dtype)
    assert_same(hsc_step(lib.make(H), lib.make(g), lr=lr), hsc_step(H, g, lr=lr), lib)
    got, want = correct(lib.make(H)), correct(H)
    assert_same(got.matrix, want.matrix, lib)
    assert (got.rank_before, got.inertia_after) == (want.rank_before, want.inertia_after)


# --------------------------------------------------------------------------- what is returned


def test_integer_matrices_become_float64_in_the_callers_namespace():
    torch = pytest.importorskip("torch")
    r = correct(torch.eye(3, dtype=torch.int64) * 2)
    assert r.matrix.dtype == torch.float64
    assert torch.equal(r.matrix, torch.eye(3, dtype=torch.float64) * 2.5)


def test_jax_without_64_bit_mode_refuses_a_float64_result_it_cannot_hold():
    jnp = pytest.importorskip("jax.numpy")
    with pytest.raises(
        TypeError,
        match=r'jax cannot hold the float64 result .* call jax.config.update\("jax_enable_x64"',
    ):
        correct(jnp.eye(2, dtype=jnp.int32))


def test_mixed_precision_follows_numpys_promotion():
    torch = pytest.importorskip("torch")
    H, g, _ = case(np.float32)
    step = hsc_step(torch.tensor(H), torch.tensor(g.astype(np.float64)))
    assert step.dtype == torch.float64
    assert step.numpy().tobytes() == hsc_step(H, g.astype(np.float64)).tobytes()


def test_a_tensor_that_requires_grad_is_read_and_the_result_has_no_history():
    torch = pytest.importorskip("torch")
    H, g, _ = case()
    tH, tg = torch.tensor(H, requires_grad=True), torch.tensor(g, requires_grad=True)
    step = hsc_step(tH, tg)
    assert not step.requires_grad
    assert step.numpy().tobytes() == hsc_step(H, g).tobytes()


def test_writing_to_a_returned_array_does_not_change_the_spectrum():
    torch = pytest.importorskip("torch")
    H, _, _ = case()
    spectrum = decompose(torch.tensor(H))
    spectrum.eigenvalues[:] = 7.0  # the caller owns what it got back
    spectrum.eigenvectors[:] = 0.0
    assert spectrum.pinv().numpy().tobytes() == decompose(H).pinv().tobytes()


def test_arrays_of_two_libraries_or_two_devices_are_refused_naming_both():
    H, g, _ = case()
    cpu, other = _strict("CPU_DEVICE"), _strict("device1")
    with pytest.raises(TypeError, match=r"^H and g must be arrays of one library on one device"):
        hsc_step(cpu.make(H), other.make(g))
    torch, jnp = pytest.importorskip("torch"), pytest.importorskip("jax.numpy")
    with pytest.raises(TypeError, match="got torch on cpu and jax on "):
        hsc_step(torch.tensor(H), jnp.asarray(g))
    with pytest.raises(TypeError, match=r"^spectrum and g must be arrays of one library"):
        spectral_step(decompose(torch.tensor(H)), other.make(g))


def test_default_rtol_reads_another_librarys_dtype():
    torch = pytest.importorskip("torch")
    assert default_rtol(5, torch.float32) == default_rtol(5, np.float32) == 5 * 2.0**-23


def test_the_numpy_path_imports_no_other_array_library():
    code = (
        "import sys, numpy as np\n"
        "from hsc_ref import correct, hsc_step, testing\n"
        "H = np.diag([2.0, 0.0]); correct(H); hsc_step(H, np.ones(2), route='cholesky')\n"
        "testing.assert_close(H, H, rtol=0, atol=0, reason='same')\n"
        "print(sorted(m for m in ('array_api_compat', 'cupy', 'torch', 'jax') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# --------------------------------------------------------------------------- NumPy only


DERIVATIVES = {
    "gradient": lambda x: derivatives.gradient(lambda y: (y**2).sum(), x),
    "hvp": lambda x: derivatives.hvp(lambda y: (y**2).sum(), x, x),
    "hessian": lambda x: derivatives.hessian(lambda y: (y**2).sum(), x),
    "hessian_plain": lambda x: derivatives.hessian_plain(lambda y: (y**2).sum(), x),
    "value_grad_hessian": lambda x: derivatives.value_grad_hessian(lambda y: (y**2).sum(), x),
    "is_batch_polymorphic": lambda x: derivatives.is_batch_polymorphic(lambda y: y.sum(), x),
}


@pytest.mark.parametrize("who", sorted(DERIVATIVES))
def test_derivatives_refuse_a_tensor_and_say_what_to_pass(who):
    torch = pytest.importorskip("torch")
    x = torch.ones(3, requires_grad=True)
    expected = (
        f"{who} needs NumPy arrays (autograd traces NumPy only); got torch.Tensor: pass "
        "x.detach().cpu().numpy()"
    )
    with pytest.raises(TypeError) as info:
        DERIVATIVES[who](x)
    assert str(info.value) == expected


def test_hvp_refuses_a_jax_direction_and_says_what_to_pass():
    jnp = pytest.importorskip("jax.numpy")
    with pytest.raises(TypeError) as info:
        derivatives.hvp(lambda y: (y**2).sum(), np.ones(2), jnp.ones(2))
    assert str(info.value) == (
        "hvp needs NumPy arrays (autograd traces NumPy only); got jax.Array: pass numpy.asarray(v)"
    )


def test_other_numpy_functions_refuse_another_librarys_array_with_advice():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError) as info:
        testing.central_difference_gradient(lambda y: float(y.sum()), torch.ones(2))
    assert str(info.value) == (
        "x must be a NumPy array here, got torch.Tensor: pass x.detach().cpu().numpy()"
    )


# --------------------------------------------------------------------------- comparisons


def test_assert_close_accepts_a_tensor_that_requires_grad():
    torch = pytest.importorskip("torch")
    H, _, _ = case()
    actual = torch.tensor(H, requires_grad=True) * 1.0  # part of a graph
    assert testing.assert_close(actual, H, rtol=0, atol=0, reason="the same values").ok
    off = torch.zeros(8, 8, dtype=torch.float64)
    off[0, 5] = 1.0
    with pytest.raises(AssertionError, match=r"^H: max abs err 1, .* at \(0, 5\) exceeds"):
        testing.assert_close(actual + off, H, rtol=0, atol=0.5, reason="r", name="H")


def test_compare_arrays_reads_jax_strict_device_and_bfloat16_arrays():
    jnp, torch = pytest.importorskip("jax.numpy"), pytest.importorskip("torch")
    strict = _strict("device1")
    x = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    for actual in (jnp.asarray(x), strict.make(x), torch.tensor(x, dtype=torch.bfloat16)):
        assert testing.compare_arrays(actual, x, rtol=0, atol=0).ok, type(actual)
    c = testing.compare_arrays(torch.zeros(3), jnp.zeros(2), rtol=0, atol=1)
    assert c.message == "shape (3,) differs from the expected (2,)"


def test_assert_kind_catches_a_result_of_the_wrong_kind():
    """The shared checks can fail: a NumPy result, a wrong dtype or device are refused."""
    lib, other = _strict("CPU_DEVICE"), _strict("device1")
    H, _, _ = case()
    with pytest.raises(AssertionError):
        assert_kind(H, lib, "float64", H.shape)
    with pytest.raises(AssertionError):
        assert_kind(lib.make(H.astype(np.float32)), lib, "float64", H.shape)
    with pytest.raises(AssertionError):
        assert_kind(other.make(H), lib, "float64", H.shape)
    with pytest.raises(AssertionError):
        assert_same(lib.make(np.nextafter(H, 1.0)), H, lib)  # one ulp off is not the same
