"""Correct a matrix read from a file and write the result to a folder (``hsc-ref correct``).

Reads ``H`` (and optionally a gradient ``g``) from pickle-free ``.npy`` files and writes
``correction.npz`` (the corrected matrix, ``pinv(H)``, both sets of eigenvalues, the cutoff
policy and, with ``g``, the HSC step) and ``summary.json`` (ranks, inertias, cutoffs, norms).
The folder is one output set (``hsc_ref.lab._outputs``): both files and ``manifest.json`` appear
together or not at all; an existing set is refused before any work unless asked to replace
it, and then replaced as a whole.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import numpy as np

from hsc_ref import _io, _limits
from hsc_ref.corrections import ALIASES, CORRECTIONS, CorrectionResult, correct
from hsc_ref.lab import _outputs
from hsc_ref.steps import hsc_step

__all__ = ["OUTPUT_FILES", "correction_summary", "check_params", "correct_to_folder"]

OUTPUT_FILES = ("correction.npz", "summary.json")
"""The files :func:`correct_to_folder` writes (with the set's ``manifest.json``)."""


def correction_summary(result: CorrectionResult, source: str) -> dict[str, Any]:
    """The JSON-ready facts of a correction: policy, ranks, inertias, eigenvalue range.

    Parameters
    ----------
    result : CorrectionResult
    source : str
        Where ``H`` came from (recorded as ``input``).

    Returns
    -------
    dict

    Examples
    --------
    >>> import numpy as np
    >>> s = correction_summary(correct(np.diag([2.0, 0.0, -1.0])), "diag")
    >>> s["rank_before"], s["rank_after"], s["inertia_after"]
    (2, 2, {'positive': 1, 'negative': 1, 'zero': 1})
    """
    lam = result.eigenvalues_before
    return {
        "input": source,
        "method": result.method,
        "n": result.spectrum.n,
        "dtype": str(result.spectrum.dtype),
        "atol": result.atol,
        "rtol": result.rtol,
        "cutoff": result.cutoff,
        "rank_before": result.rank_before,
        "rank_after": result.rank_after,
        "null_dim_before": result.null_dim_before,
        "null_dim_after": result.null_dim_after,
        "inertia_before": vars(result.inertia_before),
        "inertia_after": vars(result.inertia_after),
        "eigenvalue_min_max_before": [float(lam.min()), float(lam.max())],
    }


def _arrays(result: CorrectionResult) -> dict[str, Any]:
    return {
        "corrected": result.matrix,
        "pinv": result.spectrum.pinv(),
        "eigenvalues_before": result.eigenvalues_before,
        "eigenvalues_after": result.eigenvalues_after,
        "atol": np.float64(result.atol),
        "rtol": np.float64(result.rtol),
        "cutoff": np.float64(result.cutoff),
    }


def check_params(method: str, params: dict[str, float]) -> None:
    """Refuse parameters a correction does not take, or a missing one, naming ``--param``.

    Examples
    --------
    >>> check_params("damped", {"mu": 0.1})      # fine: returns None
    >>> try:
    ...     check_params("damped", {})
    ... except ValueError as exc:
    ...     print(exc)
    correction 'damped' needs the parameter mu (--param mu=VALUE)
    """
    factory = CORRECTIONS.get(ALIASES.get(method, method))
    if factory is None:
        return  # correct() names the corrections there are
    taken = inspect.signature(factory).parameters
    unknown = sorted(set(params) - set(taken))
    if unknown:
        takes = ", ".join(taken) or "no parameters"
        raise ValueError(f"correction {method!r} takes {takes}, got the parameter {unknown[0]}")
    missing = [name for name, p in taken.items() if p.default is p.empty and name not in params]
    if missing:
        raise ValueError(
            f"correction {method!r} needs the parameter {missing[0]} (--param {missing[0]}=VALUE)"
        )


_EIGH_WORDS = 4
"""Words per entry of ``H`` an ``eigh`` allocates: the symmetrized copy, the eigenvectors and
``syevd``'s divide-and-conquer workspace (``2 n^2``)."""


def _check_eigh_fits(H: np.ndarray, source: str) -> None:
    """Refuse, before the decomposition allocates, an ``H`` whose ``eigh`` cannot fit in memory.

    Examples
    --------
    >>> import numpy as np
    >>> _check_eigh_fits(np.eye(3), "H.npy")                 # fits: returns None
    """
    n = H.shape[0] if H.ndim else 0
    _limits.require_memory(
        _EIGH_WORDS * H.size * H.dtype.itemsize,
        f"the eigh of {source} (n = {n})",
        hint="correct a smaller matrix",
    )


def correct_to_folder(
    matrix: str | os.PathLike,
    out: str | os.PathLike,
    *,
    method: str = "hsc",
    params: dict[str, float] | None = None,
    atol: float = 0.0,
    rtol: float | None = None,
    grad: str | os.PathLike | None = None,
    lr: float = 1.0,
    overwrite: bool = False,
    symmetry_rtol: float | None = None,
) -> dict[str, Any]:
    """Correct ``H`` read from ``matrix`` and write :data:`OUTPUT_FILES` to ``out``.

    Parameters
    ----------
    matrix : path
        Symmetric ``H`` as a ``.npy`` file (no pickles).
    out : path
        Output folder (created if missing): a new or empty folder, or a previous set of
        this command to replace with ``overwrite``.
    method : str
        Correction name (:data:`~hsc_ref.corrections.CORRECTIONS`).
    params : dict, optional
        The correction's parameters, e.g. ``{"mu": 0.1}``.
    atol, rtol : float
        Cutoff policy (:func:`~hsc_ref.spectral.decompose`).
    grad : path, optional
        Gradient ``g`` as ``.npy``: also write the HSC step ``-lr pinv(Hc) g`` (spectral
        route).
    lr : float
        Step size.
    overwrite : bool
        Replace existing outputs.
    symmetry_rtol : float, optional
        Relative symmetry tolerance of ``H`` (:func:`~hsc_ref.spectral.decompose`).

    Returns
    -------
    dict
        The summary written to ``summary.json``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> with tempfile.TemporaryDirectory() as d:
    ...     np.save(pathlib.Path(d) / "H.npy", np.diag([4.0, 0.0, -1.0]))
    ...     summary = correct_to_folder(pathlib.Path(d) / "H.npy", pathlib.Path(d) / "out")
    >>> summary["rank_before"], summary["null_dim_after"]
    (2, 1)
    """
    with _outputs.OutputSet(out, OUTPUT_FILES, command="correct", overwrite=overwrite) as outputs:
        check_params(method, params or {})
        H = _io.load_array(matrix, "H")  # its own size checked before it is read
        _check_eigh_fits(H, str(matrix))
        result = correct(
            H, method, atol=atol, rtol=rtol, symmetry_rtol=symmetry_rtol, **(params or {})
        )
        arrays = _arrays(result)
        summary = correction_summary(result, str(matrix))
        if grad is not None:
            g = _io.load_array(grad, "g")
            step = hsc_step(
                H, g, lr=lr, route="spectral", atol=atol, rtol=rtol, symmetry_rtol=symmetry_rtol
            )
            arrays.update(step=step, lr=np.float64(lr))
            summary.update(
                lr=lr,
                step_route="spectral",
                step_norm=float(np.linalg.norm(step)),
                grad_norm=float(np.linalg.norm(g)),
            )
        stage = outputs.staging()
        _io.atomic_save_npz(stage / "correction.npz", arrays)
        _io.atomic_write_json(stage / "summary.json", summary)
        outputs.commit()
    return summary
