"""Pareto front of a trial table by any cost column.

Rows with ``status != 'ok'`` (when a status column exists) and non-finite outputs / costs are
dropped; resampled configurations (identical ``param.*`` values) are averaged into one group;
the front is the set of groups, sorted by cost, that beat every cheaper group's output
(:func:`tays.pareto_indices`, the 2-D front of any cost / value arrays, re-exported here).
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd

from scaling.io import ok_rows, require_columns
from tays import pareto_indices

__all__ = ["group_table_resamples", "pareto_front", "pareto_indices"]

logger = logging.getLogger(__name__)

Direction = Literal["min", "max"]


def _check_direction(direction: str) -> None:
    if direction not in ("min", "max"):
        raise ValueError(f"direction={direction!r}: use 'min' (e.g. loss) or 'max' (e.g. reward).")


def _is_number_dtype(dtype) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _group_ids(df: pd.DataFrame, params: list[str]) -> np.ndarray:
    """One integer per row; rows with identical values in every ``params`` column share it.

    Numeric columns are compared as one 2-D block, other columns are factorised one by one
    (missing values are a value of their own): no per-row string join, which made wide tables
    crawl.
    """
    if not params or df.empty:
        return np.arange(len(df))
    dtypes = dict(zip(df.columns, df.dtypes))
    numeric = [c for c in params if _is_number_dtype(dtypes[c])]
    taken = set(numeric)
    blocks = []
    if numeric:  # one 2-D block: equal values compare equal bytewise once -0.0 and NaN are unified
        values = df[numeric].to_numpy(dtype=float) + 0.0
        values[np.isnan(values)] = np.nan
        blocks.append(values)
    others = [c for c in params if c not in taken]
    if others:
        blocks.append(np.column_stack([pd.factorize(df[c], use_na_sentinel=False)[0]
                                       for c in others]).astype(float))
    codes = np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]
    _, first, ids = np.unique(codes, axis=0, return_index=True, return_inverse=True)
    # number the groups in order of first appearance (as pandas' groupby(sort=False) would)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[ids.reshape(-1)]


def _aggregate(df: pd.DataFrame, ids: np.ndarray, params: list[str]) -> pd.DataFrame:
    """Group rows by ``ids`` (0..k-1): numeric non-param columns are averaged (NaN skipped),
    the rest keep the group's first value; original column order plus ``n_samples``, one row
    per group in id order. Whole-block numpy work, so thousands of columns stay cheap."""
    if df.empty:
        return df.assign(n_samples=pd.Series(dtype=int)).reset_index(drop=True)
    k = int(ids.max()) + 1
    counts = np.bincount(ids, minlength=k)
    order = np.argsort(ids, kind="stable")
    first = order[np.r_[0, np.flatnonzero(np.diff(ids[order])) + 1]]
    out = df.iloc[first].reset_index(drop=True)
    if (counts > 1).any():
        skip = set(params)
        mean_cols = [c for c, dtype in zip(df.columns, df.dtypes)
                     if c not in skip and _is_number_dtype(dtype)]
        if mean_cols:
            values = df[mean_cols].to_numpy(dtype=float)
            present = np.isfinite(values) | np.isinf(values)
            sums = np.zeros((k, len(mean_cols)))
            np.add.at(sums, ids, np.where(present, values, 0.0))
            n = np.zeros((k, len(mean_cols)))
            np.add.at(n, ids, present.astype(float))
            with np.errstate(invalid="ignore", divide="ignore"):
                means = np.where(n > 0, sums / n, np.nan)
            out = pd.concat([out.drop(columns=mean_cols),
                             pd.DataFrame(means, columns=mean_cols)], axis=1)[list(df.columns)]
    return pd.concat([out, pd.DataFrame({"n_samples": counts})], axis=1)


def group_table_resamples(df: pd.DataFrame,
                          param_columns: list[str] | None = None) -> pd.DataFrame:
    """Average the rows of a trial table whose ``param.*`` values are identical; adds
    ``n_samples`` (the optimiser's counterpart, in basic space, is
    ``carbs.pareto.group_basic_resamples``).

    Numeric columns are averaged; other columns keep the group's first value. Without any
    param columns each row is its own group.
    """
    params = [c for c in df.columns if c.startswith("param.")] if param_columns is None \
        else list(param_columns)
    return _aggregate(df, _group_ids(df, params), params)


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
    # The front needs only the cost and output columns (and the groups): compute it on those,
    # then aggregate the front's few groups, so a table of thousands of columns stays fast.
    params = [c for c in rows.columns if c.startswith("param.")] if average_resamples else []
    ids = _group_ids(rows, params)
    counts = np.bincount(ids)
    group_cost = np.bincount(ids, weights=costs) / counts
    sign = 1.0 if direction == "min" else -1.0
    score = sign * np.bincount(ids, weights=rows[output_column].to_numpy(dtype=float)) / counts
    keep = pareto_indices(group_cost, score)
    members = np.isin(ids, keep)
    # renumber the front's groups 0..k-1 in cost order, then aggregate only their rows
    position = np.full(len(counts), -1, dtype=np.int64)
    position[keep] = np.arange(len(keep))
    front = _aggregate(rows.loc[members], position[ids[members]], params)
    logger.debug("pareto front: %d of %d groups", len(front), len(counts))
    return front
