"""The machinery behind :func:`scaling.recommend.recommend` (private; see that module).

:class:`_Builder` holds one recommendation's fits: each numeric hyperparameter's power law along
the Pareto front, the models of what spends the budget (N and D, or the cost; see
:mod:`scaling.sizing`), the allocations of N (the front's law and Chinchilla's Approaches 1-3),
and the loss surface (:mod:`scaling.surface`); :meth:`_Builder.at_budget` turns them into one
:class:`BudgetRecommendation`. Also the human-readable table the CLI prints.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scaling import chinchilla, diagnostics
from scaling.diagnostics import Diagnostic
from scaling.io import ok_rows
from scaling.powerlaw import FitError, fit_power_law, fit_power_laws, fit_saturating
from scaling.searchspace import ParamSpec
from scaling.sizing import CountModel, fit_count_model, solve_for
from scaling.surface import fit_surface

logger = logging.getLogger("scaling.recommend")

#: Bootstrap resamples of the loss-surface fit (each one a robust least-squares refit).
SURFACE_BOOTSTRAP = 100
#: Bootstrap resamples of the Approach 3 fit (each one is a 5-parameter refit).
APPROACH3_BOOTSTRAP = 200
#: cost / (6 N D) must lie in this range for the cost column to count as training FLOPs.
FLOPS_RATIO = (0.5, 2.0)


class RecommendError(ValueError):
    """Input that cannot support a recommendation; the message names the cause and the fix."""


@dataclass
class BudgetRecommendation:
    """The recommendation for one budget (see ``to_dict`` for the JSON contract)."""

    budget: float
    params: dict[str, Any]
    intervals: dict[str, list[float]]
    predicted_output: float
    predicted_interval: list[float]
    extrapolation_decades: float
    command: str
    laws: dict[str, dict] = field(default_factory=dict)
    """name -> the parameter's own law at this budget: space, value, low, high, slope."""
    roles: dict[str, str] = field(default_factory=dict)
    """name -> law | size | tokens | cost | fixed | categorical | untuned."""
    allocation: dict | None = None
    clamped: dict[str, float] = field(default_factory=dict)
    """name -> the value before it was clamped into the sweep's bounds."""
    outside_search_space: dict[str, list] = field(default_factory=dict)
    """name -> the sweep's [min, max] that the (unclamped) value lies outside."""
    categorical_support: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The ``recommendations[]`` object of recommendation.json."""
        return _jsonable({
            "budget": self.budget, "params": self.params, "intervals": self.intervals,
            "predicted_output": self.predicted_output,
            "predicted_interval": self.predicted_interval,
            "extrapolation_decades": self.extrapolation_decades, "command": self.command,
            "roles": self.roles, "laws": self.laws, "allocation": self.allocation,
            "clamped": self.clamped, "outside_search_space": self.outside_search_space,
            "categorical_support": self.categorical_support})



def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x



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


# --- the fits -------------------------------------------------------------------------------
def _frontier_fit(front, cost_column, output_column, direction, n_bootstrap, level, seed):
    cost = front[cost_column].to_numpy(dtype=float)
    out = front[output_column].to_numpy(dtype=float)
    if direction == "min" and np.all(out > 0):
        try:
            return fit_saturating(cost, out, n_bootstrap, level, seed)
        except FitError as err:
            logger.info("saturating frontier law failed (%s); using a power law", err)
    space = "log" if np.all(out > 0) else "linear"
    return fit_power_law(cost, out, space, n_bootstrap, level, seed)


def _chinchilla_allocations(table, front, cost_column, n_bootstrap, level, seed):
    """Every allocation the table supports: the front's own N law and Approaches 1-3."""
    fits: dict[str, Any] = {}
    errors: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            fits["front"] = fit_power_law(front[cost_column], front["metric.params"], "log",
                                          n_bootstrap, level, seed)
        except (FitError, ValueError) as err:
            errors["front"] = str(err)
        steps = (
            ("approach3", lambda: chinchilla.fit_approach3(
                table, 0, min(n_bootstrap, APPROACH3_BOOTSTRAP), level, seed, progress=False)),
            ("approach2", lambda: chinchilla.fit_approach2(table, 0.1, 3, n_bootstrap, level,
                                                           seed)),
            ("approach1", lambda: chinchilla.fit_approach1(table, None, n_bootstrap, level,
                                                           seed)),
        )
        for name, run in steps:
            try:
                fits[name] = run()
            except (FitError, ValueError) as err:
                errors[name] = str(err)
    return fits, errors


