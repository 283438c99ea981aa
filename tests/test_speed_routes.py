"""The fast routes agree with their references (correctness only; timings live in benchmarks/).

Fast routes: the batched exact Hessian (vs ``autograd.hessian``), the cheap-derivative
primitives of ``hsc_ref._autograd_ops`` (vs autograd's own rules), the tiled symmetrization
(vs ``(H + H^T) / 2``, bit for bit), the one-BLAS Cholesky step and ``route="auto"`` (vs the
spectral reference), and the memory refusals.
"""

from __future__ import annotations

import inspect
import io
import os
import platform
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import autograd
import autograd.numpy as anp
import autograd.tracer
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from problems import make_problem
from strategies import (
    EPS,
    from_spectrum,
    matrix_with_spectrum,
    orthogonal_matrices,
    rounding_tol,
    spectra,
)

from hsc_ref import _autograd_ops, _backend, steps
from hsc_ref._engine import keep_freed_memory
from hsc_ref.derivatives import hessian, hessian_plain, is_batch_polymorphic
from hsc_ref.lab import _correct_files as correct_files
from hsc_ref.layout import flatten
from hsc_ref.spectral import decompose
from hsc_ref.steps import auto_route, cholesky_error_bound, hsc_step


def _generator_loss(h: int):
    """The benchmark's generator loss of ``problems`` at width ``h`` (n = h^2 + 6h + 2)."""
    problem = make_problem(f"generator_h{h}")
    return problem.loss, problem.theta


def _reorder_tol(H: np.ndarray) -> float:
    """Both routes sum the same exact terms in different orders (batched kernels, chunks).

    Reordering a sum of ``m`` terms changes it by at most ``m * eps * sum|terms|``; with
    ``m <= n`` accumulations per entry and ``sum|terms|`` bounded by ``max|H|`` times the
    ``ROUNDING_FACTOR`` of ``strategies``, the tolerance is ``rounding_tol(n, max|H|)``.
    """
    return rounding_tol(H.shape[0], float(np.abs(H).max()))


# --------------------------------------------------------------------------- Hessians


@pytest.mark.parametrize("chunk_size", [None, 1, 7, 1000])
def test_batched_hessian_equals_autograd_hessian_on_the_gan_loss(chunk_size):
    loss, theta = _generator_loss(3)  # n = 29
    reference = hessian_plain(loss, theta)
    H = hessian(loss, theta, batched=True, chunk_size=chunk_size)
    assert H.shape == (29, 29)
    assert np.array_equal(H, H.T)  # symmetrized to the last bit
    assert np.abs(H - reference).max() <= _reorder_tol(reference)


@pytest.mark.parametrize(("workers", "chunk_size"), [(2, 5), (3, 4), (2, None), (4, 29)])
def test_thread_workers_give_the_same_hessian_bit_for_bit(workers, chunk_size):
    loss, theta = _generator_loss(3)
    one = hessian(loss, theta, batched=True, chunk_size=chunk_size or 15)  # default for n=29
    many = hessian(loss, theta, batched=True, chunk_size=chunk_size, workers=workers)
    assert np.array_equal(many, one)


@pytest.mark.parametrize("failing_thread", ["calling", "worker"])
def test_a_failing_worker_thread_raises_its_own_exception(failing_thread):
    loss, theta = _generator_loss(2)

    def fails_in_a_worker(X):
        calling = threading.current_thread() is threading.main_thread()
        in_a_block = anp.shape(X) == (5, theta.shape[0])  # not the polymorphism probe
        if in_a_block and calling == (failing_thread == "calling"):
            raise KeyError("worker failure")
        return loss(X)

    with pytest.raises(KeyError, match="worker failure"):
        hessian(fails_in_a_worker, theta, batched=True, chunk_size=5, workers=2)


