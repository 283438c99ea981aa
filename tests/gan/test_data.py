"""Pinned GAN data: mode positions, stds and seeded sampling."""

import numpy as np
import pytest

from hsc_ref.gan.data import DATASETS, mixture, sample


def test_ring_is_eight_modes_at_radius_two_at_pinned_angles():
    ring = mixture("ring")
    angles = np.arctan2(ring.centers[:, 1], ring.centers[:, 0]) % (2 * np.pi)
    # exact up to the rounding of cos/sin: a few ulps of the radius 2
    np.testing.assert_allclose(np.linalg.norm(ring.centers, axis=1), 2.0, rtol=4e-16)
    np.testing.assert_allclose(angles, 2 * np.pi * np.arange(8) / 8, atol=1e-15)
    assert ring.std == 0.02


def test_grid_is_the_25_points_of_minus4_to_4_step_2():
    grid = mixture("grid")
    assert grid.std == 0.05
    assert {tuple(c) for c in grid.centers} == {
        (float(a), float(b)) for a in range(-4, 5, 2) for b in range(-4, 5, 2)
    }


def test_dirac_is_a_point_mass_at_zero():
    dirac = mixture("dirac")
    assert dirac.centers.shape == (1, 1) and dirac.std == 0.0
    np.testing.assert_array_equal(sample(dirac, 4, np.random.default_rng(0)), np.zeros((4, 1)))


def test_same_seed_gives_identical_samples_and_samples_sit_near_modes():
    grid = mixture("grid")
    a = sample(grid, 2000, np.random.default_rng(3))
    b = sample(grid, 2000, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    nearest = np.min(np.linalg.norm(a[:, None] - grid.centers[None], axis=2), axis=1)
    # a 2-D Gaussian radius exceeds 6 std with probability exp(-18) ~ 1.5e-8 per sample
    assert nearest.max() < 6 * grid.std
    counts = np.bincount(np.argmin(np.linalg.norm(a[:, None] - grid.centers[None], axis=2), 1))
    assert counts.size == 25 and counts.min() > 40  # mean 80, sd ~ 8.8: 40 is 4.5 sd below


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("moon",), ValueError),
    ],
)
def test_unknown_data_name_is_rejected(args, error):
    with pytest.raises(error, match="data must be one of"):
        mixture(*args)


def test_sample_rejects_bad_counts_generators_and_mixtures():
    ring = mixture("ring")
    with pytest.raises(ValueError, match="n must be a positive integer"):
        sample(ring, 0, np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator"):
        sample(ring, 3, 0)
    with pytest.raises(TypeError, match="data must be a Mixture"):
        sample("ring", 3, np.random.default_rng(0))


def test_every_offered_name_builds_the_mixture_of_that_name():
    # DATASETS is what the trainer and `hsc-ref gan --data` offer: the three pinned above, each
    # built by mixture() under its own name (a name without a builder raises ValueError here).
    assert DATASETS == ("ring", "grid", "dirac")
    assert [mixture(name).name for name in DATASETS] == list(DATASETS)
