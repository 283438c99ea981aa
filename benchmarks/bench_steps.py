"""The HSC step from a given ``H``: hsc_ref's routes against the literal SciPy route and peers.

``H`` is a dense symmetric matrix with a known spectrum (normal eigenvalues scaled to
``||H|| = 10``, a tenth of them exactly zero, as singular Hessians have) and a Haar-random
eigenbasis; ``g`` is a normal vector. Accuracy is ``max|s - s_ref| / (lr * max|g|)`` against
hsc_ref's spectral reference. The flop floor of the Cholesky route is ``(4/3) n^3`` flops
(``syrk`` ``n^3``, ``potrf`` ``n^3 / 3``) at the ``dgemm`` rate measured in the same run.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from timing import measure_round_robin

LR = 1.0


def make_matrix(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric ``H`` (``||H|| = 10``, 10% exact zero eigenvalues) and a gradient ``g``."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q *= np.sign(np.diag(r))
    lam = rng.standard_normal(n)
    lam *= 10.0 / np.abs(lam).max()
    lam[: n // 10] = 0.0
    m = (q * lam) @ q.T
    return 0.5 * (m + m.T), rng.standard_normal(n)


def _phi(lam: Any, xp: Any) -> Any:
    return lam / (1.0 + lam * lam)


def _routes(H: np.ndarray, g: np.ndarray, threads: int, peers: bool, literal: bool):
    import scipy.linalg

    from hsc_ref.corrections import correct
    from hsc_ref.spectral import decompose
    from hsc_ref.steps import hsc_step, spectral_step

    routes: list[tuple[str, Any, str | None]] = [
        ("hsc_ref spectral", lambda: hsc_step(H, g, lr=LR), None),
        ("hsc_ref cholesky", lambda: hsc_step(H, g, lr=LR, route="cholesky"), None),
        ("hsc_ref auto", lambda: hsc_step(H, g, lr=LR, route="auto"), None),
    ]

    from hsc_ref.rules import newton_type

    rule = newton_type("hsc", lr=LR)
    state = rule.init(np.zeros(H.shape[0]))
    routes.append(
        ("hsc_ref rule step (newton_type hsc)", lambda: rule.update(g, state, hessian=H)[0], None)
    )

    def numpy_eigh() -> np.ndarray:
        lam, q = np.linalg.eigh(H)
        return -LR * (q @ (_phi(lam, np) * (q.T @ g)))

    def scipy_eigh(driver: str):
        def step() -> np.ndarray:
            lam, q = scipy.linalg.eigh(H, driver=driver, check_finite=False)
            return -LR * (q @ (_phi(lam, np) * (q.T @ g)))

        return step

    routes += [
        ("numpy eigh (syevd) step", numpy_eigh, None),
        ("scipy eigh evd step", scipy_eigh("evd"), None),
        ("scipy eigh evr step (default)", scipy_eigh("evr"), None),
    ]

    def one_eigh_all() -> np.ndarray:  # Hc, the step and the diagnostics from one eigh
        spectrum = decompose(H)
        result = correct(spectrum)
        _ = (result.rank_after, spectrum.inertia)
        return spectral_step(spectrum, g, lr=LR)

    def two_eighs_all() -> np.ndarray:  # the same, decomposing twice
        result = correct(H)
        _ = (result.rank_after, result.inertia_before)
        return hsc_step(H, g, lr=LR)

    routes += [
        ("hsc_ref Hc+step+diagnostics, 1 eigh", one_eigh_all, None),
        ("hsc_ref Hc+step+diagnostics, 2 eighs", two_eighs_all, None),
    ]
    if literal:

        def literal_scipy() -> np.ndarray:
            return -LR * (scipy.linalg.pinvh(H + scipy.linalg.pinvh(H)) @ g)

        routes.append(("literal: scipy pinvh twice", literal_scipy, None))
    else:
        routes.append(("literal: scipy pinvh twice", None, "skipped at this n (--literal-max)"))
    if peers:
        routes += [_torch_route(H, g, threads), _jax_route(H, g)]
    return routes


def _torch_route(H: np.ndarray, g: np.ndarray, threads: int):
    name = "torch eigh step"
    try:
        import torch
    except ImportError as exc:
        return name, None, f"skipped: {exc.name} not importable"
    torch.set_num_threads(threads)
    Ht, gt = torch.from_numpy(H), torch.from_numpy(g)

    def step() -> np.ndarray:
        lam, q = torch.linalg.eigh(Ht)
        return (-LR * (q @ (_phi(lam, torch) * (q.T @ gt)))).numpy()

    return name, step, None


def _jax_route(H: np.ndarray, g: np.ndarray):
    name = "jax eigh step (jit)"
    try:
        import jax
    except ImportError as exc:
        return name, None, f"skipped: {exc.name} not importable"
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    @jax.jit
    def fn(Hj: Any, gj: Any) -> Any:
        lam, q = jnp.linalg.eigh(Hj)
        return -LR * (q @ (_phi(lam, jnp) * (q.T @ gj)))

    Hj, gj = jnp.asarray(H), jnp.asarray(g)
    return name, lambda: np.asarray(fn(Hj, gj).block_until_ready()), None


def dgemm_rate(n: int = 2000, repeats: int = 3) -> float:
    """GFLOP/s of SciPy's ``dgemm`` at order ``n`` (best of ``repeats``)."""
    from scipy.linalg.blas import dgemm

    rng = np.random.default_rng(1)
    a, b = np.asfortranarray(rng.standard_normal((n, n))), np.asfortranarray(rng.random((n, n)))
    dgemm(1.0, a, b)
    best = min(_timed(lambda: dgemm(1.0, a, b)) for _ in range(repeats))
    return 2.0 * n**3 / best / 1e9


