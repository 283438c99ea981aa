"""Exact derivatives: the flat layout, closed forms, finite differences and the Hessian routes."""

from __future__ import annotations

import itertools

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from problems import make_problem
from strategies import EPS

from hsc_ref.derivatives import gradient, hessian, hessian_plain, hvp, value_grad_hessian
from hsc_ref.layout import flatten, layers_from_torch_linear, layers_to_torch_linear
from hsc_ref.models import mlp
from hsc_ref.testing import central_difference_gradient, central_difference_hessian

# --------------------------------------------------------------------------- flat layout


def test_flat_layout_is_layer_by_layer_weight_c_order_then_bias():
    W1 = np.arange(6.0).reshape(2, 3)
    b1 = np.array([100.0, 101.0, 102.0])
    W2 = np.asfortranarray(np.arange(6.0, 12.0).reshape(3, 2))  # memory order must not matter
    b2 = np.array([200.0, 201.0])
    flat, _ = flatten([(W1, b1), (W2, b2)])
    expected = np.concatenate([W1.ravel(order="C"), b1, np.ascontiguousarray(W2).ravel(), b2])
    np.testing.assert_array_equal(flat, expected)
    # W2[i, j] sits at offset 6 + 3 + 2 * i + j (C order), whatever W2's memory layout
    assert flat[9 + 2 * 1 + 0] == W2[1, 0]


def test_flat_layout_sorts_dict_keys_and_walks_nests_depth_first():
    params = {"z": np.array([1.0, 2.0]), "a": [np.array(3.0), (np.array([[4.0, 5.0]]),)]}
    flat, unflatten = flatten(params)
    np.testing.assert_array_equal(flat, [3.0, 4.0, 5.0, 1.0, 2.0])
    back = unflatten(flat)
    assert list(back) == ["z", "a"]  # the caller's key order is kept in the rebuilt dict
    assert isinstance(back["a"], list) and isinstance(back["a"][1], tuple)
    np.testing.assert_array_equal(back["a"][1][0], [[4.0, 5.0]])
    assert back["a"][0].shape == ()


def test_flatten_promotes_to_common_float_dtype():
    flat, unflatten = flatten([np.ones(2, dtype=np.float32), np.arange(3)])
    assert flat.dtype == np.float64
    flat32, _ = flatten([np.ones(2, dtype=np.float32)])
    assert flat32.dtype == np.float32
    assert unflatten(flat)[1].shape == (3,)


@st.composite
def layer_sizes(draw):
    return draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))


@given(sizes=layer_sizes(), seed=st.integers(0, 2**32 - 1), copies=st.integers(1, 3))
def test_unflatten_inverts_flatten_and_maps_copies_along_a_leading_axis(sizes, seed, copies):
    rng = np.random.default_rng(seed)
    params = mlp(sizes).init(rng)
    params = [(W, rng.standard_normal(b.shape)) for W, b in params]
    flat, unflatten = flatten(params)
    assert flat.shape == (sum(i * o + o for i, o in itertools.pairwise(sizes)),)
    for (W, b), (W2, b2) in zip(params, unflatten(flat), strict=True):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)
    np.testing.assert_array_equal(flatten(unflatten(flat))[0], flat)
    stack = rng.standard_normal((copies, flat.shape[0]))
    stacked = unflatten(stack)
    for c in range(copies):
        for (Ws, bs), (Wc, bc) in zip(stacked, unflatten(stack[c]), strict=True):
            assert Ws.shape == (copies, *Wc.shape) and bs.shape == (copies, *bc.shape)
            np.testing.assert_array_equal(Ws[c], Wc)
            np.testing.assert_array_equal(bs[c], bc)


def test_unflatten_rejects_wrong_length():
    _, unflatten = flatten([np.ones((2, 2))])
    with pytest.raises(ValueError, match=r"last axis of length 4, got \(5,\)"):
        unflatten(np.ones(5))


# --------------------------------------------------------------------------- closed forms


def _quadratic(seed: int = 0, n: int = 7):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))  # deliberately not symmetric
    b = rng.standard_normal(n)

    def f(x):
        return 0.5 * anp.dot(x, anp.dot(A, x)) + anp.dot(b, x)

    return f, A, b, rng.standard_normal(n)


