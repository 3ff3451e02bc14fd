"""Resample grouping and the Pareto front (plain and conservative), with a worked example."""

import numpy as np

from carbs.pareto import group_basic_resamples, pareto_group_indices

# Worked example (signed outputs: larger is better). Groups by input x:
#   A x=0 cost 1    outputs [0.87]         single, best cheap mean, but not above max(B)
#   B x=1 cost 1.1  outputs [0.8, 0.9]     resampled (mean 0.85, max 0.9)
#   C x=2 cost 5    outputs [2.0]
#   D x=3 cost 10   outputs [3.0, 1.4]     resampled (mean 2.2, max 3.0)
#   E x=4 cost 20   outputs [2.5]
#   F x=5 cost 30   outputs [3.5]
# The 0.2 cost quantile of the group costs is 1.1, so A and B are the cheap groups.
# Plain: cheap -> A (best mean); C 2.0 > 0.87; D 2.2 > 2.0; E 2.5 > 2.2; F 3.5 > 2.5.
# Conservative: cheap -> B (resampled groups preferred; A 0.87 does not beat max(B)=0.9);
# C 2.0 > max(B)=0.9; D mean 2.2 > 2.0
# (resampled: compared by mean); E single 2.5 must beat max(D)=3.0 -> rejected; F 3.5 > 3.0.
X = np.array([[0], [1], [1], [2], [3], [3], [4], [5]], dtype=float)
Y = np.array([0.87, 0.8, 0.9, 2.0, 3.0, 1.4, 2.5, 3.5])
C = np.array([1.0, 1.1, 1.1, 5.0, 10.0, 10.0, 20.0, 30.0])


def test_grouping_of_resamples():
    g = group_basic_resamples(X, Y, C)
    assert len(g) == 6
    assert g.count.tolist() == [1, 2, 1, 2, 1, 1]
    assert np.allclose(g.mean_output, [0.87, 0.85, 2.0, 2.2, 2.5, 3.5])
    assert np.allclose(g.max_output, [0.87, 0.9, 2.0, 3.0, 2.5, 3.5])
    assert g.inverse.tolist() == [0, 1, 1, 2, 3, 3, 4, 5]


def test_plain_front_worked_example():
    g = group_basic_resamples(X, Y, C)
    assert pareto_group_indices(g, 0.2, conservative=False).tolist() == [0, 2, 3, 4, 5]


def test_conservative_front_worked_example():
    g = group_basic_resamples(X, Y, C)
    assert pareto_group_indices(g, 0.2, conservative=True).tolist() == [1, 2, 3, 5]


def test_conservative_single_displaces_resampled_when_it_beats_its_best_sample():
    # A = 1.0 beats B's best sample 0.9, so it displaces B at the cheap end; the rest as before.
    y = Y.copy()
    y[0] = 1.0
    g = group_basic_resamples(X, y, C)
    assert pareto_group_indices(g, 0.2, conservative=True).tolist() == [0, 2, 3, 5]


def test_equal_costs_do_not_lock_the_front_on_the_first_resampled_group():
    # Cost-free problem: every group is "cheap". A resampled group (mean 0.5) must not hide a
    # later single run that beats its best sample; a single run within its noise must not win.
    x = np.array([[0], [0], [1], [2]], dtype=float)
    c = np.ones(4)
    g = group_basic_resamples(x, np.array([0.4, 0.6, 2.0, 0.55]), c)
    assert pareto_group_indices(g, 0.2, conservative=True).tolist() == [1]
    g = group_basic_resamples(x, np.array([0.4, 0.6, 0.58, 0.55]), c)
    assert pareto_group_indices(g, 0.2, conservative=True).tolist() == [0]


def test_front_is_monotone_on_random_data():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 30, size=(200, 2)).astype(float)
    c = np.exp(x[:, 0] / 10 + x[:, 1] / 1000)  # distinct costs per group
    y = np.log(c) + rng.normal(0, 0.5, size=200)
    for cons in (False, True):
        g = group_basic_resamples(x, y, c)
        f = pareto_group_indices(g, 0.2, conservative=cons)
        assert np.all(np.diff(g.mean_cost[f]) > 0)
        assert np.all(np.diff(g.mean_output[f]) > 0)


def test_empty_and_single():
    g = group_basic_resamples(np.zeros((0, 2)), np.zeros(0), np.zeros(0))
    assert pareto_group_indices(g).tolist() == []
    g = group_basic_resamples(np.zeros((1, 2)), np.ones(1), np.ones(1))
    assert pareto_group_indices(g).tolist() == [0]


# Resampling example (the rule is in carbs.pareto's docstring). Signed outputs:
#   A x=0 cost 1  outputs [0.0, 1.0]  resampled: mean 0.5, best sample 1.0
#   B x=1 cost 2  output 0.6, C x=2 cost 3 output 0.7, D x=3 cost 4 output 0.8: single runs
#   that beat A's mean but not A's best sample.
# Conservative front: [A] (B, C, D are singles below max(A) = 1.0). Plain front: [A, B, C, D].
# Resampling takes the least-sampled group of the plain front, cheapest first: B.
RX = np.array([[0], [0], [1], [2], [3]], dtype=float)
RY = np.array([0.0, 1.0, 0.6, 0.7, 0.8])
RC = np.array([1.0, 1.0, 2.0, 3.0, 4.0])


def test_resampling_example_fronts():
    g = group_basic_resamples(RX, RY, RC)
    assert pareto_group_indices(g, 0.2, conservative=True).tolist() == [0]
    assert pareto_group_indices(g, 0.2, conservative=False).tolist() == [0, 1, 2, 3]
    # once resampled (0.6 and 0.9: mean 0.75 > A's mean), B joins the conservative front
    g = group_basic_resamples(np.vstack([RX, [[1]]]), np.append(RY, 0.9), np.append(RC, 2.0))
    assert pareto_group_indices(g, 0.2, conservative=True).tolist() == [0, 1]