def _allocation_at(name: str, fit, budget: float) -> dict:
    """N, D (= C / 6N), and the N interval of one allocation at ``budget``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if name == "front":
            p = fit.predict(budget, warn_decades=np.inf).iloc[0]
            n, lo, hi = float(p["value"]), float(p["low"]), float(p["high"])
        else:
            p = fit.compute_optimal(budget, warn_decades=np.inf).iloc[0]
            n = float(p["N_opt"])
            lo, hi = float(p.get("N_low", math.nan)), float(p.get("N_high", math.nan))
    return {"N": n, "D": budget / (6.0 * n), "tokens_per_param": budget / (6.0 * n * n),
            "N_interval": [lo, hi]}


def _disqualifies(d: Diagnostic) -> bool:
    """A diagnostic that makes an allocation unusable: a collapsed interval, or an exponent at
    the edge of its start grid (E, A, B beyond the grid only reflect the loss's units)."""
    return d.code == "collapsed_interval" or (d.code == "grid_edge"
                                              and d.name in ("alpha", "beta", ""))


def _choose_follow(follow: str, fits: dict, diags: dict[str, list]) -> tuple[str, str]:
    if follow == "front":
        if "front" in fits:
            return "front", ("asked for (--follow front): the Pareto front's own law of N, the "
                             "CARBS paper's way; it rests on the front's points only")
        follow = "chinchilla"
    for name in ("approach3", "approach2", "approach1"):
        if name in fits and not any(_disqualifies(d) for d in diags.get(name, [])):
            why = {"approach3": "the parametric law L(N, D) fitted on every run, so it uses all "
                                "the sweep's information about how loss trades N against D "
                                "(the front's N law rests on a few front points, and the loss "
                                "is flat in N near the optimum, so which N lands on the front "
                                "is largely noise)",
                   "approach2": "IsoFLOP minima (Approach 3 was unavailable or flagged)",
                   "approach1": "the loss envelope (Approaches 3 and 2 were unavailable or "
                                "flagged)"}[name]
            return name, why
    if "front" in fits:
        return "front", ("no Chinchilla approach fitted cleanly on this table (see the "
                         "diagnostics); using the Pareto front's own law of N")
    raise RecommendError("no allocation of N could be fitted: neither a law of metric.params "
                         "along the front nor a Chinchilla approach; check metric.params")


class _Builder:
    """The per-parameter laws and budget models of one recommendation."""

    def __init__(self, df, ok, front, specs, cost_column, fixed, n_bootstrap, level, seed,
                 clamp, notes, diags, how="surface"):
        self.df, self.ok, self.front, self.specs = df, ok, front, specs
        self.cost_column, self.fixed = cost_column, dict(fixed)
        self.n_bootstrap, self.level, self.seed, self.clamp = n_bootstrap, level, seed, clamp
        self.notes, self.diags = notes, diags
        self.names: list[str] = []
        self.categorical: list[str] = []
        self.fixed_values: dict[str, Any] = {}
        self.untuned: dict[str, Any] = {}
        self.laws: dict[str, Any] = {}
        self.log_slopes: dict[str, float] = {}
        self.mode = "laws"
        self.n_model: CountModel | None = None
        self.d_model: CountModel | None = None
        self.cost_model: CountModel | None = None
        self.alloc_fits: dict[str, Any] = {}
        self.follow = ""
        self.model_text: dict[str, str] = {}
        self.how = how
        self.surface = None
        self._unidentified: set[str] = set()

    # parameters and their laws
    def fit_laws(self) -> None:
        front, specs = self.front, self.specs
        cols = [c for c in self.df.columns if c.startswith("param.")]
        if specs is not None:
            missing = [n for n in specs if f"param.{n}" not in self.df.columns]
            if missing:
                raise RecommendError(f"the search space names {missing} but the table has no "
                                     f"param.<name> column for them; is it the right table?")
            extra = [c[6:] for c in cols if c[6:] not in specs]
            if extra:
                self.notes.append(f"param columns outside the search space left out: {extra}")
            names = list(specs)
        else:
            names = [c[6:] for c in cols]
        if not names:
            raise RecommendError("the table has no param.<name> columns: nothing to recommend")
        unknown = sorted(set(self.fixed) - set(names))
        if unknown:
            raise RecommendError(f"--fix names {unknown}, which are not parameters of the "
                                 f"sweep ({names})")
        self.names = names
        self.eff = dict(specs or {})
        values, spaces, constants = {}, {}, []
        for n in names:
            col, spec = front[f"param.{n}"], (specs or {}).get(n)
            if (spec is not None and spec.is_categorical) or (spec is None
                                                              and not _is_numeric(col)):
                self.categorical.append(n)
                if n in self.fixed:
                    self.fixed_values[n] = self.fixed[n] if self.fixed[n] is not None \
                        else col.iloc[-1]
                continue
            v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            if not np.all(np.isfinite(v)):
                raise RecommendError(f"param.{n} has missing or non-numeric values along the "
                                     f"front; its search space says it is numeric")
            if n in self.fixed:
                f = self.fixed[n]
                self.fixed_values[n] = float(v[-1]) if f is None else f
                continue
            if v.min() == v.max():
                whole = pd.to_numeric(self.ok[f"param.{n}"], errors="coerce")
                if spec is None and whole.nunique(dropna=True) <= 1:
                    self.untuned[n] = float(v[0])
                    self.notes.append(f"{n} has one value in the whole table ({v[0]:.6g}): "
                                      f"not tuned, passed through")
                    continue
                constants.append((n, float(v[0])))
                continue
            values[n] = v
            if spec is None:
                spec = self.eff[n] = _infer_spec(n, self.ok[f"param.{n}"])
            spaces[n] = spec.kind
        if constants:
            raise RecommendError(_constant_message(constants, len(front)))
        if not values:
            raise RecommendError("no numeric hyperparameter varies along the front: nothing "
                                 "to scale")
        cost = front[self.cost_column].to_numpy(dtype=float)
        fits = fit_power_laws(cost, values, spaces, self.n_bootstrap, self.level, self.seed)
        for n, fit in fits.items():
            if isinstance(fit, FitError):
                raise RecommendError(f"the law of {n} cannot be fitted: {fit}")
            self.diags.extend(diagnostics.check_fit(f"param:{n}", fit))
            self.laws[n] = fit
            v = values[n]
            self.log_slopes[n] = float(np.polyfit(np.log10(cost), np.log10(v), 1)[0]) \
                if np.all(v > 0) else 0.0

    # what spends the budget
    def fit_budget_models(self, follow: str) -> tuple[str, str]:
        ok = self.ok
        numeric = {n: pd.to_numeric(ok[f"param.{n}"], errors="coerce").to_numpy(dtype=float)
                   for n in self.laws}
        has_nd = "metric.params" in ok.columns and (
            "metric.tokens" in ok.columns or "metric.flops" in ok.columns)
        if has_nd:
            rows = ok_rows(ok, ["metric.params"])
            keep = np.isfinite(rows["metric.params"].to_numpy(dtype=float))
            n_vals = rows["metric.params"].to_numpy(dtype=float)
            d_vals = (rows["metric.tokens"] if "metric.tokens" in rows.columns
                      else rows["metric.flops"] / (6 * rows["metric.params"])).to_numpy(float)
            cost = rows[self.cost_column].to_numpy(dtype=float)
            sub = {n: pd.to_numeric(rows[f"param.{n}"], errors="coerce").to_numpy(float)
                   for n in self.laws}
            ratio = float(np.nanmedian(cost[keep] / (6 * n_vals[keep] * d_vals[keep])))
            self.n_model = fit_count_model(sub, n_vals, "metric.params")
            if self.n_model is not None:
                rest = {n: v for n, v in sub.items() if n not in self.n_model.names}
                self.d_model = fit_count_model(rest, d_vals, "metric.tokens")
            if not (FLOPS_RATIO[0] <= ratio <= FLOPS_RATIO[1]):
                self.notes.append(f"cost column {self.cost_column!r} is not training FLOPs "
                                  f"(cost / 6ND = {ratio:.3g}): the 6ND = C allocation does not "
                                  f"apply; the cost parameters spend the budget instead")
            elif self.n_model is None or self.d_model is None:
                self.notes.append("no parameter set reproduces metric.params and metric.tokens "
                                  "over the trials: the 6ND = C allocation cannot be applied; "
                                  "the cost parameters spend the budget instead")
            else:
                self.mode = "nd"
                self.flops_ratio = ratio
        if self.mode == "nd":
            fits, errors = _chinchilla_allocations(ok, self.front, self.cost_column,
                                                   self.n_bootstrap, self.level, self.seed)
            fdiag = {}
            for name, fit in fits.items():
                fdiag[name] = diagnostics.check_fit(name, fit) if name != "front" else []
                self.diags.extend(fdiag[name])
            for name, err in errors.items():
                self.notes.append(f"{name} allocation unavailable: {err}")
            self.alloc_fits = fits
            self.follow, why = _choose_follow(follow, fits, fdiag)
            for m in (self.n_model, self.d_model):
                self.model_text[m.target] = m.describe()
                if not m.exact:
                    self.diags.append(Diagnostic(
                        "approximate_size_model", m.target,
                        f"no polynomial of the parameters reproduces it within 1% ({m.describe()})"
                        f"; the recommended size / tokens spend the budget only approximately"))
            self._check_collinear(numeric, [*self.n_model.names, *self.d_model.names])
            return self.follow, why
        self.cost_model = fit_count_model(numeric, ok[self.cost_column].to_numpy(float),
                                          self.cost_column)
        if self.cost_model is not None:
            self.mode = "cost"
            self.model_text[self.cost_column] = self.cost_model.describe()
            return "cost", (f"no N / D columns: the parameters that set {self.cost_column!r} "
                            f"({', '.join(self.cost_model.names)}) move together until it equals "
                            f"the budget")
        self.notes.append(f"no parameter set explains {self.cost_column!r}: every value follows "
                          f"its own law and nothing guarantees the budget is spent")
        return "laws", "every parameter follows its own law along the front"

    # the hyperparameters' optima from every trial
    def fit_surface(self, output_column: str, direction: str, ffit) -> None:
        """Fit :mod:`scaling.surface` to every successful trial, for the numeric parameters
        that do not spend the budget (skipped, with a note, when the table is too small)."""
        if self.how != "surface":
            return
        driven: set[str] = set()
        if self.mode == "nd":
            driven = set(self.n_model.names) | set(self.d_model.names)
        elif self.mode == "cost":
            driven = set(self.cost_model.names)
        names = [n for n in self.laws if n not in driven]
        if not names:
            return
        ok = self.ok
        t = {n: np.asarray(self.eff[n].forward(pd.to_numeric(ok[f"param.{n}"],
                                                             errors="coerce")), dtype=float)
             for n in names}
        sign = 1.0 if direction == "min" else -1.0
        y = sign * ok[output_column].to_numpy(dtype=float)
        rows = np.isfinite(y) & np.all([np.isfinite(v) for v in t.values()], axis=0)
        kw: dict[str, Any] = {}
        if self.mode == "nd" and "approach3" in self.alloc_fits:
            n_vals = ok["metric.params"].to_numpy(dtype=float)
            d_vals = (ok["metric.tokens"] if "metric.tokens" in ok.columns
                      else ok["metric.flops"] / (6 * ok["metric.params"])).to_numpy(float)
            rows &= np.isfinite(n_vals) & np.isfinite(d_vals) & (n_vals > 0) & (d_vals > 0)
            kw = {"n_params": n_vals[rows], "tokens": d_vals[rows],
                  "base_start": self.alloc_fits["approach3"].theta}
        else:
            kw = {"cost": ok[self.cost_column].to_numpy(dtype=float)[rows]}
        n_par = 5 + 3 * len(names) + (len(names) if "n_params" in kw else 0)
        if rows.sum() < n_par + 10:
            self.notes.append(f"too few trials ({int(rows.sum())}) to fit the loss surface's "
                              f"{n_par} parameters: every hyperparameter follows its law along "
                              f"the front")
            return
        fcost = self.front[self.cost_column].to_numpy(dtype=float)
        fout = sign * self.front[output_column].to_numpy(dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            resid = fout - sign * np.asarray(ffit.predict(fcost, warn_decades=np.inf)["value"])
        mad = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
        f_scale = max(mad, 1e-3 * float(np.median(np.abs(y[rows]))), 1e-12)
        try:
            self.surface = fit_surface(y[rows], {n: v[rows] for n, v in t.items()},
                                       f_scale=f_scale,
                                       n_bootstrap=min(self.n_bootstrap, SURFACE_BOOTSTRAP),
                                       level=self.level, seed=self.seed, **kw)
        except (ValueError, np.linalg.LinAlgError) as err:
            self.notes.append(f"loss surface fit failed ({err}): every hyperparameter follows "
                              f"its law along the front")

    def _surface_optima(self, budget, allocation, values, intervals, roles, laws) -> None:
        sf = self.surface
        if sf is None:
            return
        if sf.kind == "nd":
            z = [math.log10(allocation["N"]), math.log10(allocation["D"])]
        else:
            z = [math.log10(budget)]
        for n in sf.names:
            spec = self.eff[n]
            t, lo, hi = sf.optimum_basic(n, z)
            ok, why = sf.identified(n, z)
            role = "surface"
            held = sf.optimum_basic(n, sf.clip_to_data(z))
            t_lo, t_hi = sf.t_range[n]
            if not ok and sf.curvature_resolved(n) and t_lo <= held[0][0] <= t_hi:
                # the loss bends in it and the trials bracket the parabola's bottom at the
                # largest scale swept, but its trend is too uncertain to extrapolate: take that
                # bottom
                t, lo, hi = held
                ok, role = True, "surface (held)"
                if n not in self._unidentified:
                    self._unidentified.add(n)
                    self.notes.append(f"{n}: the trials show the loss bending in it but not "
                                      f"where its optimum moves ({why}); held at the optimum "
                                      f"at the largest scale the sweep ran")
            with np.errstate(over="ignore"):
                val, vlo, vhi = (float(spec.inverse(v[0])) for v in (t, lo, hi))
            laws[n]["surface"] = {"value": val, "low": vlo, "high": vhi,
                                  "curvature": sf.curvature(n), "identified": ok}
            if not ok:
                # the trials cannot show where its optimum goes: hold it at its front law's
                # value at the sweep's largest cost rather than extrapolate a trend the loss
                # does not support (that walks it out of the explored region)
                cmax = float(self.front[self.cost_column].max())
                with np.errstate(over="ignore", invalid="ignore"):
                    held = float(self.laws[n].predict(cmax, warn_decades=np.inf)["value"][0])
                values[n] = held
                lo_b, hi_b = intervals[n]
                intervals[n] = [min(lo_b, held), max(hi_b, held)]
                roles[n] = "held"
                if n not in self._unidentified:
                    self._unidentified.add(n)
                    self.notes.append(f"{n} is held at its front law's value at the sweep's "
                                      f"largest cost ({cmax:.3g}): {why}")
                continue
            values[n] = val
            intervals[n] = [vlo, vhi]
            roles[n] = role

    # one budget
    def at_budget(self, budget: float) -> BudgetRecommendation:
        specs = self.eff
        law_vals, laws = {}, {}
        for n, fit in self.laws.items():
            with np.errstate(over="ignore", invalid="ignore"):
                p = fit.predict(budget, warn_decades=np.inf).iloc[0]
            law_vals[n] = float(p["value"])
            laws[n] = {"space": fit.space, "value": float(p["value"]), "low": float(p["low"]),
                       "high": float(p["high"]), "slope": fit.slope, "r_squared": fit.r_squared}
        values = dict(law_vals)
        intervals = {n: [laws[n]["low"], laws[n]["high"]] for n in laws}
        roles = {n: "law" for n in laws}
        allocation = None
        driven: set[str] = set()
        if self.mode == "nd":
            allocation = self._nd(budget, law_vals, values, intervals, roles)
            driven = set(self.n_model.names) | set(self.d_model.names)
        elif self.mode == "cost":
            vals, achieved, _ = self._solve(self.cost_model, budget, law_vals)
            values.update(vals)
            for n in self.cost_model.names:
                roles[n] = "cost"
            driven = set(self.cost_model.names)
            allocation = {"mode": "cost", "model": self.cost_model.describe(),
                          "predicted_cost": achieved, "budget_ratio": achieved / budget}
        self._surface_optima(budget, allocation, values, intervals, roles, laws)
        item = BudgetRecommendation(budget, {}, {}, math.nan, [math.nan, math.nan], math.nan,
                                    "", laws=laws, roles=roles, allocation=allocation)
        for n in self.names:
            spec = specs.get(n)
            if n in self.fixed_values:
                item.params[n] = spec.python_value(self.fixed_values[n]) if spec else \
                    self.fixed_values[n]
                item.roles[n] = "fixed"
                continue
            if n in self.untuned:
                item.params[n], item.roles[n] = self.untuned[n], "untuned"
                continue
            if n in self.categorical:
                choice, support = self._categorical(n)
                item.params[n] = spec.match_choice(choice) if spec else choice
                item.categorical_support[n] = support
                item.roles[n] = "categorical"
                continue
            v = values[n]
            if spec is not None:
                v = spec.round(v)
                clamp = self.clamp == "all" or (self.clamp == "auto" and n not in driven)
                if not spec.contains(v):
                    if clamp:
                        item.clamped[n] = values[n]
                        v = spec.clamp(v)
                        self.diags.append(Diagnostic(
                            "clamped", f"budget {budget:.3g}",
                            f"{n}: its law gives {values[n]:.4g}, outside the sweep's bounds "
                            f"[{spec.min}, {spec.max}]; clamped to {v:.4g} (widen the bounds "
                            f"and sweep there, or pass clamp='none' / --clamp none)"))
                    else:
                        item.outside_search_space[n] = [spec.min, spec.max]
                item.params[n] = spec.python_value(v)
            else:
                item.params[n] = float(v)
            lo, hi = intervals[n]
            value = float(item.params[n])
            if math.isfinite(lo) and math.isfinite(hi):  # the rounded value is always inside
                item.intervals[n] = [min(lo, hi, value), max(lo, hi, value)]
            else:
                item.intervals[n] = [lo, hi]
        if allocation is not None and self.mode == "nd" and (item.clamped or self.clamp == "all"):
            self._recheck_budget(item, budget)
        return item

    def _nd(self, budget, law_vals, values, intervals, roles) -> dict:
        allocs = {name: _allocation_at(name, fit, budget) for name, fit in self.alloc_fits.items()}
        chosen = allocs[self.follow]
        n_target = chosen["N"]
        sizes, n_hat, _ = self._solve(self.n_model, n_target, law_vals)
        d_target = budget / (6.0 * n_hat)
        tokens, d_hat, _ = self._solve(self.d_model, d_target, law_vals)
        values.update(sizes)
        values.update(tokens)
        for n in self.n_model.names:
            roles[n] = "size"
        for n in self.d_model.names:
            roles[n] = "tokens"
        lo_n, hi_n = chosen["N_interval"]
        if math.isfinite(lo_n) and math.isfinite(hi_n) and lo_n > 0 and hi_n > 0:
            bounds = []
            for nt in (lo_n, hi_n):
                _, _, s_cont = self._solve(self.n_model, nt, law_vals)
                _, _, t_cont = self._solve(self.d_model, budget / (6.0 * nt), law_vals)
                bounds.append({**s_cont, **t_cont})
            for n in (*self.n_model.names, *self.d_model.names):
                a, b = bounds[0][n], bounds[1][n]
                intervals[n] = [min(a, b), max(a, b)]
        flops = 6.0 * n_hat * d_hat
        return {"mode": "6ND=C", "follows": self.follow, "N": n_hat, "D": d_hat,
                "tokens_per_param": d_hat / n_hat, "flops_6nd": flops,
                "budget_ratio": flops / budget,
                "predicted_cost": flops * self.flops_ratio,
                "cost_per_6nd": self.flops_ratio,
                "target_N": n_target,
                "N_model": self.n_model.describe(), "D_model": self.d_model.describe(),
                "approaches": {k: {kk: vv for kk, vv in v.items()} for k, v in allocs.items()}}

    def _check_collinear(self, numeric: dict[str, np.ndarray], chosen: list[str]) -> None:
        """Warn about a parameter left out of the size / tokens models that moved in lockstep
        with one in them over every trial: the sweep cannot tell which of the two sets N or D,
        so the learned formula may be wrong once they part (a longer sweep separates them)."""
        logs = {n: np.log(v) for n, v in numeric.items()
                if np.all(np.isfinite(v)) and np.all(v > 0) and np.ptp(v) > 0}
        for other in (n for n in logs if n not in chosen):
            for n in (c for c in chosen if c in logs):
                r = float(np.corrcoef(logs[other], logs[n])[0, 1])
                if abs(r) > 0.95:
                    self.diags.append(Diagnostic(
                        "collinear", other,
                        f"moved in lockstep with {n} over the sweep (correlation {r:.2f} in "
                        f"log), so the trials cannot tell whether it sets the size or tokens; "
                        f"the budget is spent through {n} assuming {other} does not (run a "
                        f"longer sweep to separate them, or check the command's size)"))
                    break

    def _solve(self, model: CountModel, target: float, start: dict) -> tuple:
        """:func:`solve_for` within the search space's bounds; with ``clamp="auto"``, when
        the budget cannot be spent inside them, past the ``max`` (the caller lists those
        parameters as outside the search space)."""
        if self.clamp == "none":
            return solve_for(model, target, start, self.log_slopes, self.eff, lower=False)
        out = solve_for(model, target, start, self.log_slopes, self.eff, upper=True)
        if self.clamp == "auto" and abs(math.log(model(out[2]) / target)) > 1e-6:
            out = solve_for(model, target, start, self.log_slopes, self.eff, upper=False)
        return out

    def _recheck_budget(self, item: BudgetRecommendation, budget: float) -> None:
        """After clamping size or tokens, say how far 6ND now is from the budget."""
        vals = {n: float(item.params[n]) for n in (*self.n_model.names, *self.d_model.names)}
        n_hat, d_hat = self.n_model(vals), self.d_model(vals)
        ratio = 6.0 * n_hat * d_hat / budget
        item.allocation.update(N=n_hat, D=d_hat, flops_6nd=6 * n_hat * d_hat,
                               budget_ratio=ratio, tokens_per_param=d_hat / n_hat)
        if abs(ratio - 1.0) > 0.05:
            self.diags.append(Diagnostic(
                "budget_not_spent", f"budget {budget:.3g}",
                f"after clamping to the sweep's bounds, 6ND = {6 * n_hat * d_hat:.3g} is "
                f"{ratio:.2f}x the budget; use --clamp auto to let size and tokens grow"))

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


def _infer_spec(name: str, column: pd.Series) -> ParamSpec:
    """A space for a parameter the table gives no search space for: log when positive, else
    linear; integer (rounded to the values' greatest common divisor) when every value is whole;
    no bounds."""
    v = pd.to_numeric(column, errors="coerce").dropna().to_numpy(dtype=float)
    kind = "log" if len(v) and np.all(v > 0) else "linear"
    if len(v) and np.all(v == np.round(v)) and np.all(np.abs(v) < 2 ** 62):
        g = int(np.gcd.reduce(np.abs(v).astype(np.int64)))
        return ParamSpec(name, kind, integer=True, rounding_factor=max(g, 1))
    return ParamSpec(name, kind)


# --- printing ----------------------------------------------------------------------------------
def _fmt(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{v:.4g}" if math.isfinite(v) else "-"


def _format_table(r) -> str:
    """The CLI's summary of a :class:`scaling.recommend.Recommendation`."""
    lines = [f"Recommendation from {r.source}",
             (f"front: {r.n_front} points by {r.cost_column!r}, {r.front_costs[0]:.3g} to "
              f"{r.front_costs[1]:.3g}; {'minimising' if r.direction == 'min' else 'maximising'} "
              f"{r.output_column!r}"),
             f"size follows: {r.follow} ({r.follow_reason})"]
    for item in r.recommendations:
        lo, hi = item.predicted_interval
        lines += ["", (f"budget {item.budget:.4g}: {item.extrapolation_decades:.2f} decades "
                       f"beyond the front; predicted {r.output_column} "
                       f"{item.predicted_output:.4g} [{_fmt(lo)}, {_fmt(hi)}]")]
        width = max(12, *(len(n) for n in item.params))
        lines.append(f"  {'parameter':<{width}}  {'value':>10}  {'low':>10}  {'high':>10}  "
                     f"{'law':>10}  role")
        for n, v in item.params.items():
            lo, hi = item.intervals.get(n, [math.nan, math.nan])
            law = item.laws.get(n, {}).get("value", math.nan)
            note = item.roles.get(n, "")
            if n in item.clamped:
                note += " (clamped)"
            if n in item.outside_search_space:
                note += " (outside the sweep's bounds)"
            if n in item.categorical_support:
                share = max(item.categorical_support[n].values())
                note += f" ({share:.0%} of the expensive half)"
            lines.append(f"  {n:<{width}}  {_fmt(v):>10}  {_fmt(lo):>10}  {_fmt(hi):>10}  "
                         f"{_fmt(law):>10}  {note}")
        a = item.allocation
        if a and a.get("mode") == "6ND=C":
            lines.append(f"  N = {a['N']:.4g}, D = {a['D']:.4g} ({a['tokens_per_param']:.1f} "
                         f"tokens/param): 6ND / budget = {a['budget_ratio']:.4f}, following "
                         f"{a['follows']}")
            for k, v in a["approaches"].items():
                lines.append(f"    {k:<10} N = {v['N']:.4g}, D = {v['D']:.4g} "
                             f"({v['tokens_per_param']:.1f} tokens/param)")
        elif a and a.get("mode") == "cost":
            lines.append(f"  predicted {r.cost_column} / budget = {a['budget_ratio']:.4f}")
        lines.append(f"  command: {item.command}")
    for d in r.diagnostics:
        lines.append(f"warning: {d}")
    for n in r.notes:
        lines.append(f"note: {n}")
    return "\n".join(lines)
