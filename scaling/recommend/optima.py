"""The hyperparameters' optima from every trial: the loss surface of :mod:`scaling.recommend.surface`
fitted to the successful trials, and its optimum at each budget (or, where the trials cannot
place it, the parameter held at its front law's value at the sweep's largest cost)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from scaling.recommend.budget import BudgetModels
from scaling.recommend.laws import ParamLaws
from scaling.recommend.surface import SurfaceFit, fit_surface

__all__ = ["SURFACE_BOOTSTRAP", "SurfaceOptima", "fit_trial_surface"]

#: Bootstrap resamples of the loss-surface fit (each one a robust least-squares refit).
SURFACE_BOOTSTRAP = 100


def fit_trial_surface(ok: pd.DataFrame, front: pd.DataFrame, laws: ParamLaws,
                      models: BudgetModels, cost_column: str, output_column: str, direction: str,
                      ffit, n_bootstrap: int, level: float, seed: int,
                      notes: list[str]) -> SurfaceFit | None:
    """Fit the surface to every successful trial, for the numeric parameters that do not spend
    the budget (None, with a note, when the table is too small or the fit fails)."""
    names = [n for n in laws.laws if n not in models.driven]
    if not names:
        return None
    t = {n: np.asarray(laws.specs[n].space.forward(pd.to_numeric(ok[f"param.{n}"],
                                                                 errors="coerce")), dtype=float)
         for n in names}
    sign = 1.0 if direction == "min" else -1.0
    y = sign * ok[output_column].to_numpy(dtype=float)
    rows = np.isfinite(y) & np.all([np.isfinite(v) for v in t.values()], axis=0)
    kw: dict[str, Any] = {}
    if models.mode == "nd" and "approach3" in models.alloc_fits:
        n_vals = ok["metric.params"].to_numpy(dtype=float)
        d_vals = (ok["metric.tokens"] if "metric.tokens" in ok.columns
                  else ok["metric.flops"] / (6 * ok["metric.params"])).to_numpy(float)
        rows &= np.isfinite(n_vals) & np.isfinite(d_vals) & (n_vals > 0) & (d_vals > 0)
        kw = {"n_params": n_vals[rows], "tokens": d_vals[rows],
              "base_start": models.alloc_fits["approach3"].theta}
    else:
        kw = {"cost": ok[cost_column].to_numpy(dtype=float)[rows]}
    n_par = 5 + 3 * len(names) + (len(names) if "n_params" in kw else 0)
    if rows.sum() < n_par + 10:
        notes.append(f"too few trials ({int(rows.sum())}) to fit the loss surface's {n_par} "
                     f"parameters: every hyperparameter follows its law along the front")
        return None
    fcost = front[cost_column].to_numpy(dtype=float)
    fout = sign * front[output_column].to_numpy(dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        resid = fout - sign * np.asarray(ffit.predict(fcost, warn_decades=np.inf)["value"])
    mad = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    f_scale = max(mad, 1e-3 * float(np.median(np.abs(y[rows]))), 1e-12)
    try:
        return fit_surface(y[rows], {n: v[rows] for n, v in t.items()}, f_scale=f_scale,
                           n_bootstrap=min(n_bootstrap, SURFACE_BOOTSTRAP), level=level,
                           seed=seed, **kw)
    except (ValueError, np.linalg.LinAlgError) as err:
        notes.append(f"loss surface fit failed ({err}): every hyperparameter follows its law "
                     f"along the front")
        return None


class SurfaceOptima:
    """Sets the surface's parameters at each budget; each parameter the trials cannot place
    gets one note (not one per budget)."""

    def __init__(self, surface: SurfaceFit, laws: ParamLaws, front: pd.DataFrame,
                 cost_column: str, notes: list[str]) -> None:
        self.surface, self.laws, self.notes = surface, laws, notes
        self.cost_max = float(front[cost_column].max())
        self._noted: set[str] = set()

    def apply(self, budget: float, allocation: dict | None, values: dict[str, float],
              intervals: dict[str, list[float]], roles: dict[str, str],
              laws_out: dict[str, dict]) -> None:
        """Each surface parameter's value, interval and role at ``budget`` (``laws_out[n]``
        gets the surface's optimum next to the parameter's own law)."""
        sf = self.surface
        if sf.kind == "nd":
            z = [math.log10(allocation["N"]), math.log10(allocation["D"])]
        else:
            z = [math.log10(budget)]
        for n in sf.names:
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
                self._note(n, f"{n}: the trials show the loss bending in it but not where its "
                              f"optimum moves ({why}); held at the optimum at the largest "
                              f"scale the sweep ran")
            with np.errstate(over="ignore"):
                space = self.laws.specs[n].space
                val, vlo, vhi = (float(space.inverse(v[0])) for v in (t, lo, hi))
            laws_out[n]["surface"] = {"value": val, "low": vlo, "high": vhi,
                                      "curvature": sf.curvature(n), "identified": ok}
            if ok:
                values[n] = val
                intervals[n] = [vlo, vhi]
                roles[n] = role
            else:
                self._hold_at_front_law(n, why, values, intervals, roles)

    def _hold_at_front_law(self, n: str, why: str, values: dict[str, float],
                           intervals: dict[str, list[float]], roles: dict[str, str]) -> None:
        """The trials cannot show where its optimum goes: hold it at its front law's value at
        the sweep's largest cost rather than extrapolate a trend the loss does not support
        (that walks it out of the explored region)."""
        with np.errstate(over="ignore", invalid="ignore"):
            held = float(self.laws.laws[n].predict(self.cost_max,
                                                   warn_decades=np.inf)["value"][0])
        values[n] = held
        lo_b, hi_b = intervals[n]
        intervals[n] = [min(lo_b, held), max(hi_b, held)]
        roles[n] = "held"
        self._note(n, f"{n} is held at its front law's value at the sweep's largest cost "
                      f"({self.cost_max:.3g}): {why}")

    def _note(self, name: str, text: str) -> None:
        if name not in self._noted:
            self._noted.add(name)
            self.notes.append(text)
