"""hsc_ref: a NumPy/SciPy reference implementation of the Hessian singularity correction.

``Hc = H + pinv(H)`` of an exact Hessian ``H`` and the step ``-lr * pinv(Hc) g`` that uses it,
with the comparators, exact derivatives and diagnostics needed to check other implementations.
The most used names are re-exported here; every module has its own ``__all__``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
"""The package version (PEP 440)."""

if TYPE_CHECKING:  # the names below load on first use (PEP 562): import hsc_ref stays light
    from hsc_ref.corrections import CORRECTIONS, CorrectionResult, correct, get_correction
    from hsc_ref.derivatives import gradient, hessian, hvp, value_grad_hessian
    from hsc_ref.layout import flatten
    from hsc_ref.spectral import Spectrum, decompose
    from hsc_ref.steps import hsc_step, spectral_step

_LAZY = {
    "CORRECTIONS": "hsc_ref.corrections",
    "CorrectionResult": "hsc_ref.corrections",
    "correct": "hsc_ref.corrections",
    "get_correction": "hsc_ref.corrections",
    "gradient": "hsc_ref.derivatives",
    "hessian": "hsc_ref.derivatives",
    "hvp": "hsc_ref.derivatives",
    "value_grad_hessian": "hsc_ref.derivatives",
    "flatten": "hsc_ref.layout",
    "Spectrum": "hsc_ref.spectral",
    "decompose": "hsc_ref.spectral",
    "hsc_step": "hsc_ref.steps",
    "spectral_step": "hsc_ref.steps",
}
"""Where each re-exported name lives; ``hsc_ref.NAME`` imports its module on first use."""


def __getattr__(name: str) -> Any:
    """``hsc_ref.correct`` and the other re-exports, and ``hsc_ref.<submodule>``, on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
