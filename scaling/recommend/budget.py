"""What spends the budget, and spending it at one budget.

With ``metric.params`` (N) and ``metric.tokens`` (D) in the table and a cost that is training
FLOPs, the parameters that set N and D (learned from the trials, :mod:`scaling.recommend.sizing`) are
solved for an allocation of N (:mod:`scaling.recommend.allocation`) with D = C / (6 N)
(``mode="nd"``); otherwise the parameters that set the cost are solved for the budget
(``mode="cost"``); failing both, every parameter follows its own law (``mode="laws"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scaling import diagnostics
from scaling.diagnostics import Diagnostic
from scaling.io import ok_rows
from scaling.recommend.allocation import allocation_at, chinchilla_allocations, choose_follow
from scaling.recommend.laws import ParamLaws
from scaling.recommend.result import BudgetRecommendation
from scaling.recommend.sizing import CountModel, fit_count_model, solve_for

__all__ = ["FLOPS_RATIO", "BudgetModels", "BudgetSolver", "fit_budget_models"]

#: cost / (6 N D) must lie in this range for the cost column to count as training FLOPs.
FLOPS_RATIO = (0.5, 2.0)


@dataclass
class BudgetModels:
    """The models of what spends the budget (see the module docstring for ``mode``)."""

    mode: str = "laws"
    n_model: CountModel | None = None
    d_model: CountModel | None = None
    cost_model: CountModel | None = None
    flops_ratio: float = math.nan
    """The trials' median cost / (6 N D) (``mode="nd"``)."""
    alloc_fits: dict[str, Any] = field(default_factory=dict)
    """name -> the fitted allocation of N (``"front"``, ``"approach1"`` ...)."""
    follow: str = ""
    """The allocation the size follows (``mode="nd"``)."""
    model_text: dict[str, str] = field(default_factory=dict)
    """target -> the learned formula (e.g. metric.params from model.d_model, model.n_layers)."""

    @property
    def driven(self) -> set[str]:
        """The parameters the models set (they spend the budget instead of following laws)."""
        if self.mode == "nd":
            return set(self.n_model.names) | set(self.d_model.names)
        if self.mode == "cost":
            return set(self.cost_model.names)
        return set()


def fit_budget_models(ok: pd.DataFrame, front: pd.DataFrame, laws: ParamLaws, cost_column: str,
                      follow: str, n_bootstrap: int, level: float, seed: int, notes: list[str],
                      diags: list[Diagnostic]) -> tuple[BudgetModels, str, str]:
    """The models of what spends the budget, the allocation (or mode) followed and why."""
    numeric = {n: pd.to_numeric(ok[f"param.{n}"], errors="coerce").to_numpy(dtype=float)
               for n in laws.laws}
    models = BudgetModels()
    if "metric.params" in ok.columns and (
            "metric.tokens" in ok.columns or "metric.flops" in ok.columns):
        _fit_size_models(models, ok, laws, cost_column, notes)
    if models.mode == "nd":
        why = _fit_allocations(models, ok, front, cost_column, follow, n_bootstrap, level, seed,
                               notes, diags)
        _check_collinear(numeric, [*models.n_model.names, *models.d_model.names], diags)
        return models, models.follow, why
    models.cost_model = fit_count_model(numeric, ok[cost_column].to_numpy(float), cost_column)
    if models.cost_model is not None:
        models.mode = "cost"
        models.model_text[cost_column] = models.cost_model.describe()
        return models, "cost", (f"no N / D columns: the parameters that set {cost_column!r} "
                                f"({', '.join(models.cost_model.names)}) move together until "
                                f"it equals the budget")
    notes.append(f"no parameter set explains {cost_column!r}: every value follows its own law "
                 f"and nothing guarantees the budget is spent")
    return models, "laws", "every parameter follows its own law along the front"


