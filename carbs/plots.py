"""PNG plots of a CARBS run (matplotlib Figure objects rendered by Agg, so the global pyplot
backend is left alone): the Pareto front, each parameter
against cost along the front, and convergence (best output against cumulative cost)."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from carbs.spaces import CategoricalSpace, LogitSpace, LogSpace
from tays.plots import light_log_axes

if TYPE_CHECKING:
    from carbs.optimizer import CARBS

__all__ = ["plot_convergence", "plot_params_vs_cost", "plot_pareto_front"]

#: Beyond this magnitude a linear axis's span (max - min, and its margins) can overflow.
_LINEAR_LIMIT = 1e300


def _save(fig, path: str | os.PathLike) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    for ax in fig.axes:  # plain-text log labels: mathtext was ~40% of a sweep's plotting time
        light_log_axes(ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return str(path)


def _quiet_overflow(plot: Callable[..., str]) -> Callable[..., str]:
    """Outputs or costs near the float limit (1e308) overflow inside matplotlib's margins and
    transforms; the plot is still drawn, so those numpy warnings are silenced."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs) -> str:
        with np.errstate(over="ignore", invalid="ignore"):
            return plot(*args, **kwargs)

    return wrapper


def _readable_scale(ax, values) -> None:
    """A symmetric-log y axis when the outputs span more than a float can hold in a linear
    axis (|value| near 1e308: the axis's span and margins overflow); the linear one otherwise."""
    finite = np.abs(np.asarray([v for v in values if math.isfinite(v)], dtype=float))
    if len(finite) and finite.max() > _LINEAR_LIMIT:
        ax.set_yscale("symlog")


@_quiet_overflow
def plot_pareto_front(opt: CARBS, path: str | os.PathLike, cost_label: str = "cost",
                      output_label: str = "output", show_search_origins: bool = True) -> str:
    """All observations (coloured by order); the observed cost/output Pareto front (every group
    of runs that beats all cheaper ones, cheapest runs included) as a step line; with
    ``show_search_origins`` the groups CARBS searches around (its search front, whose cheap end
    ``min_pareto_cost_fraction`` collapses) as open circles; failures as red crosses along the
    top of the plot. Log cost axis."""
    obs = opt.observations
    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.subplots()
    ok = [(i, o) for i, o in enumerate(obs) if not o.is_failure]
    if ok:
        idx = np.array([i for i, _ in ok])
        sc = ax.scatter([o.cost for _, o in ok], [o.output for _, o in ok], c=idx, cmap="viridis",
                        s=18, alpha=0.8, label="observations")
        fig.colorbar(sc, ax=ax, label="observation #")
    front = opt.pareto_front(observed=True)
    if front:
        costs, outputs = [g.cost for g in front], [g.output for g in front]
        ax.step(costs, outputs, where="post", color="C3", lw=1.8, label="Pareto front")
        ax.scatter(costs, outputs, color="C3", s=30, zorder=3)
    if show_search_origins:
        origins = opt.pareto_front()
        if origins:
            ax.scatter([g.cost for g in origins], [g.output for g in origins], s=90,
                       facecolors="none", edgecolors="k", lw=1.2, zorder=4,
                       label="search origins (CARBS front)")
    fails = [o.cost for o in obs if o.is_failure]
    if fails:
        ax.scatter(fails, np.ones(len(fails)), transform=ax.get_xaxis_transform(), marker="x",
                   color="red", s=30, clip_on=False, label=f"failures ({len(fails)})")
    if obs:
        ax.set_xscale("log")
    _readable_scale(ax, [o.output for _, o in ok])
    ax.set_xlabel(cost_label)
    ax.set_ylabel(output_label)
    ax.set_title("CARBS: observations and Pareto front")
    if obs:
        ax.legend(loc="best", fontsize=8)
    return _save(fig, path)


@_quiet_overflow
def plot_params_vs_cost(opt: CARBS, path: str | os.PathLike, cost_label: str = "cost") -> str:
    """Each parameter's value along the observed Pareto front (as drawn by
    :func:`plot_pareto_front`) against cost (log axes where the space is logarithmic;
    categories by index)."""
    front = opt.pareto_front(observed=True)
    params = opt.params
    ncol = min(3, len(params))
    nrow = math.ceil(len(params) / ncol)
    fig = Figure(figsize=(4.2 * ncol, 3.2 * nrow))
    axes = fig.subplots(nrow, ncol, squeeze=False)
    costs = [g.cost for g in front]
    for ax, p in zip(axes.flat, params):
        if isinstance(p.space, CategoricalSpace):
            ys = [p.space.index(g.config[p.name]) for g in front]
            ax.set_yticks(range(len(p.space.choices)))
            ax.set_yticklabels([str(c) for c in p.space.choices])
        else:
            ys = [g.config[p.name] for g in front]
            if isinstance(p.space, LogSpace):
                ax.set_yscale("log")
            elif isinstance(p.space, LogitSpace):
                ax.set_yscale("logit")
        ax.plot(costs, ys, "o-", color="C0", ms=4)
        if costs:
            ax.set_xscale("log")
        ax.set_title(p.name)
        ax.set_xlabel(cost_label)
    for ax in list(axes.flat)[len(params):]:
        ax.axis("off")
    fig.suptitle("Parameters along the Pareto front")
    return _save(fig, path)


@_quiet_overflow
def plot_convergence(opt: CARBS, path: str | os.PathLike, cost_label: str = "cost") -> str:
    """Best output so far against cumulative cost."""
    obs = opt.observations
    sign = opt.config.better_direction_sign
    cum, best, cur = [], [], math.nan
    total = 0.0
    for o in obs:
        total += o.cost
        if not o.is_failure and (math.isnan(cur) or sign * o.output > sign * cur):
            cur = o.output
        cum.append(total)
        best.append(cur)
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.plot(cum, best, drawstyle="steps-post", color="C0")
    if cum:
        ax.set_xscale("log")
    _readable_scale(ax, best)
    ax.set_xlabel(f"cumulative {cost_label}")
    ax.set_ylabel("best output so far")
    ax.set_title("CARBS convergence")
    return _save(fig, path)