@pytest.mark.parametrize("batched", [False, True])
def test_hessian_of_quadratic_is_symmetric_part_exactly(batched):
    # Every Hessian entry autograd forms is 0.5*A_ij + 0.5*A_ji (products with basis vectors
    # are exact, halving is exact), one rounding, the same as (A_ij + A_ji) * 0.5: bitwise equal.
    f, A, b, x = _quadratic()
    if batched:

        def fb(X):  # the same quadratic on a (k, n) stack of copies
            return 0.5 * anp.sum(X * anp.dot(X, A.T), axis=-1) + anp.dot(X, b)

        H = hessian(fb, x, batched=True)
    else:
        H = hessian(f, x, batched=False)
    np.testing.assert_array_equal(H, (A + A.T) / 2)


def test_gradient_of_quadratic_matches_closed_form():
    f, A, b, x = _quadratic()
    expected = 0.5 * (A @ x + A.T @ x) + b
    # two length-n dot products per entry, summed in another order: n * eps * (|A||x| + |b|)
    bound = 2 * x.shape[0] * EPS * (np.abs(A) @ np.abs(x) + np.abs(A.T) @ np.abs(x) + np.abs(b))
    assert np.all(np.abs(gradient(f, x) - expected) <= bound)


def _logistic(seed: int = 1, N: int = 40, n: int = 5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, n))
    t = (rng.uniform(size=N) < 0.5).astype(float)
    w = 0.3 * rng.standard_normal(n)

    def loss(v):
        z = anp.dot(v, X.T)  # (N,) for one point, (k, N) for a stack of copies
        return anp.mean(anp.logaddexp(0.0, z) - t * z, axis=-1)

    return loss, X, t, w


def test_logistic_regression_gradient_and_hessian_match_closed_forms():
    loss, X, t, w = _logistic()
    N = X.shape[0]
    z = X @ w
    p = 0.5 * (np.tanh(0.5 * z) + 1.0)
    weights = p * (1.0 - p)
    H_exact = X.T @ (weights[:, None] * X) / N
    g_exact = X.T @ (p - t) / N
    # Error bound per entry: autograd forms p*(1-p) with the cancellation 1 - p, relative error
    # about eps / min(p, 1-p), plus a few roundings in exp/log (say 8 eps); the sum over N
    # samples adds N * eps relative to the sum of absolute terms.
    per_sample = EPS * (N + 8 + 2 / np.minimum(p, 1.0 - p))
    H_bound = np.abs(X).T @ ((weights * per_sample)[:, None] * np.abs(X)) / N
    g_bound = np.abs(X).T @ (per_sample * (np.abs(p - t) + p)) / N
    for batched in (False, True):
        r = value_grad_hessian(loss, w, batched=batched)
        assert np.all(np.abs(r.hessian - H_exact) <= H_bound)
        assert np.all(np.abs(r.grad - g_exact) <= g_bound)
    assert H_bound.max() < 1e-12 * np.abs(H_exact).max()  # the bound is not vacuous


# --------------------------------------------------------------------------- finite differences