def _fit_size_models(models: BudgetModels, ok: pd.DataFrame, laws: ParamLaws, cost_column: str,
                     notes: list[str]) -> None:
    """The N and D models; ``mode="nd"`` when both fit and the cost is training FLOPs."""
    rows = ok_rows(ok, ["metric.params"])
    keep = np.isfinite(rows["metric.params"].to_numpy(dtype=float))
    n_vals = rows["metric.params"].to_numpy(dtype=float)
    d_vals = (rows["metric.tokens"] if "metric.tokens" in rows.columns
              else rows["metric.flops"] / (6 * rows["metric.params"])).to_numpy(float)
    cost = rows[cost_column].to_numpy(dtype=float)
    sub = {n: pd.to_numeric(rows[f"param.{n}"], errors="coerce").to_numpy(float)
           for n in laws.laws}
    ratio = float(np.nanmedian(cost[keep] / (6 * n_vals[keep] * d_vals[keep])))
    models.n_model = fit_count_model(sub, n_vals, "metric.params")
    if models.n_model is not None:
        rest = {n: v for n, v in sub.items() if n not in models.n_model.names}
        models.d_model = fit_count_model(rest, d_vals, "metric.tokens")
    if not (FLOPS_RATIO[0] <= ratio <= FLOPS_RATIO[1]):
        notes.append(f"cost column {cost_column!r} is not training FLOPs (cost / 6ND = "
                     f"{ratio:.3g}): the 6ND = C allocation does not apply; the cost parameters "
                     f"spend the budget instead")
    elif models.n_model is None or models.d_model is None:
        notes.append("no parameter set reproduces metric.params and metric.tokens over the "
                     "trials: the 6ND = C allocation cannot be applied; the cost parameters "
                     "spend the budget instead")
    else:
        models.mode = "nd"
        models.flops_ratio = ratio


def _fit_allocations(models: BudgetModels, ok: pd.DataFrame, front: pd.DataFrame,
                     cost_column: str, follow: str, n_bootstrap: int, level: float, seed: int,
                     notes: list[str], diags: list[Diagnostic]) -> str:
    """Every allocation of N the table supports, and the one followed; returns why."""
    fits, errors = chinchilla_allocations(ok, front, cost_column, n_bootstrap, level, seed)
    fdiag = {}
    for name, fit in fits.items():
        fdiag[name] = diagnostics.check_fit(name, fit) if name != "front" else []
        diags.extend(fdiag[name])
    for name, err in errors.items():
        notes.append(f"{name} allocation unavailable: {err}")
    models.alloc_fits = fits
    models.follow, why = choose_follow(follow, fits, fdiag)
    for m in (models.n_model, models.d_model):
        models.model_text[m.target] = m.describe()
        if not m.exact:
            diags.append(Diagnostic(
                "approximate_size_model", m.target,
                f"no polynomial of the parameters reproduces it within 1% ({m.describe()}); "
                f"the recommended size / tokens spend the budget only approximately"))
    return why


def _check_collinear(numeric: dict[str, np.ndarray], chosen: list[str],
                     diags: list[Diagnostic]) -> None:
    """Warn about a parameter left out of the size / tokens models that moved in lockstep
    with one in them over every trial: the sweep cannot tell which of the two sets N or D,
    so the learned formula may be wrong once they part (a longer sweep separates them)."""
    logs = {n: np.log(v) for n, v in numeric.items()
            if np.all(np.isfinite(v)) and np.all(v > 0) and np.ptp(v) > 0}
    for other in (n for n in logs if n not in chosen):
        for n in (c for c in chosen if c in logs):
            r = float(np.corrcoef(logs[other], logs[n])[0, 1])
            if abs(r) > 0.95:
                diags.append(Diagnostic(
                    "collinear", other,
                    f"moved in lockstep with {n} over the sweep (correlation {r:.2f} in "
                    f"log), so the trials cannot tell whether it sets the size or tokens; "
                    f"the budget is spent through {n} assuming {other} does not (run a "
                    f"longer sweep to separate them, or check the command's size)"))
                break


