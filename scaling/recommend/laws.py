"""Each numeric hyperparameter's power law along the Pareto front (in its own basic space, with
bootstrap intervals), after sorting the sweep's hyperparameters into tuned, fixed, untuned and
categorical ones."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scaling import diagnostics
from scaling.diagnostics import Diagnostic
from scaling.powerlaw import FitError, PowerLawFit, fit_power_laws
from scaling.recommend.result import RecommendError
from scaling.recommend.space import match_choice
from tays import CategoricalSpace, LinearSpace, LogSpace, Param

__all__ = ["ParamLaws", "fit_param_laws"]


@dataclass
class ParamLaws:
    """The sweep's hyperparameters, sorted by how the recommendation sets them."""

    names: list[str]
    """Every hyperparameter: the search space's, else the table's ``param.*`` columns."""
    specs: dict[str, Param]
    """name -> its space: the search space's, or one inferred from the table."""
    laws: dict[str, PowerLawFit] = field(default_factory=dict)
    """name -> its power law along the front (numeric, tuned parameters)."""
    log_slopes: dict[str, float] = field(default_factory=dict)
    """name -> the slope of log10 value against log10 cost along the front (0 if not > 0)."""
    categorical: list[str] = field(default_factory=list)
    fixed_values: dict[str, Any] = field(default_factory=dict)
    untuned: dict[str, Any] = field(default_factory=dict)
    """name -> the one value of a parameter the table never varied (no search space)."""


def fit_param_laws(df: pd.DataFrame, ok: pd.DataFrame, front: pd.DataFrame,
                   specs: dict[str, Param] | None, cost_column: str, fixed: dict[str, Any],
                   n_bootstrap: int, level: float, seed: int, notes: list[str],
                   diags: list[Diagnostic]) -> ParamLaws:
    """Sort the hyperparameters and fit each tuned numeric one's law along ``front``.

    Raises:
        RecommendError: parameters missing from the table, ``fixed`` naming unknown ones, a
            tuned parameter constant along the front, nothing to scale, or a law that cannot
            be fitted.
    """
    out = ParamLaws(_param_names(df, specs, fixed, notes), dict(specs or {}))
    values, spaces, constants = {}, {}, []
    for n in out.names:
        col, spec = front[f"param.{n}"], (specs or {}).get(n)
        categorical = spec is not None and isinstance(spec.space, CategoricalSpace)
        if categorical or (spec is None and not _is_numeric(col)):
            out.categorical.append(n)
            if n in fixed:
                out.fixed_values[n] = col.iloc[-1] if fixed[n] is None else \
                    _fixed_choice(n, fixed[n], spec)
            continue
        v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(v)):
            raise RecommendError(f"param.{n} has missing or non-numeric values along the "
                                 f"front; its search space says it is numeric")
        if n in fixed:
            out.fixed_values[n] = float(v[-1]) if fixed[n] is None else \
                _fixed_number(n, fixed[n], float(v[-1]))
            continue
        if v.min() == v.max():
            whole = pd.to_numeric(ok[f"param.{n}"], errors="coerce")
            if spec is None and whole.nunique(dropna=True) <= 1:
                out.untuned[n] = float(v[0])
                notes.append(f"{n} has one value in the whole table ({v[0]:.6g}): not tuned, "
                             f"passed through")
                continue
            constants.append((n, float(v[0])))
            continue
        values[n] = v
        if spec is None:
            spec = out.specs[n] = _infer_spec(n, ok[f"param.{n}"])
        spaces[n] = spec.space.kind
    if constants:
        raise RecommendError(_constant_message(constants, len(front)))
    if not values:
        raise RecommendError("no numeric hyperparameter varies along the front: nothing to "
                             "scale")
    _fit_laws(out, front[cost_column].to_numpy(dtype=float), values, spaces, n_bootstrap, level,
              seed, diags)
    return out