def _sines(seed: int = 2, m: int = 6, n: int = 4):
    """``f(x) = sum_k sin(a_k . x)``: every derivative is bounded by powers of ``|A|``."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))

    def f(x):
        return anp.sum(anp.sin(anp.dot(A, x)))

    return f, A, rng.standard_normal(n)


def _rounding_scale(A: np.ndarray, x: np.ndarray, h: float) -> float:
    """Bound on ``|fl(f(x')) - f(x')| / eps`` for ``f = sum sin(A x')``, ``|x' - x| <= 2h``.

    Each term: the dot product and the shifted point contribute ``(n + 2) |a_k| . |x'|`` (times
    ``|cos| <= 1``), ``sin`` one rounding; the sum over ``m`` terms adds ``m`` more.
    """
    m, n = A.shape
    ax = np.abs(A) @ (np.abs(x) + 2 * h)
    return float(np.sum((n + 2) * ax + 1.0) + m)


def _closed_form_bound(A: np.ndarray, x: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Bound on two evaluations of ``sum_k t(a_k . x) a_ki b_kj`` (``t`` = sin or cos).

    Sums of ``m`` terms: ``(m + 2) eps`` relative to the absolute terms; the argument
    ``a_k . x`` is off by ``(n + 1) eps |a_k| . |x|`` and ``|t'| <= 1`` passes that on.
    """
    m, n = A.shape
    a = np.abs(A)
    weight = (m + 2) + (n + 1) * (a @ np.abs(x))
    return 2 * EPS * a.T @ (weight[:, None] * np.abs(B))


def test_central_difference_gradient_agrees_within_derived_bound():
    f, A, x = _sines()
    h = 1e-5
    g = gradient(f, x)
    g_fd = central_difference_gradient(f, x, h=h)
    # truncation h^2/6 |f_iii| with |f_iii| <= sum_k |a_ki|^3; rounding 2 * eps * F / (2h)
    truncation = h**2 / 6 * np.sum(np.abs(A) ** 3, axis=0)
    rounding = EPS * _rounding_scale(A, x, h) / h
    assert np.all(np.abs(g_fd - g) <= truncation + rounding)
    assert np.all(np.abs(g - np.cos(A @ x) @ A) <= _closed_form_bound(A, x, np.ones(A.shape[1])))


@pytest.mark.parametrize("batched", [False, True])
def test_central_difference_hessian_agrees_within_derived_bound(batched):
    f, A, x = _sines()
    h = 1e-4
    if batched:
        H = hessian(lambda X: anp.sum(anp.sin(anp.dot(X, A.T)), axis=-1), x, batched=True)
    else:
        H = hessian(f, x, batched=False)
    H_fd = central_difference_hessian(f, x, h=h)
    # The 4-point formula: D_ij = f_ij + h^2/6 (f_iiij + f_ijjj) + O(h^4), and
    # |f_iiij| <= sum_k |a_ki|^3 |a_kj|. Rounding: four values each off by eps * F, over 4 h^2.
    a = np.abs(A)
    truncation = h**2 / 6 * ((a**3).T @ a + a.T @ a**3) * 1.01  # 1% for the O(h^4) tail
    rounding = EPS * _rounding_scale(A, x, h) / h**2
    assert np.all(np.abs(H_fd - H) <= truncation + rounding)
    assert (truncation + rounding).max() < 1e-4 * np.abs(H).max()  # a meaningful check
    H_closed = -A.T @ (np.sin(A @ x)[:, None] * A)
    assert np.all(np.abs(H - H_closed) <= _closed_form_bound(A, x, A))


def test_central_difference_helpers_reject_non_positive_step():
    f, _, x = _sines()
    with pytest.raises(ValueError, match=r"h must be positive, got 0\.0"):
        central_difference_hessian(f, x, h=0.0)
    with pytest.raises(ValueError, match="h must be a finite non-negative number, got -1"):
        central_difference_gradient(f, x, h=-1e-5)


# --------------------------------------------------------------------------- MLP loss, routes


def _mlp_loss(seed: int = 3):
    """The 3-4-2 tanh MLP regression loss of ``problems``: ``(loss, theta, batch)``."""
    problem = make_problem("mlp_tanh", seed)
    return problem.loss, problem.theta, problem.batch


def test_hessian_plain_route_is_symmetrized_autograd_hessian():
    loss, flat, _ = _mlp_loss()
    raw = np.asarray(autograd.hessian(loss)(flat))
    np.testing.assert_array_equal(hessian(loss, flat, batched=False), 0.5 * (raw + raw.T))
    np.testing.assert_array_equal(hessian_plain(loss, flat), hessian(loss, flat, batched=False))


@pytest.mark.parametrize("chunk_size", [None, 1, 7, 1000])
def test_batched_hessian_matches_plain_route_to_rounding(chunk_size):
    loss, flat, batch = _mlp_loss()
    n = flat.shape[0]
    H_plain = hessian(loss, flat, batched=False)
    H_batched = hessian(loss, flat, batched=True, chunk_size=chunk_size)
    # Same terms, summed in another order: over the batch (length B), the hidden width and
    # the parameter copies. Each reordering moves a sum by at most len * eps * sum|terms|, and
    # for this small well-scaled net sum|terms| stays within a factor ~10 of max|H|.
    tol = 10 * (batch + n) * EPS * np.abs(H_plain).max()
    assert np.abs(H_batched - H_plain).max() <= tol
    assert np.array_equal(H_batched, H_batched.T)


def _rows_from_a_trace_per_block(loss, flat, chunk_size):
    """The batched route as it was before its trace was shared: each block of rows traces
    the gradient over that block's own copies again, and seeds the reverse pass with the
    block's unit rows through ``sum(grad * basis)``."""
    n = flat.shape[0]
    rows = np.empty((n, n))
    for start in range(0, n, chunk_size):
        index = np.arange(start, min(start + chunk_size, n))
        copies = np.broadcast_to(flat, (index.size, n)).copy()
        basis = np.eye(n)[index]
        grad_of_copies = autograd.grad(lambda X: anp.sum(loss(X)))
        seeded = lambda X, g=grad_of_copies, b=basis: anp.sum(g(X) * b)  # noqa: E731
        rows[index] = autograd.grad(seeded)(copies)
    return 0.5 * (rows + rows.T)


@pytest.mark.parametrize("chunk_size", [1, 7, 32, 1000])
@pytest.mark.parametrize("workers", [1, 2])
def test_the_shared_trace_gives_the_rows_of_a_trace_per_block_bit_for_bit(chunk_size, workers):
    # The MLP loss treats each copy alone (stacked matmul, element-wise ops, sums over the
    # batch axis), so zero seeds past a short last block and one trace for all blocks change
    # no operation on a real row: equality is exact, for any number of threads.
    loss, flat, _ = _mlp_loss(seed=2)
    assert flat.shape[0] % 7 and flat.shape[0] % 32  # short last blocks are exercised
    expected = _rows_from_a_trace_per_block(loss, flat, min(chunk_size, flat.shape[0]))
    got = hessian(loss, flat, batched=True, chunk_size=chunk_size, workers=workers)
    np.testing.assert_array_equal(got, expected)


def test_hessian_is_exactly_symmetric_on_both_routes():
    loss, flat, _ = _mlp_loss(seed=4)
    raw = np.asarray(autograd.hessian(loss)(flat))
    assert not np.array_equal(raw, raw.T)  # autograd alone is symmetric only to rounding
    for batched in (False, True):
        H = hessian(loss, flat, batched=batched)
        assert np.array_equal(H, H.T)


def test_hvp_matches_hessian_times_vector():
    loss, flat, batch = _mlp_loss(seed=5)
    v = np.random.default_rng(6).standard_normal(flat.shape[0])
    H = hessian(loss, flat, batched=False)
    n = flat.shape[0]
    # H v sums n products; hvp reorders the batch sums inside: (n + B) eps relative to |H||v|
    bound = 10 * (n + batch) * EPS * (np.abs(H) @ np.abs(v))
    assert np.all(np.abs(hvp(loss, flat, v) - H @ v) <= bound)


def test_value_grad_hessian_bundles_the_separate_calls():
    loss, flat, _ = _mlp_loss(seed=7)
    r = value_grad_hessian(loss, flat, batched=True)
    assert r.value == float(loss(flat))
    np.testing.assert_array_equal(r.grad, gradient(loss, flat))
    np.testing.assert_array_equal(r.hessian, hessian(loss, flat, batched=True))
    assert r._fields == ("value", "grad", "hessian")


def test_batched_route_rejects_function_without_one_value_per_copy():
    with pytest.raises(ValueError, match=r"one value per parameter copy.*returned shape \(\)"):
        hessian(lambda x: anp.sum(x**2), np.ones(3), batched=True)
    # the right shape by accident: a (2, 2) stack summed over axis 0 also has 2 values, and
    # used to give a wrong matrix (max error 1.06) without a word
    with pytest.raises(ValueError, match=r"one value per parameter copy.*relative\) off"):
        hessian(lambda x: anp.sum(anp.sin(x), axis=0) ** 2, np.array([0.3, 1.1]), batched=True)


def test_a_dead_unit_gives_exact_zeros_in_the_gradient_and_hessian_on_both_routes():
    # The unit never fires, so the loss does not depend on its weights near theta: autograd
    # multiplies by relu'(x) = 0 exactly, and exactly these rows (no others) are zero.
    problem = make_problem("mlp_relu_dead_unit")
    assert len(problem.null_coordinates) == 4  # 2 incoming weights, the bias, 1 outgoing
    g = gradient(problem.loss, problem.theta)
    assert tuple(np.flatnonzero(g == 0)) == problem.null_coordinates
    for batched in (False, True):
        H = hessian(problem.loss, problem.theta, batched=batched)
        assert tuple(np.flatnonzero(~H.any(axis=1))) == problem.null_coordinates


def test_gradient_is_deterministic_and_float64():
    loss, flat, _ = _mlp_loss(seed=8)
    g1, g2 = gradient(loss, flat), gradient(loss, flat.copy())
    assert g1.dtype == np.float64
    np.testing.assert_array_equal(g1, g2)


# --------------------------------------------------------------------------- PyTorch converters


def test_torch_layout_converters_round_trip_numpy():
    rng = np.random.default_rng(9)
    layers = [
        (rng.standard_normal((3, 5)), rng.standard_normal(5)),
        (rng.standard_normal((5, 2)), rng.standard_normal(2)),
    ]
    torch_layout = layers_to_torch_linear(layers)
    assert [w.shape for w, _ in torch_layout] == [(5, 3), (2, 5)]
    for (W, b), (W2, b2) in zip(layers, layers_from_torch_linear(torch_layout), strict=True):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)