def _hvp_while_another_thread_leaves_its_trace():
    """Force the interleaving that breaks autograd's one process-wide trace counter.

    Thread B enters a trace (depth 0), thread A enters the outer trace of a Hessian-vector
    product (depth 1), B leaves (counter back to 0), then A enters its inner trace: a shared
    counter gives it depth 1 again, the number of A's own outer trace. A's inner function
    also reads the outer variable, so an operation mixes boxes of both traces: with equal
    numbers autograd unwraps them together and loses the outer dependence there. Returns A's
    ``d/dy [grad_u sum(u^2 y) at u = y] . v = 4 y v`` at ``y = (1, 2)``, ``v = (1, 1)`` (or the
    exception it raised).
    """
    x, v = np.array([1.0, 2.0]), np.array([1.0, 1.0])
    b_inside, a_outside, b_left = threading.Event(), threading.Event(), threading.Event()
    outcome = {}

    def b_function(y):
        b_inside.set()
        assert a_outside.wait(10)
        return anp.sum(y**2)

    def a_outer(y):
        a_outside.set()
        assert b_left.wait(10)
        return anp.dot(autograd.grad(lambda u: anp.sum(u**2 * y))(y), v)

    def thread_b():
        autograd.grad(b_function)(x)
        b_left.set()

    def thread_a():
        assert b_inside.wait(10)
        try:
            outcome["hvp"] = autograd.grad(a_outer)(x)
        except Exception as exc:  # a corrupted trace may also raise
            outcome["hvp"] = exc

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return outcome["hvp"]


_HVP_EXPECTED = np.array([4.0, 8.0])
"""``4 y v`` at ``y = (1, 2)``, ``v = (1, 1)``: exact in binary."""


class _SharedTraceCounter:
    """One process-wide trace counter, the design of autograd's own ``TraceStack`` (1.7).

    The tests install this rather than autograd's class, so that they keep reproducing the race
    whether or not a later autograd makes its own counter per thread: what hsc_ref guarantees
    is that :func:`~hsc_ref._autograd_ops.thread_safe_tracing` removes it, not that autograd has
    it.
    """

    def __init__(self) -> None:
        self.top = -1

    @contextmanager
    def new_trace(self) -> Iterator[int]:
        self.top += 1
        try:
            yield self.top
        finally:
            self.top -= 1


def test_the_interleaving_breaks_a_process_wide_trace_counter(monkeypatch):
    # The scenario detects the race: with one shared counter the product is wrong (or raises).
    # Without this, the test below could pass on an interleaving that never races.
    monkeypatch.setattr(autograd.tracer, "trace_stack", _SharedTraceCounter())
    shared = _hvp_while_another_thread_leaves_its_trace()
    assert isinstance(shared, Exception) or not np.allclose(shared, _HVP_EXPECTED)


def test_per_thread_trace_counter_makes_that_interleaving_exact(monkeypatch):
    monkeypatch.setattr(autograd.tracer, "trace_stack", _SharedTraceCounter())
    _autograd_ops.thread_safe_tracing()
    assert np.array_equal(_hvp_while_another_thread_leaves_its_trace(), _HVP_EXPECTED)


def test_thread_safe_tracing_is_idempotent_and_keeps_the_callers_depth(monkeypatch):
    monkeypatch.setattr(autograd.tracer, "trace_stack", autograd.tracer.TraceStack())
    autograd.tracer.trace_stack.top = 2  # as if called inside three nested traces
    _autograd_ops.thread_safe_tracing()
    installed = autograd.tracer.trace_stack
    _autograd_ops.thread_safe_tracing()
    assert autograd.tracer.trace_stack is installed
    assert installed.top == 2
    with installed.new_trace() as depth:
        assert depth == 3
    assert installed.top == 2


def test_thread_safe_tracing_refuses_an_unknown_autograd(monkeypatch):
    monkeypatch.setattr(autograd.tracer, "trace_stack", object())
    with pytest.raises(RuntimeError, match="trace_stack must be autograd's TraceStack"):
        _autograd_ops.thread_safe_tracing()


@pytest.mark.parametrize("workers", [0, 1.5, True])
def test_workers_is_validated(workers):
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        hessian(lambda x: anp.sum(x**2, axis=-1), np.ones(3), batched=True, workers=workers)


def test_auto_route_detects_the_model_loss_and_gives_the_same_hessian():
    loss, theta = _generator_loss(2)
    assert is_batch_polymorphic(loss, theta)
    reference = hessian_plain(loss, theta)
    assert np.abs(hessian(loss, theta) - reference).max() <= _reorder_tol(reference)


