"""Mode-coverage metrics of VEEGAN / PacGAN, pinned in ``docs/design.md``.

For generated samples and a mixture with mode centres ``c_k`` and std ``sigma``:

* each sample's *nearest mode* is ``argmin_k ||x - c_k||``;
* a sample is *high quality* when ``||x - c_nearest|| <= 3 sigma``;
* *modes captured* counts the modes that are nearest to at least one high-quality sample;
* *reverse KL* is ``KL(p || u) = sum_k p_k log(K p_k)`` with ``p`` the histogram of nearest
  modes over **all** samples and ``u`` uniform over the ``K`` modes (natural log;
  ``0 log 0 = 0``). It is 0 when every mode gets the same share and ``log K`` when every
  sample falls nearest one mode.

The published protocol uses 2500 samples (:data:`N_EVAL`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hsc_ref import _validation
from hsc_ref.gan.data import Mixture

__all__ = [
    "ModeMetrics",
    "mode_metrics",
]

N_EVAL = 2500
"""Number of generated samples the pinned metrics are computed on."""


class ModeMetrics(NamedTuple):
    """Mode coverage of a sample set.

    Attributes
    ----------
    modes_captured : int
        Modes nearest to at least one high-quality sample.
    high_quality_fraction : float
        Fraction of samples within ``3 std`` of their nearest mode.
    reverse_kl : float
        ``KL(nearest-mode histogram || uniform)`` in nats.
    counts : ndarray, shape (K,)
        Samples nearest each mode (all samples).
    high_quality_counts : ndarray, shape (K,)
        High-quality samples nearest each mode.
    """

    modes_captured: int
    high_quality_fraction: float
    reverse_kl: float
    counts: np.ndarray
    high_quality_counts: np.ndarray


def mode_metrics(samples: np.ndarray, data: Mixture) -> ModeMetrics:
    """Modes captured, high-quality fraction and reverse KL of ``samples`` against ``data``.

    Parameters
    ----------
    samples : array_like, shape (m, d)
        Generated samples (the protocol uses ``m = 2500``); finite.
    data : Mixture
        The mixture the samples should cover (``std > 0``).

    Returns
    -------
    ModeMetrics

    Raises
    ------
    ValueError
        If ``samples`` is not 2-D with ``d`` columns, is empty or not finite, or the mixture
        has ``std <= 0`` (the high-quality radius would be zero).

    Examples
    --------
    >>> import numpy as np
    >>> from hsc_ref.gan.data import mixture
    >>> ring = mixture("ring")
    >>> m = mode_metrics(np.repeat(ring.centers[:2], 10, axis=0), ring)  # two modes, evenly
    >>> m.modes_captured, m.high_quality_fraction, bool(np.isclose(m.reverse_kl, np.log(4)))
    (2, 1.0, True)
    """
    if not isinstance(data, Mixture):
        raise TypeError(f"data must be a Mixture, got {type(data).__name__}")
    if not data.std > 0:
        raise ValueError(f"data.std must be positive for mode metrics, got {data.std}")
    x = _validation.as_real_array(samples, "samples", ndim=2)
    k, d = data.centers.shape
    if x.shape[1] != d:
        raise ValueError(f"samples must have {d} columns, got shape {x.shape}")
    distances = np.linalg.norm(x[:, None, :] - data.centers[None, :, :], axis=2)
    nearest = np.argmin(distances, axis=1)
    high_quality = distances[np.arange(x.shape[0]), nearest] <= 3.0 * data.std
    counts = np.bincount(nearest, minlength=k)
    hq_counts = np.bincount(nearest[high_quality], minlength=k)
    p = counts / x.shape[0]
    seen = p > 0
    reverse_kl = float(np.sum(p[seen] * np.log(k * p[seen])))
    return ModeMetrics(
        modes_captured=int((hq_counts > 0).sum()),
        high_quality_fraction=float(high_quality.mean()),
        reverse_kl=reverse_kl,
        counts=counts,
        high_quality_counts=hq_counts,
    )