def _torch_net(torch, seed: int = 10):
    """A float64 ``Linear(3, 5) - Tanh - Linear(5, 2)`` with weights from a seeded Generator."""
    net = torch.nn.Sequential(
        torch.nn.Linear(3, 5, dtype=torch.float64),
        torch.nn.Tanh(),
        torch.nn.Linear(5, 2, dtype=torch.float64),
    )
    rng = np.random.default_rng(seed)  # no global torch seeding
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.from_numpy(rng.uniform(-0.8, 0.8, tuple(p.shape))))
    return net


def test_converted_torch_linear_layers_reproduce_torch_forward_pass():
    torch = pytest.importorskip("torch")
    net = _torch_net(torch)
    linears = [net[0], net[2]]
    layers = layers_from_torch_linear([(lin.weight, lin.bias) for lin in linears])
    x = np.random.default_rng(11).standard_normal((8, 3))
    with torch.no_grad():
        y_torch = net(torch.from_numpy(x)).numpy()
    y = mlp([3, 5, 2], activation="tanh").apply(layers, x)
    # Per layer, x @ W + b summed in another order: (fan_in + 1) eps (|x| |W| + |b|); tanh adds
    # a few ulps (say 3 eps |h|) and is 1-Lipschitz, so the first error passes through |W2|.
    (W1, b1), (W2, b2) = layers
    pre = x @ W1 + b1
    e1 = 4 * EPS * (np.abs(x) @ np.abs(W1) + np.abs(b1)) + 3 * EPS * np.abs(np.tanh(pre))
    e2 = 6 * EPS * (np.abs(np.tanh(pre)) @ np.abs(W2) + np.abs(b2)) + e1 @ np.abs(W2)
    assert np.all(np.abs(y - y_torch) <= e2)
    back = layers_to_torch_linear(layers)
    for (w, b), lin in zip(back, linears, strict=True):
        np.testing.assert_array_equal(w, lin.weight.detach().numpy())
        np.testing.assert_array_equal(b, lin.bias.detach().numpy())