@pytest.mark.parametrize(
    "fun",
    [
        lambda x: anp.sum(x**2),  # sums over the copies too
        lambda x: anp.dot(x, x),  # (k, n) . (k, n) is an error
        lambda x: anp.sum(x**3, axis=-1) * anp.sum(x),  # right shape, copies mixed
    ],
    ids=["sum-all", "dot", "mixed-copies"],
)
def test_non_polymorphic_functions_take_the_plain_route(fun):
    x = np.array([0.5, -1.0, 2.0])
    assert not is_batch_polymorphic(fun, x)
    assert np.array_equal(hessian(fun, x), hessian_plain(fun, x))


def test_tanh_primitive_matches_autograd_tanh_to_third_order():
    x = np.linspace(-3.0, 3.0, 7)

    def f(t):
        return anp.sum(_autograd_ops.tanh(t) ** 3)

    def g(t):
        return anp.sum(anp.tanh(t) ** 3)

    assert np.array_equal(_autograd_ops.tanh(x), np.tanh(x))
    for order in (autograd.grad, autograd.hessian):
        # 1 - tanh^2 and 1/cosh^2 are the same number to a few ulps; the tolerance is
        # rounding_tol at this size on values of order one.
        assert np.allclose(order(f)(x), order(g)(x), rtol=0, atol=rounding_tol(7, 1.0))
    third = autograd.jacobian(autograd.hessian(f))(x)
    assert np.allclose(third, autograd.jacobian(autograd.hessian(g))(x), atol=rounding_tol(7, 1))


def test_tanh_primitive_forward_mode_matches_the_derivative():
    x = np.array([-1.0, 0.25, 2.0])
    v = np.array([1.0, -2.0, 0.5])
    jvp = autograd.make_jvp(_autograd_ops.tanh)(x)(v)[1]
    assert np.allclose(jvp, v * (1 - np.tanh(x) ** 2), rtol=0, atol=4 * EPS)


def test_flat_slices_have_exact_first_and_second_derivatives():
    # f(x) = sum(a^2) * sum(b) with a = x[:2], b = x[2:]: closed-form Hessian.
    params = [np.array([1.0, 2.0]), np.array([3.0, -1.0, 0.5])]
    x, unflatten = flatten(params)

    def f(flat):
        a, b = unflatten(flat)
        return anp.sum(a**2, axis=-1) * anp.sum(b, axis=-1)

    expected = np.zeros((5, 5))
    expected[:2, :2] = 2 * np.eye(2) * x[2:].sum()
    expected[:2, 2:] = 2 * x[:2, None]
    expected[2:, :2] = expected[:2, 2:].T
    assert np.array_equal(autograd.grad(f)(x), np.r_[2 * x[:2] * x[2:].sum(), [5.0] * 3])
    assert np.array_equal(hessian(f, x, batched=False), expected)
    assert np.array_equal(hessian(f, x, batched=True), expected)
    jvp = autograd.make_jvp(lambda t: unflatten(t)[1])(x)(np.arange(5.0))[1]
    assert np.array_equal(jvp, [2.0, 3.0, 4.0])


@pytest.mark.parametrize(("n", "tile"), [(1, 3), (10, 3), (10, 256), (37, 8)])
def test_tiled_symmetric_part_is_bit_identical_to_the_formula(n, tile):
    a = np.random.default_rng(n).standard_normal((n, n))
    sym, asym, scale = _backend.symmetric_part(a, tile=tile)
    assert np.array_equal(sym, 0.5 * (a + a.T))
    assert (asym, scale) == (np.abs(a - a.T).max(), np.abs(a).max())
    exact = 0.5 * (a + a.T)
    same, zero, _ = _backend.symmetric_part(exact, tile=tile)
    assert same is exact and zero == 0.0  # an exactly symmetric input is not copied


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(("n", "tile"), [(1, 3), (9, 4), (9, 256)])
def test_a_non_finite_entry_anywhere_makes_the_scale_non_finite(n, tile, bad):
    # symmetric_matrix reads finiteness from max|H| instead of a pass of its own, so every
    # position, on and off the diagonal, in every tile, must reach the scale
    for i in range(n):
        for j in range(n):
            a = np.random.default_rng(n).standard_normal((n, n))
            a[i, j] = bad
            assert not np.isfinite(_backend.symmetric_part(a, tile=tile)[2]), (i, j)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_tiled_matrix_with_a_non_finite_entry_is_refused_by_name(bad):
    a = np.eye(300)  # past one 256-row tile
    a[299, 3] = a[3, 299] = bad
    for call in (lambda: decompose(a), lambda: hsc_step(a, np.ones(300))):
        with pytest.raises(ValueError, match=r"^H must be finite, got NaN or inf"):
            call()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("shape", [(6,), (6, 2)])
