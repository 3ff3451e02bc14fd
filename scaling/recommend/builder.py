"""One recommendation's fits, run stage by stage, and the configuration they give at a budget
(:meth:`Builder.at_budget`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from scaling.diagnostics import Diagnostic
from scaling.recommend.allocation import surface_allocation, surface_follows
from scaling.recommend.budget import BudgetModels, BudgetSolver, fit_budget_models
from scaling.recommend.laws import ParamLaws, fit_param_laws
from scaling.recommend.optima import SurfaceOptima, fit_trial_surface
from scaling.recommend.result import BudgetRecommendation
from scaling.recommend.space import match_choice, python_value, round_value
from tays import Param

__all__ = ["Builder"]


class Builder:
    """The stages of one recommendation: :meth:`fit_laws`, :meth:`fit_budget_models`,
    :meth:`fit_surface` (in this order), then :meth:`at_budget` for each budget. ``notes`` and
    ``diags`` collect what the stages have to say."""

    def __init__(self, df: pd.DataFrame, ok: pd.DataFrame, front: pd.DataFrame,
                 specs: dict[str, Param] | None, cost_column: str, fixed: dict[str, Any],
                 n_bootstrap: int, level: float, seed: int, clamp: str, notes: list[str],
                 diags: list[Diagnostic], how: str = "surface") -> None:
        self.df, self.ok, self.front, self.specs = df, ok, front, specs
        self.cost_column, self.fixed = cost_column, dict(fixed)
        self.n_bootstrap, self.level, self.seed, self.clamp = n_bootstrap, level, seed, clamp
        self.notes, self.diags, self.how = notes, diags, how
        self.laws: ParamLaws | None = None
        self.models = BudgetModels()
        self.solver: BudgetSolver | None = None
        self.optima: SurfaceOptima | None = None
        self.follow_request = "chinchilla"
        self.follow_reason = ""

    @property
    def names(self) -> list[str]:
        """Every hyperparameter of the recommendation (after :meth:`fit_laws`)."""
        return self.laws.names

    @property
    def model_text(self) -> dict[str, str]:
        """target -> the learned formula of what spends the budget."""
        return self.models.model_text

    def fit_laws(self) -> None:
        """Each tuned numeric hyperparameter's law along the front."""
        self.laws = fit_param_laws(self.df, self.ok, self.front, self.specs, self.cost_column,
                                   self.fixed, self.n_bootstrap, self.level, self.seed,
                                   self.notes, self.diags)

    def fit_budget_models(self, follow: str) -> tuple[str, str]:
        """What spends the budget; returns the allocation (or mode) followed and why
        (``follow="surface"`` starts as "chinchilla": :meth:`fit_surface` may change it, see
        :attr:`follow_used`)."""
        self.follow_request = follow
        self.models, followed, why = fit_budget_models(
            self.ok, self.front, self.laws, self.cost_column,
            "chinchilla" if follow == "surface" else follow, self.n_bootstrap, self.level,
            self.seed, self.notes, self.diags)
        self.solver = BudgetSolver(self.models, self.laws, self.clamp, self.diags)
        self.follow_reason = why
        return followed, why

    @property
    def follow_used(self) -> tuple[str, str]:
        """The allocation (or mode) followed and why, after every stage."""
        return (self.models.follow if self.models.mode == "nd" else self.models.mode,
                self.follow_reason)

    def fit_surface(self, output_column: str, direction: str, ffit) -> None:
        """The loss surface over every trial (``how="surface"``), for the optima of the
        parameters that do not spend the budget."""
        if self.how != "surface":
            return
        surface = fit_trial_surface(self.ok, self.front, self.laws, self.models,
                                    self.cost_column, output_column, direction, ffit,
                                    self.n_bootstrap, self.level, self.seed, self.notes)
        if surface is not None:
            self.optima = SurfaceOptima(surface, self.laws, self.front, self.cost_column,
                                        self.notes)
        if self.models.mode == "nd":
            cost = self.ok[self.cost_column].to_numpy(dtype=float)
            fit = surface_allocation(surface, float(cost.min()), float(cost.max()))
            if fit is not None:
                self.models.alloc_fits["surface"] = fit  # reported among the approaches
            ok, why = surface_follows(fit)
            if self.follow_request == "surface":
                if ok:
                    self.models.follow, self.follow_reason = "surface", why
                else:
                    self.notes.append(f"allocation: not the loss surface's ({why}); "
                                      f"{self.models.follow} instead")

    def at_budget(self, budget: float) -> BudgetRecommendation:
        """The configuration for ``budget`` (command, prediction: the caller's)."""
        law_vals, laws = self._laws_at(budget)
        values = dict(law_vals)
        intervals = {n: [laws[n]["low"], laws[n]["high"]] for n in laws}
        roles = {n: "law" for n in laws}
        allocation = self.solver.spend(budget, law_vals, values, intervals, roles)
        if self.optima is not None:
            self.optima.apply(budget, allocation, values, intervals, roles, laws)
        item = BudgetRecommendation(budget, {}, {}, math.nan, [math.nan, math.nan], math.nan,
                                    "", laws=laws, roles=roles, allocation=allocation)
        driven = self.models.driven
        for n in self.laws.names:
            self._set_param(item, n, values, intervals, driven)
        if allocation is not None and self.models.mode == "nd" and (
                item.clamped or self.clamp == "all"):
            self.solver.recheck(item, budget)
        return item

    def _laws_at(self, budget: float) -> tuple[dict[str, float], dict[str, dict]]:
        """Each law's value at ``budget``, and its summary for recommendation.json."""
        law_vals, laws = {}, {}
        for n, fit in self.laws.laws.items():
            with np.errstate(over="ignore", invalid="ignore"):
                p = fit.predict(budget, warn_decades=np.inf).iloc[0]
            law_vals[n] = float(p["value"])
            laws[n] = {"space": fit.space, "value": float(p["value"]), "low": float(p["low"]),
                       "high": float(p["high"]), "slope": fit.slope, "r_squared": fit.r_squared}
        return law_vals, laws

    def _set_param(self, item: BudgetRecommendation, n: str, values: dict[str, float],
                   intervals: dict[str, list[float]], driven: set[str]) -> None:
        """``item``'s value of parameter ``n``: fixed, untuned, categorical, or its numeric
        value rounded (and clamped, by ``clamp``) to the search space, with its interval."""
        laws, spec = self.laws, self.laws.specs.get(n)
        if n in laws.fixed_values:
            item.params[n] = python_value(spec, laws.fixed_values[n]) if spec else \
                laws.fixed_values[n]
            item.roles[n] = "fixed"
            return
        if n in laws.untuned:
            item.params[n], item.roles[n] = laws.untuned[n], "untuned"
            return
        if n in laws.categorical:
            choice, support = self._categorical(n)
            item.params[n] = match_choice(spec.space, choice) if spec else choice
            item.categorical_support[n] = support
            item.roles[n] = "categorical"
            return
        v = values[n]
        if spec is not None:
            v = round_value(spec, v)
            clamp = self.clamp == "all" or (self.clamp == "auto" and n not in driven)
            if not spec.space.contains(v):
                if clamp:
                    item.clamped[n] = values[n]
                    v = spec.space.clamp(v)
                    self.diags.append(Diagnostic(
                        "clamped", f"budget {item.budget:.3g}",
                        f"{n}: its law gives {values[n]:.4g}, outside the sweep's bounds "
                        f"[{spec.space.min}, {spec.space.max}]; clamped to {v:.4g} (widen the bounds "
                        f"and sweep there, or pass clamp='none' / --clamp none)"))
                else:
                    item.outside_search_space[n] = [spec.space.min, spec.space.max]
            item.params[n] = python_value(spec, v)
        else:
            item.params[n] = float(v)
        lo, hi = intervals[n]
        value = float(item.params[n])
        if math.isfinite(lo) and math.isfinite(hi):  # the rounded value is always inside
            item.intervals[n] = [min(lo, hi, value), max(lo, hi, value)]
        else:
            item.intervals[n] = [lo, hi]

    def _categorical(self, name: str) -> tuple[Any, dict]:
        """The choice that dominates the expensive half of the front, and its share there."""
        col = self.front[f"param.{name}"].tolist()
        half = len(col) // 2
        upper = col[half:]
        counts: dict[Any, int] = {}
        for v in upper:
            counts[v] = counts.get(v, 0) + 1
        top = max(counts.values())
        leaders = [v for v, c in counts.items() if c == top]
        choice = leaders[0] if len(leaders) == 1 else next(
            v for v in reversed(upper) if v in leaders)  # tie: the most expensive point's
        support = {str(k): c / len(upper) for k, c in counts.items()}
        if len(leaders) > 1:
            self.notes.append(f"{name}: tie at the expensive end between {leaders}; taking the "
                              f"most expensive front point's choice ({choice})")
        return choice, support
