# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # How every tuned hyperparameter scales with compute
#
# The paper's figure of parameters against cost: along the Pareto front of one CARBS sweep, each
# tuned hyperparameter follows its own power law `h(C) = k C^e` (fitted in the parameter's basic
# space: log for log-scaled parameters, logit for fractions), with a bootstrap band. The laws are
# then extrapolated to **10x and 100x the largest budget swept**, and `extrapolation_decades`
# says how far outside the fitted range each prediction lies. Beside each law, the configuration
# `scaling.recommend` proposes for the same budgets (the project's "tune as you scale" tool: it
# spends the budget exactly on size and tokens and takes the other hyperparameters from a loss
# surface fitted to every trial, or from their laws when the sweep is too small for that).
#
# Data: `data/lm_cpu_scaling.sqlite` (see `data/README.md`). Fits: `scaling.fit_power_laws`,
# `scaling.recommend`. N is the non-embedding parameter count (`metric.params_non_embedding`),
# as in every notebook on this sweep: the allocation `scaling.recommend` follows uses it.

# %%
import json
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Image, Markdown, display

import carbs
import scaling

DATA = Path(os.environ.get("NOTEBOOK_DATA", "data"))
FIGURES = Path(os.environ.get("NOTEBOOK_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
N_BOOTSTRAP = int(os.environ.get("NOTEBOOK_BOOTSTRAP", "500"))
SWEEP = DATA / "lm_cpu_scaling.sqlite"
COST = "metric.flops"

trials = carbs.load_trials(SWEEP)
trials["metric.params"] = trials["metric.params_non_embedding"]  # the N of the laws
with carbs.Journal.open(SWEEP, read_only=True) as journal:
    space = journal.meta["space"]  # the sweep's search space, as the sweeper recorded it
# each parameter is fitted in its own basic space (log, logit or linear, as the sweep searched it)
BASIC = {"LogSpace": "log", "LogitSpace": "logit", "LinearSpace": "linear"}
spaces = {name: BASIC[spec["type"]] for name, spec in space.items() if spec["type"] in BASIC}
display(pd.DataFrame(space).T[["type", "min", "max", "center"]])

# %% [markdown]
# ## Power laws along the front

# %%
front = scaling.pareto_front(trials, cost_column=COST, output_column="output", direction="min")
values = {name: front[f"param.{name}"].to_numpy(dtype=float) for name in spaces
          if front[f"param.{name}"].nunique() > 1}
laws = scaling.fit_power_laws(front[COST], values, {n: spaces[n] for n in values},
                              n_bootstrap=N_BOOTSTRAP, seed=0)
cost_max = float(trials.loc[trials["status"] == "ok", COST].max())
budgets = np.array([cost_max, 10 * cost_max, 100 * cost_max])
rows = []
for name, law in laws.items():
    if isinstance(law, scaling.FitError):
        print(f"{name}: no law ({law})")
        continue
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extrapolation warning: shown as a column instead
        pred = law.predict(budgets, warn_decades=np.inf)
    slope_ci = law.ci["exponent" if law.space == "log" else "slope"]
    rows.append({"parameter": name, "space": law.space, "exponent": law.slope,
                 "exponent_low": slope_ci[0], "exponent_high": slope_ci[1],
                 "r_squared": law.r_squared, "points": law.n_points,
                 **{f"{tag}": v for tag, v in zip(("at_max", "at_10x", "at_100x"), pred["value"])},
                 "at_100x_low": pred["low"].iloc[2], "at_100x_high": pred["high"].iloc[2],
                 "decades_10x": pred["extrapolation_decades"].iloc[1],
                 "decades_100x": pred["extrapolation_decades"].iloc[2]})
law_table = pd.DataFrame(rows).set_index("parameter")
display(law_table.round(4))

# %% [markdown]
# `exponent` is the slope in the parameter's basic space per decade of compute (for log-space
# parameters it is the power `e` in `h = k C^e`). `decades_*` is `extrapolation_decades`: how
# many decades beyond the front's most expensive point each budget lies.
#
# ## The recommended configurations at 10x and 100x

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    # the sweep's job folders are not shipped, so name the recipe for the ready-made commands
    rec = scaling.recommend(trials, ["10x", "100x"], space=space, cost_column=COST,
                            n_bootstrap=N_BOOTSTRAP, seed=0,
                            command_prefix="python -m recipes.lm +sweep=lm_cpu_scaling")
rec_rows = []
for item in rec.recommendations:
    for name, value in item.params.items():
        low, high = item.intervals.get(name, [np.nan, np.nan])
        rec_rows.append({"budget": item.budget, "parameter": name, "value": value, "low": low,
                         "high": high, "role": item.roles.get(name, ""),
                         "extrapolation_decades": item.extrapolation_decades})
rec_table = pd.DataFrame(rec_rows)
for item in rec.recommendations:
    print(f"budget {item.budget:.3g} FLOPs ({item.extrapolation_decades:.2f} decades beyond the "
          f"front): predicted loss {item.predicted_output:.3f} "
          f"[{item.predicted_interval[0]:.3f}, {item.predicted_interval[1]:.3f}]")
    print("   ", item.command)
for note in rec.notes:
    print("note:", note)
display(rec_table.round(5))

# %%
names = list(law_table.index)
ncol = 3
nrow = int(np.ceil(len(names) / ncol))
fig, axes = plt.subplots(nrow, ncol, figsize=(4.4 * ncol, 3.5 * nrow), squeeze=False)
grid = np.geomspace(float(front[COST].min()), 100 * cost_max, 200)
ok = trials[trials["status"] == "ok"]
for ax, name in zip(axes.flat, names):
    law = laws[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        band = law.predict(grid, warn_decades=np.inf)
    inside = band["extrapolation_decades"] == 0
    ax.scatter(ok[COST], ok[f"param.{name}"], s=8, color="0.75", label="all runs")
    ax.scatter(front[COST], front[f"param.{name}"], s=22, color="C0", zorder=3,
               label="Pareto front")
    ax.plot(band["cost"][inside], band["value"][inside], color="C1", label="power law")
    ax.plot(band["cost"][~inside], band["value"][~inside], color="C1", ls="--",
            label="extrapolated")
    ax.fill_between(band["cost"], band["low"], band["high"], color="C1", alpha=0.18,
                    label=f"{round(law.level * 100)}% band")
    for k, item in enumerate(rec.recommendations):
        if name in item.params:
            lo, hi = item.intervals.get(name, [np.nan, np.nan])
            v = float(item.params[name])
            yerr = [[max(v - lo, 0)], [max(hi - v, 0)]] if np.isfinite([lo, hi]).all() else None
            ax.errorbar([item.budget], [v], yerr=yerr, fmt="*", ms=11, color="C3", capsize=3,
                        label="scaling.recommend" if k == 0 else None)
    for mult in (10, 100):
        ax.axvline(mult * cost_max, color="grey", lw=0.7, ls=":")
    ax.set_xscale("log")
    if law.space in ("log", "logit"):
        ax.set_yscale(law.space)
    e = law_table.loc[name]
    ax.set_title(f"{name}: slope {e['exponent']:.2f} [{e['exponent_low']:.2f}, "
                 f"{e['exponent_high']:.2f}]", fontsize=9)
    ax.set_xlabel("training FLOPs")
for ax in axes.flat[len(names):]:
    ax.axis("off")
axes.flat[0].legend(fontsize=7)
fig.suptitle("lm_cpu_scaling: hyperparameters along the Pareto front; dotted lines: 10x and 100x the "
             "largest run", fontsize=10)
fig.tight_layout()
fig.savefig(FIGURES / "hyperparameter_scaling.png", dpi=110)
plt.close(fig)
display(Image(FIGURES / "hyperparameter_scaling.png"))

# %% [markdown]
# ## In numbers

# %%
summary = {
    "front_points": len(front), "cost_max": cost_max,
    "laws": law_table.reset_index().to_dict(orient="records"),
    "recommendations": [r.to_dict() for r in rec.recommendations],
}
(FIGURES / "hyperparameter_scaling.json").write_text(json.dumps(summary, indent=1, default=float))
lines = [f"Along the {len(front)}-point front (up to {cost_max:.2g} FLOPs):"]
for name, r in law_table.iterrows():
    unit = "power" if r["space"] == "log" else f"{r['space']}-space slope"
    lines.append(f"- **{name}**: {unit} {r['exponent']:.3f} "
                 f"[{r['exponent_low']:.3f}, {r['exponent_high']:.3f}] (R² {r['r_squared']:.2f}); "
                 f"law at 10x {r['at_10x']:.4g}, at 100x {r['at_100x']:.4g} "
                 f"({r['decades_100x']:.2f} decades of extrapolation)")
for item in rec.recommendations:
    cfg = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in item.params.items())
    lines.append(f"- `scaling.recommend` at {item.budget:.3g} FLOPs "
                 f"(extrapolation_decades {item.extrapolation_decades:.2f}): {cfg}; predicted loss "
                 f"{item.predicted_output:.3f}")
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## What the figure shows
#
# The list printed by the cell above is the figure in numbers, computed from the shipped table:
# each panel's fitted exponent (the slope in the parameter's basic space per decade of FLOPs)
# with its 95% bootstrap interval and R², the law's value at 10x and 100x the largest run, how
# many decades of extrapolation that is, and the full configurations `scaling.recommend`
# proposes there (red stars with their intervals). Read a panel's trend by its interval: an
# exponent interval that excludes 0 is a law the sweep supports (size and tokens should grow with
# compute); one that straddles 0 says the parameter has no detectable trend at this scale, and
# `scaling.recommend` then holds it near its best value instead of following the line. Every band
# widens fast beyond the dotted lines: one or two decades of extrapolation is what a sweep this
# small supports, which is why the recommendation reports `extrapolation_decades` with every
# budget.
#
# On the shipped sweep, `d_model` has no trend: the front sits at the space's floor (32) at
# every cost, so size grows through `n_layers` alone and `train.tokens` takes most of the extra
# compute. The learning rate's law is flat with a wide band because the front mixes two
# populations (the narrowest models near the space's top learning rate, a few wider ones near
# its centre), and `scaling.recommend`'s loss surface, which sees every trial, picks a lower
# learning rate for the deeper model it proposes. Why the front stays at the narrowest width
# (one fixed batch of 2,048 tokens: a trial's tokens are its optimiser steps, and wider models
# get too few of them at these budgets) is in `data/README.md` and at the end of
# `chinchilla_comparison`.