def test_flat_hessian_matches_torch_hessian_in_documented_layout():
    torch = pytest.importorskip("torch")
    net = _torch_net(torch, seed=12)
    layers = layers_from_torch_linear([(net[0].weight, net[0].bias), (net[2].weight, net[2].bias)])
    rng = np.random.default_rng(13)
    x, y = rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
    flat, unflatten = flatten(layers)
    model = mlp([3, 5, 2], activation="tanh")

    def loss(theta):
        return anp.mean((model.apply(unflatten(theta), x) - y) ** 2, axis=(-2, -1))

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def torch_loss(theta):  # the documented layout: W (in, out) in C order, then b
        W1, b1 = theta[:15].reshape(3, 5), theta[15:20]
        W2, b2 = theta[20:30].reshape(5, 2), theta[30:32]
        return ((torch.tanh(xt @ W1 + b1) @ W2 + b2 - yt) ** 2).mean()

    H_torch = torch.autograd.functional.hessian(torch_loss, torch.from_numpy(flat)).numpy()
    H = hessian(loss, flat, batched=True)
    n = flat.shape[0]
    tol = 10 * (x.shape[0] + n) * EPS * np.abs(H).max()  # as in the batched-vs-plain test
    assert np.abs(H - 0.5 * (H_torch + H_torch.T)).max() <= tol
    # the gradient in torch's own parameter order maps to ours by W = weight.T
    net.zero_grad()
    out = ((net(xt) - yt) ** 2).mean()
    out.backward()
    grads = [(net[0].weight.grad, net[0].bias.grad), (net[2].weight.grad, net[2].bias.grad)]
    g_torch, _ = flatten(layers_from_torch_linear(grads))
    g = gradient(loss, flat)
    assert np.abs(g - g_torch).max() <= 10 * (x.shape[0] + n) * EPS * np.abs(g).max()


