import numpy as np
import pytest

from sla_analysis.analyses.stats import (
    jeffreys_interval,
    mean_interval,
    product_interval,
    shrunk_rates,
    wilson_interval,
)


def test_wilson_known_values():
    # 5 of 10: Wilson 95% interval (0.2366, 0.7634); 0 of 20: (0, 0.1611)
    low, high = wilson_interval([5, 0], [10, 20])
    assert low == pytest.approx([0.2366, 0.0], abs=1e-4)
    assert high == pytest.approx([0.7634, 0.1611], abs=1e-4)


def test_intervals_empty_group_is_nan():
    low, high = wilson_interval([0], [0])
    assert np.isnan(low[0]) and np.isnan(high[0])
    low, high = jeffreys_interval([0], [0])
    assert np.isnan(low[0])


def test_jeffreys_is_the_beta_posterior_with_end_fixes():
    from scipy.stats import beta
    low, high = jeffreys_interval([3, 0, 20], [50, 20, 20])
    assert low[0] == pytest.approx(beta.ppf(0.025, 3.5, 47.5)) and high[0] == pytest.approx(beta.ppf(0.975, 3.5, 47.5))
    assert low[1] == 0.0 and high[2] == 1.0  # no successes / all successes


def test_shrinkage_pulls_small_groups_to_the_pooled_rate():
    x, n = np.array([1, 30, 20]), np.array([2, 1000, 1000])
    shrunk = shrunk_rates(x, n)
    pooled = x.sum() / n.sum()
    assert abs(shrunk[0] - pooled) < abs(0.5 - pooled) / 10  # 1/2 is pulled nearly all the way
    assert shrunk[1] == pytest.approx(0.03, abs=0.003)       # big groups barely move


def test_mean_interval_from_sufficient_statistics():
    values = np.array([10.0, 12.0, 14.0])
    mean, low, high = mean_interval(values.sum(), (values ** 2).sum(), 3)
    assert mean == pytest.approx(12.0)
    # t(0.975, 2) = 4.3027, sd = 2, se = 2/sqrt(3)
    assert high - mean == pytest.approx(4.3027 * 2 / np.sqrt(3), rel=1e-4)


def test_product_interval_contains_the_product():
    low, high = product_interval(100_000, 10_000, 0.02, 1000)
    assert low < 2_000 < high
