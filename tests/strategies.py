"""The Hypothesis strategies of the test suite: :mod:`hsc_ref.strategies`, re-exported.

Import from a test module with ``from strategies import ...`` (pytest puts ``tests/`` on
``sys.path``); the strategies themselves are installed with the package (``hsc_ref.strategies``).
The suite also reads the module's internal constants and helpers, which are not public API.
"""

from __future__ import annotations

from hsc_ref.strategies import (  # noqa: F401
    CUTOFF_BAND_FACTORS,
    EPS,
    MAX_N,
    ROUNDING_FACTOR,
    SEPARATED_MIN_RATIO,
    SEPARATED_RTOL,
    SymmetricCase,
    conformance_matrices,
    exact_pinv_values,
    from_spectrum,
    gradients,
    learning_rates,
    matrix_with_spectrum,
    orders,
    orthogonal_matrices,
    random_orthogonal,
    rounding_tol,
    spectra,
    spectral_norm,
    symmetric_cases,
)