CALLS_PER_SAMPLE = 1000
"""Calls per timed sample at n = 10, and ``1000 (10 / n)^3`` (at least one) at larger n: a
step of microseconds is timed as a loop (one call after the pause between samples measures a
cold start, hundreds of microseconds at n = 10, not the step); the recorded times are per
call."""


def calls_per_sample(n: int) -> int:
    """How many calls one timed sample of an order-``n`` step makes (1 from n = 100)."""
    return max(1, round(CALLS_PER_SAMPLE * (10 / n) ** 3))


def _looped(fn: Any, calls: int) -> Any:
    """``fn`` called ``calls`` times in a row; returns the last result."""

    def many() -> Any:
        for _ in range(calls - 1):
            fn()
        return fn()

    return many


def _per_call(measured: dict[str, Any], calls: int) -> dict[str, Any]:
    """A sample of ``calls`` calls, restated per call."""
    for key in ("median_s", "min_s"):
        measured[key] /= calls
    measured["times_s"] = [t / calls for t in measured["times_s"]]
    measured["calls_per_sample"] = calls
    return measured


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(
    sizes: list[int],
    *,
    threads: int,
    repeats: int,
    peers: bool,
    literal_max: int,
    log: Any,
) -> tuple[list[dict[str, Any]], float]:
    """Time every route at every size; return the records and the dgemm rate."""
    rate = dgemm_rate(min(2000, max(sizes)))
    log(f"  dgemm rate: {rate:.1f} GFLOP/s (SciPy's BLAS, order {min(2000, max(sizes))})")
    records: list[dict[str, Any]] = []
    for n in sizes:
        H, g = make_matrix(n)
        routes = _routes(H, g, threads, peers, n <= literal_max)
        fns = {name: fn for name, fn, _ in routes if fn is not None}
        slow = frozenset(k for k in fns if k.startswith("literal") or "evr" in k)
        warm = {k: 1 for k in fns if "jax" in k}
        calls = {k: 1 if k in slow else calls_per_sample(n) for k in fns}
        fns = {k: _looped(fn, calls[k]) for k, fn in fns.items()}
        timed = measure_round_robin(fns, repeats=repeats, slow=slow, warmups=warm)
        timed = {k: _per_call(m, calls[k]) for k, m in timed.items()}
        reference = timed["hsc_ref spectral"]["result"]
        for name, fn, note in routes:
            if fn is None:
                records.append({"n": n, "method": name, "note": note})
                log(f"  n={n:5d} {name}: {note}")
                continue
            m = timed[name]
            s = m.pop("result")
            m["rel_err_vs_spectral"] = float(np.abs(s - reference).max()) / (
                LR * float(np.abs(g).max())
            )
            if name == "hsc_ref cholesky":
                m["flop_floor_s"] = (4.0 / 3.0) * n**3 / (rate * 1e9)
            records.append({"n": n, "method": name, **m})
            log(
                f"  n={n:5d} {name:38s} {m['median_s']:9.4f} s (min {m['min_s']:.4f})  "
                f"err {m['rel_err_vs_spectral']:.1e}"
            )
    return records, rate
