"""hsc_ref: a NumPy/SciPy reference implementation of the Hessian singularity correction.

``Hc = H + pinv(H)`` of an exact Hessian ``H`` and the step ``-lr * pinv(Hc) g`` that uses it,
with the comparators, exact derivatives and diagnostics needed to check other implementations.
The most used names are re-exported here; every module has its own ``__all__``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from hsc_ref.corrections import CORRECTIONS, CorrectionResult, correct, get_correction
from hsc_ref.derivatives import gradient, hessian, hvp, value_grad_hessian
from hsc_ref.layout import flatten
from hsc_ref.spectral import Spectrum, decompose
from hsc_ref.steps import hsc_step, spectral_step

__all__ = [
    "__version__",
    "CORRECTIONS",
    "CorrectionResult",
    "Spectrum",
    "correct",
    "decompose",
    "flatten",
    "get_correction",
    "gradient",
    "hessian",
    "hsc_step",
    "hvp",
    "spectral_step",
    "value_grad_hessian",
]