# --------------------------------------------------------------------------- trace memory


def _wide_loss(batch: int):
    """A batch-polymorphic loss whose trace holds ``(k, batch)`` intermediates per pass."""
    W = np.random.default_rng(batch).standard_normal((batch, 6))

    def loss(X):
        return anp.sum(anp.tanh(anp.dot(X, W.T)) ** 2, axis=-1)

    return loss


@pytest.mark.parametrize(("batch", "copies"), [(20_000, 1), (20_000, 6), (40_000, 2)])
def test_the_bytes_a_trace_holds_agree_with_tracemalloc(batch, copies):
    # tracemalloc counts NumPy's allocations independently of the walk over the trace; what
    # it sees beyond the walk is Python's own objects (the nodes), a few percent here
    import tracemalloc

    from hsc_ref._engine import first_trace

    loss, x = _wide_loss(batch), np.linspace(-1.0, 1.0, 6)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        rows_of, held = first_trace(loss, x, copies)
        rows_of(np.arange(1))
        traced = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 0.9 * traced <= held <= traced
    assert held >= copies * 2 * 8 * batch  # at least the products and their tanh, per copy


def test_the_trace_count_leaves_out_the_functions_own_data():
    from hsc_ref._engine import first_trace

    big = np.ones((1000, 1000))  # 8 MB of data the loss reads but the trace does not copy
    x = np.linspace(-1.0, 1.0, 6)

    def loss(X):
        return anp.sum(X**2, axis=-1) + 0.0 * big[0, 0]

    assert first_trace(loss, x, 4)[1] < big.nbytes / 100


def test_the_batched_route_refuses_traces_that_do_not_fit_before_allocating():
    from hsc_ref._engine import first_trace

    loss, x = _wide_loss(20_000), np.linspace(-1.0, 1.0, 6)
    trace = first_trace(loss, x, 6)[1]  # six rows: one trace of six copies
    dense = 6 * 6 * 8
    with pytest.raises(MemoryError, match=r"1 trace\(s\) of 6 copies of fun .* measured"):
        hessian(loss, x, batched=True, max_bytes=dense + trace - 1)
    H = hessian(loss, x, batched=True, max_bytes=dense + trace)
    np.testing.assert_array_equal(H, hessian(loss, x, batched=True))
    with pytest.raises(MemoryError, match=r"2 trace\(s\) of 3 copies"):  # two threads' traces
        hessian(loss, x, batched=True, workers=2, max_bytes=dense + trace - 1)


def test_the_walk_over_a_trace_visits_a_bounded_number_of_objects(monkeypatch):
    from hsc_ref import _engine

    arrays = [np.ones(10) for _ in range(100)]  # 80 bytes each
    assert _engine.held_bytes(arrays) == 100 * 80
    monkeypatch.setattr(_engine, "_WALK_LIMIT", 11)  # the list and ten arrays
    assert _engine.held_bytes(arrays) == 10 * 80
