"""Mode metrics on constructed sample sets whose answers are known."""

import numpy as np
import pytest

from hsc_ref.gan.data import mixture
from hsc_ref.gan.metrics import N_EVAL, mode_metrics


def test_samples_spread_evenly_over_every_mode_give_all_modes_full_quality_zero_kl():
    ring = mixture("ring")
    samples = np.tile(ring.centers, (N_EVAL // 8 + 1, 1))[:2400]  # 300 per mode
    m = mode_metrics(samples, ring)
    assert m.modes_captured == 8
    assert m.high_quality_fraction == 1.0
    assert abs(m.reverse_kl) <= 1e-15  # sum of 8 terms p log(8 p) with 8 p = 1 exactly
    np.testing.assert_array_equal(m.counts, 300)


def test_all_samples_on_one_mode_give_one_mode_and_kl_log_k():
    grid = mixture("grid")
    m = mode_metrics(np.repeat(grid.centers[7:8], N_EVAL, axis=0), grid)
    assert m.modes_captured == 1
    assert m.reverse_kl == pytest.approx(np.log(25), rel=1e-15)


def test_high_quality_radius_is_three_std_of_the_nearest_mode():
    ring = mixture("ring")
    direction = np.array([0.6, 0.8])
    inside = ring.centers[[0, 1]] + 2.999 * ring.std * direction
    outside = ring.centers[[2, 3]] + 3.001 * ring.std * direction
    m = mode_metrics(np.vstack([inside, outside]), ring)
    assert m.high_quality_fraction == 0.5
    assert m.modes_captured == 2  # modes of the low-quality samples are not captured
    np.testing.assert_array_equal(m.high_quality_counts, [1, 1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(m.counts, [1, 1, 1, 1, 0, 0, 0, 0])  # KL uses all samples
    assert m.reverse_kl == pytest.approx(np.log(2), rel=1e-15)


def test_reverse_kl_matches_the_direct_formula_for_an_uneven_histogram():
    ring = mixture("ring")
    counts = np.array([5, 0, 1, 2, 0, 0, 0, 2])
    samples = np.repeat(ring.centers, counts, axis=0)
    p = counts / counts.sum()
    expected = sum(pk * np.log(8 * pk) for pk in p if pk > 0)
    assert mode_metrics(samples, ring).reverse_kl == pytest.approx(expected, rel=1e-14)


def test_samples_far_from_every_mode_are_low_quality_but_still_counted():
    grid = mixture("grid")
    m = mode_metrics(np.full((10, 2), 1.0), grid)  # equidistant from 4 modes, 1.41 away
    assert m.high_quality_fraction == 0.0 and m.modes_captured == 0
    assert m.counts.sum() == 10


def test_bad_input_is_rejected_with_the_rule():
    ring = mixture("ring")
    with pytest.raises(ValueError, match="samples must have 2 columns"):
        mode_metrics(np.zeros((5, 3)), ring)
    with pytest.raises(ValueError, match="samples must be 2-D"):
        mode_metrics(np.zeros(5), ring)
    with pytest.raises(ValueError, match="finite"):
        mode_metrics(np.full((2, 2), np.nan), ring)
    with pytest.raises(ValueError, match="std must be positive"):
        mode_metrics(np.zeros((2, 1)), mixture("dirac"))
    with pytest.raises(TypeError, match="Mixture"):
        mode_metrics(np.zeros((2, 2)), "ring")
