"""hsc_ref.strategies: installed strategies, the cutoff band they promise, a clear ImportError."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hsc_ref import strategies
from hsc_ref.spectral import golden_rtol


@settings(max_examples=30)
@given(data=st.data(), n=st.integers(2, 12), precision=st.sampled_from(["float64", "float32"]))
def test_cutoff_band_eigenvalues_lie_outside_the_rounding_band_and_near_the_cutoff(
    data, n, precision
):
    # an order-1 bulk (min_ratio 0.1): every eigenvalue within 3 x the cutoff is a band one
    lam = data.draw(strategies.spectra(n, min_ratio=0.1, cutoff_band=precision))
    ratio = np.abs(lam) / (golden_rtol(n, precision) * np.abs(lam).max())
    in_band = (ratio >= 0.2 * (1 - 1e-12)) & (ratio <= 3.0 * (1 + 1e-12))  # ends rounded
    assert in_band.any()
    # the band where rounding decides the kept set is 0.9 .. 1.1 x the cutoff (docs)
    assert not ((ratio > 0.85 * (1 + 1e-12)) & (ratio < 1.15 * (1 - 1e-12))).any()


@settings(max_examples=30)
@given(case=strategies.conformance_matrices("float32", max_n=6))
def test_conformance_matrices_are_symmetric_with_the_spectrum_they_were_built_from(case):
    assert case.H.shape == (case.n, case.n) and np.array_equal(case.H, case.H.T)
    assert 0 < case.norm <= 1e6 * (1 + 1e-4)  # a cluster may move the drawn max a little
    err = np.abs(np.linalg.eigvalsh(case.H) - np.sort(case.lam)).max()
    assert err <= strategies.rounding_tol(case.n, case.norm)


def test_the_test_suite_imports_the_installed_strategies():
    import strategies as suite  # tests/strategies.py

    assert suite.spectra is strategies.spectra
    assert set(strategies.__all__) <= set(dir(suite))


def test_without_hypothesis_the_import_error_names_the_test_extra():
    code = "import sys; sys.modules['hypothesis'] = None\nimport hsc_ref.strategies\n"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    assert "ImportError: hsc_ref.strategies needs Hypothesis" in done.stderr
    assert 'pip install "hsc-ref[test]"' in done.stderr
