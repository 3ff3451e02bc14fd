import numpy as np
import pandas as pd
import pytest

from scaling import group_table_resamples, pareto_front


def _hand_table():
    return pd.DataFrame({
        "trial_id": list("abcdefgh"),
        "status": ["ok", "ok", "ok", "ok", "ok", "ok", "failed", "ok"],
        "param.lr": [1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 6.0, 7.0],
        "cost": [1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0, 6.0],
        "output": [5.0, 4.0, 4.5, 4.2, 3.0, 2.0, 1.0, np.nan],
        "metric.flops": [10.0, 30.0, 20.0, 40.0, 50.0, 50.0, 60.0, 70.0],
    })


def test_front_on_hand_example():
    front = pareto_front(_hand_table())
    # cost 2: the 4.0 run beats 4.5; cost 3 (4.2) is dominated; cost 4: resamples averaged
    # (3.0, 2.0) -> 2.5; the failed run and the NaN output are ignored.
    assert front["cost"].tolist() == [1.0, 2.0, 4.0]
    assert front["output"].tolist() == [5.0, 4.0, 2.5]
    assert front["n_samples"].tolist() == [1, 1, 2]
    assert front["param.lr"].tolist() == [1.0, 2.0, 5.0]


def test_front_other_cost_column_and_max_direction():
    t = _hand_table()
    front = pareto_front(t, cost_column="metric.flops")
    assert front["metric.flops"].tolist() == [10.0, 20.0, 30.0, 50.0]
    assert front["output"].tolist() == [5.0, 4.5, 4.0, 2.5]
    up = pareto_front(t, direction="max")
    assert up["cost"].tolist() == [1.0]  # nothing costlier beats 5.0


def test_front_without_resample_averaging_and_without_params():
    t = _hand_table().drop(columns=["param.lr"])
    front = pareto_front(t)
    assert front["output"].tolist() == [5.0, 4.0, 2.0]
    grouped = group_table_resamples(_hand_table().iloc[:6])
    assert len(grouped) == 5 and grouped["n_samples"].max() == 2


def test_front_errors_name_the_column():
    t = _hand_table()
    with pytest.raises(ValueError, match="metric.wall_seconds"):
        pareto_front(t, cost_column="metric.wall_seconds")
    t.loc[0, "cost"] = 0.0
    with pytest.raises(ValueError, match="'cost' has 1 non-positive"):
        pareto_front(t)
    with pytest.raises(ValueError, match="direction"):
        pareto_front(_hand_table(), direction="down")
