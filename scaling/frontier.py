"""Pareto front of a trial table by any cost column.

Rows with ``status != 'ok'`` (when a status column exists) and non-finite outputs / costs are
dropped; resampled configurations (identical ``param.*`` values) are averaged into one group;
the front is the set of groups, sorted by cost, that beat every cheaper group's output.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd

from scaling.io import ok_rows, require_columns

logger = logging.getLogger(__name__)

Direction = Literal["min", "max"]


def _check_direction(direction: str) -> None:
    if direction not in ("min", "max"):
        raise ValueError(f"direction={direction!r}: use 'min' (e.g. loss) or 'max' (e.g. reward).")


def group_resamples(df: pd.DataFrame, param_columns: list[str] | None = None) -> pd.DataFrame:
    """Average rows whose ``param.*`` values are identical; adds ``n_samples``.

    Numeric columns are averaged; other columns keep the group's first value. Without any
    param columns each row is its own group.
    """
    params = [c for c in df.columns if c.startswith("param.")] if param_columns is None \
        else list(param_columns)
    out = df.copy()
    if not params:
        out["n_samples"] = 1
        return out.reset_index(drop=True)
    keys = out[params].astype(str).agg("\x1f".join, axis=1)
    numeric = [c for c in out.columns if pd.api.types.is_numeric_dtype(out[c]) and c not in params]
    other = [c for c in out.columns if c not in numeric and c not in params]
    grouped = out.groupby(keys, sort=False)
    agg = grouped[numeric].mean()
    agg[params] = grouped[params].first()
    if other:
        agg[other] = grouped[other].first()
    agg["n_samples"] = grouped.size()
    return agg.reset_index(drop=True)


def pareto_front(
    df: pd.DataFrame,
    cost_column: str = "cost",
    output_column: str = "output",
    direction: Direction = "min",
    average_resamples: bool = True,
) -> pd.DataFrame:
    """The cost/output Pareto front of a trial table, sorted by increasing cost.

    Args:
        df: a trial table (contract columns).
        cost_column: any positive cost column (``cost``, ``metric.flops``, ...).
        output_column: the objective column.
        direction: ``"min"`` (lower output is better) or ``"max"``.
        average_resamples: average rows with identical ``param.*`` values first.

    Returns:
        The front's rows (group means when averaging, with ``n_samples``), cost ascending.

    Raises:
        ValueError: missing columns, or non-positive costs.
    """
    _check_direction(direction)
    require_columns(df, [cost_column, output_column], "the Pareto front")
    rows = ok_rows(df, [cost_column, output_column])
    if rows.empty:
        return rows.assign(n_samples=pd.Series(dtype=int))
    costs = rows[cost_column].to_numpy(dtype=float)
    if np.any(costs <= 0):
        bad = int(np.sum(costs <= 0))
        raise ValueError(f"column {cost_column!r} has {bad} non-positive value(s); costs must be "
                         f"> 0 for log-scale fits: drop those rows or choose another "
                         f"--cost-column.")
    groups = group_resamples(rows) if average_resamples else rows.assign(n_samples=1)
    sign = 1.0 if direction == "min" else -1.0
    score = sign * groups[output_column].to_numpy(dtype=float)
    order = np.lexsort((score, groups[cost_column].to_numpy(dtype=float)))
    keep, best = [], np.inf
    for idx in order:
        if score[idx] < best:
            keep.append(idx)
            best = score[idx]
    front = groups.iloc[keep].reset_index(drop=True)
    logger.debug("pareto front: %d of %d groups", len(front), len(groups))
    return front
