"""PNG plots of scaling fits.

Figures are built with matplotlib's object API (``matplotlib.figure.Figure``, saved through the
Agg canvas), so importing or using this module never changes the user's pyplot backend
(notebooks keep their inline backend).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from scaling.chinchilla import Approach3Fit, ExponentFit
from scaling.powerlaw import PowerLawFit
from scaling.saturating import SaturatingFit
from tays.plots import light_log_axes


def _grid(cmin: float, cmax: float, extend: float = 1.0) -> np.ndarray:
    return np.logspace(np.log10(cmin), np.log10(cmax) + extend, 200)


def _save(fig, path: Path) -> Path:
    for ax in fig.axes:
        light_log_axes(ax)
    # fixed margins: tight_layout measures every tick label, which cost more than the drawing
    fig.subplots_adjust(left=0.14, right=0.97, bottom=0.12, top=0.9, wspace=0.3)
    fig.savefig(path, dpi=110)
    return path


def _band(ax, fit, costs, color, label):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = fit.predict(costs, warn_decades=np.inf)
    ax.plot(pred["cost"], pred["value"], color=color, label=label)
    if pred["low"].notna().all():
        ax.fill_between(pred["cost"], pred["low"], pred["high"], color=color, alpha=0.2,
                        label=f"{round(fit.level * 100)}% band")
    ax.axvline(fit.cost_max, color="grey", lw=0.6, ls=":")


def plot_front(table: pd.DataFrame, front: pd.DataFrame, fit: SaturatingFit | PowerLawFit | None,
               cost_column: str, output_column: str, path: Path) -> Path:
    """All runs, the Pareto front and its fitted law (with band), cost on a log axis."""
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.subplots()
    ax.scatter(table[cost_column], table[output_column], s=8, color="0.7", label="runs")
    ax.scatter(front[cost_column], front[output_column], s=18, color="C0", label="Pareto front")
    if fit is not None:
        law = "E + A C^-alpha" if isinstance(fit, SaturatingFit) else "power law"
        _band(ax, fit, _grid(fit.cost_min, fit.cost_max), "C1", f"fit: {law}")
    ax.set_xscale("log")
    ax.set_xlabel(cost_column)
    ax.set_ylabel(output_column)
    ax.set_title("Pareto front")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_param_law(front: pd.DataFrame, column: str, fit: PowerLawFit, cost_column: str,
                   path: Path) -> Path:
    """A hyperparameter against cost along the front, with its law and band."""
    fig = Figure(figsize=(6.0, 4.2))
    ax = fig.subplots()
    ax.scatter(front[cost_column], front[column], s=18, color="C0", label="Pareto front")
    p = fit.params
    label = (f"{p['k']:.3g} C^{p['exponent']:.3f}" if fit.space == "log"
             else f"{fit.space}: {p['intercept']:.3g} + {p['slope']:.3g} log10 C")
    _band(ax, fit, _grid(fit.cost_min, fit.cost_max), "C1", label)
    ax.set_xscale("log")
    if fit.space == "log":
        ax.set_yscale("log")
    ax.set_xlabel(cost_column)
    ax.set_ylabel(column)
    ax.set_title(f"{column} along the front")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_chinchilla(data: pd.DataFrame, fits: dict[str, ExponentFit | Approach3Fit],
                    path: Path) -> Path:
    """N_opt and D_opt against compute: Approach 1/2 points and laws, Approach 3 closed form."""
    fig = Figure(figsize=(11, 4.4))
    axes = fig.subplots(1, 2)
    cmax = float(data["C"].max())
    costs = _grid(float(data["C"].min()), cmax, extend=2.0)
    colors = {"approach1": "C0", "approach2": "C2", "approach3": "C3"}
    for ax, col, name in ((axes[0], "N_opt", "N"), (axes[1], "D_opt", "D")):
        ax.scatter(data["C"], data[name], s=6, color="0.8", label="runs")
        for key, fit in fits.items():
            if isinstance(fit, ExponentFit):
                ax.scatter(fit.points["compute"], fit.points[col], s=14, color=colors[key])
                exp = fit.a if name == "N" else fit.b
                _band(ax, fit.n_fit if name == "N" else fit.d_fit, costs, colors[key],
                      f"{key}: C^{exp:.3f}")
            else:
                opt = fit.compute_optimal(costs, warn_decades=np.inf)
                exp = fit.params["a" if name == "N" else "b"]
                ax.plot(costs, opt[col], color=colors[key], label=f"{key}: C^{exp:.3f}")
                if f"{name}_low" in opt:
                    ax.fill_between(costs, opt[f"{name}_low"], opt[f"{name}_high"],
                                    color=colors[key], alpha=0.15)
        ax.axvline(cmax, color="grey", lw=0.6, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("compute C (FLOPs)")
        ax.set_ylabel(f"{col} ({'parameters' if name == 'N' else 'tokens'})")
        ax.legend(fontsize=8)
    fig.suptitle("Compute-optimal allocation")
    return _save(fig, path)
