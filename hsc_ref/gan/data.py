"""Pinned toy data for GANs: the ring, the grid and DiracGAN's point mass.

The setup is pinned in ``docs/design.md``, "GAN setup and metrics".

=========  ==========================================================  =======
name       modes                                                       std
=========  ==========================================================  =======
``ring``   8 Gaussians at ``2 (cos(2 pi k / 8), sin(2 pi k / 8))``     0.02
``grid``   25 Gaussians at ``{-4, -2, 0, 2, 4}^2``                     0.05
``dirac``  one point mass at 0 in 1-D (Mescheder et al. 2018)          0
=========  ==========================================================  =======

Samplers take an explicit :class:`numpy.random.Generator`; the same generator state gives
bit-identical samples.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hsc_ref import _limits, _validation

__all__ = ["Mixture", "DATASETS", "mixture", "sample"]

DATASETS = ("ring", "grid", "dirac")
"""Names accepted by :func:`mixture`."""


class Mixture(NamedTuple):
    """An equal-weight isotropic Gaussian mixture.

    Attributes
    ----------
    name : str
        Registry name.
    centers : ndarray, shape (K, d)
        Mode centres.
    std : float
        Standard deviation of every mode (0 for a point mass).
    """

    name: str
    centers: np.ndarray
    std: float


def mixture(name: str) -> Mixture:
    """The pinned mixture called ``name`` (one of :data:`DATASETS`).

    Examples
    --------
    >>> m = mixture("ring")
    >>> m.centers.shape, m.std
    ((8, 2), 0.02)
    >>> mixture("grid").centers.shape
    (25, 2)
    """
    if name == "ring":
        angles = 2.0 * np.pi * np.arange(8) / 8
        return Mixture("ring", 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.02)
    if name == "grid":
        axis = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
        xs, ys = np.meshgrid(axis, axis, indexing="ij")
        return Mixture("grid", np.stack([xs.ravel(), ys.ravel()], axis=1), 0.05)
    if name == "dirac":
        return Mixture("dirac", np.zeros((1, 1)), 0.0)
    raise ValueError(f"data must be one of {DATASETS}, got {name!r}")


def sample(data: Mixture, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` samples: a uniformly chosen mode plus ``std`` times standard normal noise.

    Parameters
    ----------
    data : Mixture
        From :func:`mixture`.
    n : int
        Positive number of samples.
    rng : numpy.random.Generator
        Source of randomness (mode indices first, then the noise).

    Returns
    -------
    ndarray, shape (n, d)

    Examples
    --------
    >>> import numpy as np
    >>> x = sample(mixture("ring"), 5, np.random.default_rng(0))
    >>> x.shape
    (5, 2)
    >>> bool(np.allclose(np.linalg.norm(x, axis=1), 2.0, atol=0.2))
    True
    """
    if not isinstance(data, Mixture):
        raise TypeError(f"data must be a Mixture, got {type(data).__name__}")
    _validation.check_count(n, "n", minimum=1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    k, d = data.centers.shape
    _limits.require_memory(
        _limits.array_bytes((int(n), 2 * d + 1), 8),  # indices, the noise and the samples
        f"n = {n} (the samples)",
        hint="draw fewer samples",
    )
    index = rng.integers(0, k, size=int(n))
    return data.centers[index] + data.std * rng.standard_normal((int(n), d))
