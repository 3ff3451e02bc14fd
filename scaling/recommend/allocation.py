"""The allocations of N a recommendation can follow at a budget: the loss surface's L(N, D)
(:func:`surface_allocation`), the Pareto front's own law of ``metric.params`` and Chinchilla's
Approaches 3, 2 and 1 fitted on every run; and which one the size follows
(:func:`choose_follow`, :func:`surface_follows`)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from scaling import chinchilla
from scaling.diagnostics import Diagnostic
from scaling.powerlaw import FitError, fit_power_law
from scaling.recommend.result import RecommendError

__all__ = ["APPROACH3_BOOTSTRAP", "allocation_at", "chinchilla_allocations", "choose_follow",
           "surface_allocation", "surface_follows"]

#: Bootstrap resamples of the Approach 3 fit (each one is a 5-parameter refit).
APPROACH3_BOOTSTRAP = 200


def chinchilla_allocations(table, front, cost_column, n_bootstrap, level, seed):
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


def allocation_at(name: str, fit, budget: float) -> dict:
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


def choose_follow(follow: str, fits: dict, diags: dict[str, list]) -> tuple[str, str]:
    """The allocation followed before the loss surface is fitted ("surface" starts as
    "chinchilla"; :func:`surface_follows` decides later), and why."""
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


#: The surface's exponents alpha, beta must lie inside these bounds (its fit bounds are [0, 3])
#: for its allocation to be followed.
SURFACE_EXPONENTS = (0.05, 2.0)


def surface_allocation(surface, compute_min: float, compute_max: float):
    """The loss surface's base law L(N, D) (:mod:`scaling.recommend.surface`, fitted to every
    trial together with a parabola per other hyperparameter) as an Approach 3 fit, whose
    compute-optimal N is the allocation; None when the surface is not an N, D surface."""
    if surface is None or surface.kind != "nd":
        return None
    theta = surface.theta[:5]
    fit = chinchilla.Approach3Fit(*map(float, theta), objective=math.nan,
                                  n_points=surface.n_points, level=surface.level,
                                  compute_min=compute_min, compute_max=compute_max)
    if len(surface.samples):
        fit.samples = np.asarray(surface.samples[:, :5], dtype=float)
    return fit


def surface_follows(fit) -> tuple[bool, str]:
    """Whether the surface's allocation is followed, and why (or why not)."""
    lo, hi = SURFACE_EXPONENTS
    if fit is None:
        return False, "no N, D loss surface was fitted"
    if not (lo < fit.alpha < hi and lo < fit.beta < hi):
        return False, (f"the loss surface's exponents (alpha {fit.alpha:.3g}, beta "
                       f"{fit.beta:.3g}) are outside ({lo}, {hi})")
    return True, ("the loss surface's L(N, D), fitted to every run together with each other "
                  "hyperparameter's parabola: Approach 3 on the raw losses also fits the "
                  "penalties of runs whose learning rate, warm-up, ... were off their optima, "
                  "and those change with size, which biases the allocation")