def test_the_spectral_route_refuses_a_non_finite_g_found_through_its_step(shape, bad):
    # the spectral route leaves g's finiteness to the step's own check: a non-finite entry
    # anywhere, even on a zero eigenvalue's direction (phi = 0: inf * 0 is NaN), still ends
    # in the message that names g, never in a step
    H = np.diag([2.0, 0.0, -1.0, 0.5, 0.0, 3.0])
    for position in np.ndindex(shape):
        g = np.ones(shape)
        g[position] = bad
        with pytest.raises(ValueError, match=r"^g must be finite, got NaN or inf"):
            hsc_step(H, g)


def test_an_eigenvalue_that_overflows_is_refused_by_the_spectral_route():
    H = np.full((3, 3), 1e308)  # finite, but its largest eigenvalue 3e308 is not
    with pytest.raises(FloatingPointError, match=r"eigh returned non-finite values"):
        hsc_step(H, np.ones(3))


_PHI_EDGES = [0.0, -0.0, 1.0, -1.0, np.nextafter(1.0, 2.0), np.nextafter(-1.0, -2.0), 5e-324,
              1e-300, 1e300, -1e300, np.finfo(np.float64).max, 1e154, 1e155]  # fmt: skip


@given(
    st.lists(
        st.one_of(
            st.sampled_from(_PHI_EDGES),
            st.floats(-1e6, 1e6),
            st.floats(allow_nan=False, allow_infinity=False),
        ),
        min_size=1,
        max_size=32,
    )
)
def test_the_scalar_phi_gives_the_array_formula_bit_for_bit(values):
    from hsc_ref.corrections import _phi, _phi_array, _phi_scalar

    lam = np.array(values, dtype=np.float64)
    expected = _phi_array(lam)
    got = _phi_scalar(lam)
    assert got.dtype == np.float64 and got.shape == lam.shape
    assert np.array_equal(got.view(np.int64), expected.view(np.int64))  # signs of zero too
    assert _phi(lam) is not None and np.array_equal(_phi(lam).view(np.int64), got.view(np.int64))


# --------------------------------------------------------------------------- steps


@given(data=st.data(), n=st.integers(1, 12))
def test_cholesky_step_matches_the_spectral_reference_within_its_bound(data, n):
    lam = data.draw(spectra(n, scale_exponents=(-3.0, 2.0)))
    H = from_spectrum(lam, data.draw(orthogonal_matrices(n)))
    g = np.random.default_rng(n).standard_normal((n, 2))
    reference = hsc_step(H, g, lr=0.5)
    for route in ("cholesky", "auto"):
        s = hsc_step(H, g, lr=0.5, route=route)
        # cholesky_error_bound derives n * eps * (1 + ||H||^2) relative to lr * ||g||; the
        # spectral reference adds its own n * eps * ||H||; factor: ROUNDING_FACTOR.
        bound = rounding_tol(n, (1.0 + np.abs(lam).max() ** 2) * 0.5 * np.abs(g).max())
        assert np.abs(s - reference).max() <= bound
        assert np.abs(s[:, 0] - hsc_step(H, g[:, 0], lr=0.5, route=route)).max() <= bound


def test_cholesky_route_in_float32_is_within_its_float32_bound():
    n = 30
    H = matrix_with_spectrum(np.linspace(-3.0, 3.0, n), seed=1)
    g = np.random.default_rng(2).standard_normal(n)
    reference = hsc_step(H, g)
    s = hsc_step(H.astype(np.float32), g.astype(np.float32), route="cholesky")
    assert s.dtype == np.float32
    eps32 = float(np.finfo(np.float32).eps)
    # rounding_tol's shape with float32's eps: ROUNDING_FACTOR * n * eps * (1 + ||H||^2) * |g|
    assert np.abs(s - reference).max() <= 10 * n * eps32 * (1 + 9.0) * np.abs(g).max()