def _param_names(df: pd.DataFrame, specs: dict[str, Param] | None, fixed: dict[str, Any],
                 notes: list[str]) -> list[str]:
    """The search space's parameters (each must have a column), else the table's."""
    cols = [c for c in df.columns if c.startswith("param.")]
    if specs is not None:
        missing = [n for n in specs if f"param.{n}" not in df.columns]
        if missing:
            raise RecommendError(f"the search space names {missing} but the table has no "
                                 f"param.<name> column for them; is it the right table?")
        extra = [c[6:] for c in cols if c[6:] not in specs]
        if extra:
            notes.append(f"param columns outside the search space left out: {extra}")
        names = list(specs)
    else:
        names = [c[6:] for c in cols]
    if not names:
        raise RecommendError("the table has no param.<name> columns: nothing to recommend")
    unknown = sorted(set(fixed) - set(names))
    if unknown:
        raise RecommendError(f"--fix names {unknown}, which are not parameters of the sweep "
                             f"({names})")
    return names


def _fit_laws(out: ParamLaws, cost: np.ndarray, values: dict[str, np.ndarray],
              spaces: dict[str, str], n_bootstrap: int, level: float, seed: int,
              diags: list[Diagnostic]) -> None:
    fits = fit_power_laws(cost, values, spaces, n_bootstrap, level, seed)
    for n, fit in fits.items():
        if isinstance(fit, FitError):
            raise RecommendError(f"the law of {n} cannot be fitted: {fit}")
        diags.extend(diagnostics.check_fit(f"param:{n}", fit))
        diags.extend(diagnostics.outliers(f"param:{n}", values[n], spaces[n]))
        out.laws[n] = fit
        v = values[n]
        out.log_slopes[n] = float(np.polyfit(np.log10(cost), np.log10(v), 1)[0]) \
            if np.all(v > 0) else 0.0


def _fixed_number(name: str, value: Any, example: float) -> float:
    """A ``--fix`` value of a numeric parameter, checked: a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(value)):
        raise RecommendError(f"--fix {name}={value!r} (fixed={{{name!r}: {value!r}}}): {name} is "
                             f"numeric in the sweep; give a finite number, e.g. --fix "
                             f"{name}={example:.6g}")
    return value


def _fixed_choice(name: str, value: Any, spec: Param | None) -> Any:
    """A ``--fix`` value of a categorical parameter, checked against its choices."""
    if spec is None:
        return value
    choice = match_choice(spec.space, value)
    if not spec.space.contains(choice):
        raise RecommendError(f"--fix {name}={value!r} (fixed={{{name!r}: {value!r}}}): not one "
                             f"of {name}'s choices {list(spec.space.choices)}")
    return choice


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _constant_message(constants: list[tuple[str, Any]], n_front: int) -> str:
    items = ", ".join(f"{n} = {v:.6g}" if isinstance(v, float) else f"{n} = {v}"
                      for n, v in constants)
    fix = " ".join(f"--fix {n}" for n, _ in constants)
    return (f"hyperparameter(s) constant along the Pareto front ({items} at all {n_front} "
            f"points): a law cannot be fitted to a value that never changes, so its value at a "
            f"larger budget is unknown. Keep it fixed at that value with {fix} (or "
            f"fixed={{name: value}}), or run a longer sweep that varies it.")


def _infer_spec(name: str, column: pd.Series) -> Param:
    """A space for a parameter the table gives no search space for: log when positive, else
    linear; integer (rounded to the values' greatest common divisor) when every value is whole;
    no bounds; centred on the median value."""
    v = pd.to_numeric(column, errors="coerce").dropna().to_numpy(dtype=float)
    space = LogSpace if len(v) and np.all(v > 0) else LinearSpace
    center = float(np.sort(v)[len(v) // 2]) if len(v) else 1.0  # a value of the column
    if len(v) and np.all(v == np.round(v)) and np.all(np.abs(v) < 2 ** 62):
        g = int(np.gcd.reduce(np.abs(v).astype(np.int64)))
        return Param(name, space(is_integer=True, rounding_factor=max(g, 1)), center)
    return Param(name, space(), center)