class BudgetSolver:
    """Spends one budget through the :class:`BudgetModels`, within the search space's bounds
    (``clamp``: ``"auto"``, ``"all"`` or ``"none"``, as in :func:`scaling.recommend`)."""

    def __init__(self, models: BudgetModels, laws: ParamLaws, clamp: str,
                 diags: list[Diagnostic]) -> None:
        self.models, self.laws, self.clamp, self.diags = models, laws, clamp, diags

    def spend(self, budget: float, law_vals: dict[str, float], values: dict[str, float],
              intervals: dict[str, list[float]], roles: dict[str, str]) -> dict | None:
        """Set the driven parameters in ``values`` (and their ``intervals`` and ``roles``);
        returns the allocation object of recommendation.json (None: ``mode="laws"``)."""
        m = self.models
        if m.mode == "nd":
            return self._spend_nd(budget, law_vals, values, intervals, roles)
        if m.mode == "cost":
            vals, achieved, _ = self.solve(m.cost_model, budget, law_vals)
            values.update(vals)
            for n in m.cost_model.names:
                roles[n] = "cost"
            return {"mode": "cost", "model": m.cost_model.describe(),
                    "predicted_cost": achieved, "budget_ratio": achieved / budget}
        return None

    def _spend_nd(self, budget, law_vals, values, intervals, roles) -> dict:
        m = self.models
        allocs = {name: allocation_at(name, fit, budget) for name, fit in m.alloc_fits.items()}
        chosen = allocs[m.follow]
        n_target = chosen["N"]
        sizes, n_hat, _ = self.solve(m.n_model, n_target, law_vals)
        d_target = budget / (6.0 * n_hat)
        tokens, d_hat, _ = self.solve(m.d_model, d_target, law_vals)
        values.update(sizes)
        values.update(tokens)
        for n in m.n_model.names:
            roles[n] = "size"
        for n in m.d_model.names:
            roles[n] = "tokens"
        lo_n, hi_n = chosen["N_interval"]
        if math.isfinite(lo_n) and math.isfinite(hi_n) and lo_n > 0 and hi_n > 0:
            bounds = []
            for nt in (lo_n, hi_n):
                _, _, s_cont = self.solve(m.n_model, nt, law_vals)
                _, _, t_cont = self.solve(m.d_model, budget / (6.0 * nt), law_vals)
                bounds.append({**s_cont, **t_cont})
            for n in (*m.n_model.names, *m.d_model.names):
                a, b = bounds[0][n], bounds[1][n]
                intervals[n] = [min(a, b), max(a, b)]
        flops = 6.0 * n_hat * d_hat
        return {"mode": "6ND=C", "follows": m.follow, "N": n_hat, "D": d_hat,
                "tokens_per_param": d_hat / n_hat, "flops_6nd": flops,
                "budget_ratio": flops / budget,
                "predicted_cost": flops * m.flops_ratio,
                "cost_per_6nd": m.flops_ratio,
                "target_N": n_target,
                "N_model": m.n_model.describe(), "D_model": m.d_model.describe(),
                "approaches": {k: {kk: vv for kk, vv in v.items()} for k, v in allocs.items()}}

    def solve(self, model: CountModel, target: float, start: dict) -> tuple:
        """:func:`solve_for` within the search space's bounds; with ``clamp="auto"``, when
        the budget cannot be spent inside them, past the ``max`` (the caller lists those
        parameters as outside the search space)."""
        specs, slopes = self.laws.specs, self.laws.log_slopes
        if self.clamp == "none":
            return solve_for(model, target, start, slopes, specs, lower=False)
        out = solve_for(model, target, start, slopes, specs, upper=True)
        if self.clamp == "auto" and abs(math.log(model(out[2]) / target)) > 1e-6:
            out = solve_for(model, target, start, slopes, specs, upper=False)
        return out

    def recheck(self, item: BudgetRecommendation, budget: float) -> None:
        """After clamping size or tokens, say how far 6ND now is from the budget."""
        m = self.models
        vals = {n: float(item.params[n]) for n in (*m.n_model.names, *m.d_model.names)}
        n_hat, d_hat = m.n_model(vals), m.d_model(vals)
        ratio = 6.0 * n_hat * d_hat / budget
        item.allocation.update(N=n_hat, D=d_hat, flops_6nd=6 * n_hat * d_hat,
                               budget_ratio=ratio, tokens_per_param=d_hat / n_hat)
        if abs(ratio - 1.0) > 0.05:
            self.diags.append(Diagnostic(
                "budget_not_spent", f"budget {budget:.3g}",
                f"after clamping to the sweep's bounds, 6ND = {6 * n_hat * d_hat:.3g} is "
                f"{ratio:.2f}x the budget; use --clamp auto to let size and tokens grow"))