def test_error_bound_uses_the_max_row_sum():
    H = np.array([[1.0, -2.0], [-2.0, 0.5]])
    assert cholesky_error_bound(H) == 2 * EPS * (1 + 3.0**2)


def test_auto_route_falls_back_to_spectral_for_huge_norm():
    H = matrix_with_spectrum(np.array([1e9, 3.0, 1e-3, 0.0, -2.0, -5e8]), seed=0)
    g = np.arange(6.0)
    assert auto_route(H) == "spectral"
    assert np.array_equal(hsc_step(H, g, route="auto"), hsc_step(H, g))


def test_auto_route_falls_back_when_the_factorization_fails(monkeypatch):
    H = np.diag([2.0, 0.0, -1.0])
    g = np.ones(3)
    assert auto_route(H) == "cholesky"

    def fail(*args):
        raise np.linalg.LinAlgError("potrf failed")

    monkeypatch.setattr(steps, "_cholesky_step", fail)
    assert np.array_equal(hsc_step(H, g, route="auto"), hsc_step(H, g))
    with pytest.raises(np.linalg.LinAlgError):
        hsc_step(H, g, route="cholesky")


def test_cholesky_route_refuses_a_failed_factorization():
    # ||H|| = 1e12: the rounding of H^2 (about eps * 1e24) swamps the identity on the null
    # space, I + H^2 is numerically indefinite and potrf stops.
    H = matrix_with_spectrum(np.array([1e12, 0, 0, 0, 0, 0, 0, -1e12]), seed=0)
    g = np.ones(8)
    with pytest.raises(np.linalg.LinAlgError, match="route='spectral' or 'auto'"):
        hsc_step(H, g, route="cholesky")
    forced = hsc_step(H, g, route="auto", cholesky_rtol=1e300)  # tries, then falls back
    assert np.array_equal(forced, hsc_step(H, g))


def test_cholesky_rtol_is_validated():
    with pytest.raises(ValueError, match="cholesky_rtol must be a finite non-negative"):
        hsc_step(np.eye(2), np.ones(2), route="auto", cholesky_rtol=-1.0)


# --------------------------------------------------------------------------- memory


def test_hessian_refuses_sizes_beyond_max_bytes_before_evaluating():
    calls = []

    def f(x):
        calls.append(1)
        return anp.sum(x**2, axis=-1)

    x = np.ones(100)
    with pytest.raises(MemoryError, match=r"dense Hessian of n = 100 needs about"):
        hessian(f, x, batched=True, max_bytes=8 * 100 * 100 - 1)
    assert not calls
    from hsc_ref._engine import first_trace

    traces = first_trace(f, x, 32)[1]  # one trace of 32 copies, measured
    with pytest.raises(MemoryError, match=r"and 1 trace\(s\) of 32 copies of fun"):
        hessian(f, x, batched=True, max_bytes=8 * 100 * 100)
    assert hessian(f, x, batched=True, max_bytes=8 * 100 * 100 + traces).shape == (100, 100)
    with pytest.raises(MemoryError):  # plain route: three dense copies
        hessian(f, x, batched=False, max_bytes=8 * 100 * 100 * 2)


def test_decompose_reads_no_memory_figure(monkeypatch):
    # the memory checks stand where users give sizes, not on every eigendecomposition
    def unavailable(*args, **kwargs):
        raise AssertionError("decompose read the available memory")

    monkeypatch.setattr(_backend, "available_memory", unavailable)
    assert decompose(np.eye(50)).n == 50
    assert "max_bytes" not in inspect.signature(decompose).parameters


def test_correct_refuses_a_matrix_whose_eigh_cannot_fit_before_decomposing(tmp_path, monkeypatch):
    np.save(tmp_path / "H.npy", np.eye(50))
    calls = []
    monkeypatch.setattr(correct_files, "correct", lambda *a, **k: calls.append(1))
    # the file's 8 * 50^2 bytes fit, the eigh's 4 * 8 * 50^2 do not
    monkeypatch.setattr(_backend, "available_memory", lambda *a: 4 * 8 * 50 * 50 - 1)
    with pytest.raises(MemoryError, match=r"the eigh of .*H\.npy \(n = 50\) needs about"):
        correct_files.correct_to_folder(tmp_path / "H.npy", tmp_path / "out")
    assert not calls and not (tmp_path / "out" / "summary.json").exists()


@pytest.mark.parametrize(("value", "error"), [(0, ValueError), (1.5, TypeError), (True, TypeError)])
def test_max_bytes_is_validated(value, error):
    with pytest.raises(error, match="max_bytes must be"):
        hessian(lambda x: anp.sum(x**2, axis=-1), np.ones(2), max_bytes=value)


@pytest.mark.skipif(not Path("/proc/meminfo").is_file(), reason="reads Linux's /proc/meminfo")
def test_available_memory_is_a_positive_number_of_bytes_where_proc_meminfo_exists():
    available = _backend.available_memory()
    assert isinstance(available, int) and available > 0


def _meminfo(text: str | None):
    """A stand-in for ``open`` in ``_backend``: ``/proc/meminfo`` reads ``text`` (or is absent)."""

    def fake_open(path, *args, **kwargs):
        if text is None:
            raise FileNotFoundError(path)
        assert path == "/proc/meminfo"
        return io.StringIO(text)

    return fake_open


def test_available_memory_reads_memavailable_in_kib(monkeypatch):
    meminfo = "MemTotal:       16000000 kB\nMemFree:  1 kB\nMemAvailable:   12345 kB\n"
    monkeypatch.setattr(_backend, "open", _meminfo(meminfo), raising=False)
    assert _backend.available_memory() == 12345 * 1024


@pytest.mark.parametrize("meminfo", [None, "MemTotal: 16000000 kB\n", "MemAvailable: ? kB\n"])
def test_available_memory_falls_back_to_free_pages_then_to_unknown(monkeypatch, meminfo):
    monkeypatch.setattr(_backend, "open", _meminfo(meminfo), raising=False)
    pages = {"SC_AVPHYS_PAGES": 7, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(os, "sysconf", pages.__getitem__)
    assert _backend.available_memory() == 7 * 4096

    def unsupported(name):
        raise ValueError(f"unrecognized configuration name {name!r}")

    monkeypatch.setattr(os, "sysconf", unsupported)
    assert _backend.available_memory() is None


# --------------------------------------------------------------------------- allocator

_FAULTS_PER_ALLOCATION = """
import resource, sys
import numpy as np
from hsc_ref.derivatives import keep_freed_memory
if sys.argv[1] == "keep":
    keep_freed_memory(mmap_threshold=2**27)
np.ones(5 * 2**20)  # 40 MiB: above glibc's largest dynamic mmap threshold (32 MiB)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    np.ones(5 * 2**20)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_keep_freed_memory_stops_page_faults_on_reallocation():
    # Each run is its own process: the setting is process-wide and permanent.
    def faults(mode: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c", _FAULTS_PER_ALLOCATION, mode],
            capture_output=True,
            text=True,
            check=True,
        )
        return float(out.stdout)

    pages = 40 * 2**20 / 4096  # 10240 pages of 4 KiB (fewer if huge pages are used)
    assert faults("default") > 0.5 * pages / 512  # mapped anew each time: pages faulted in
    assert faults("keep") < 10  # reused from the heap: no new pages


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"trim_threshold": 0}, "trim_threshold must be a positive integer"),
        ({"mmap_threshold": 2**31}, "mmap_threshold must be a positive integer"),
        ({"mmap_threshold": 1.5}, "mmap_threshold must be a positive integer"),
        ({"trim_threshold": True}, "trim_threshold must be a positive integer"),
        ({"arenas": 0}, "arenas must be a positive integer"),
    ],
)
def test_keep_freed_memory_validates_its_thresholds(kwargs, match):
    with pytest.raises(ValueError, match=match):
        keep_freed_memory(**kwargs)


def test_keep_freed_memory_refuses_other_c_libraries(monkeypatch):
    monkeypatch.setattr(platform, "libc_ver", lambda: ("musl", "1.2"))
    with pytest.raises(OSError, match="needs glibc"):
        keep_freed_memory()
