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
# # Compute-optimal parameters and tokens: our CARBS sweep against Chinchilla
#
# The paper's headline: along a CARBS sweep's Pareto front, the number of parameters N and of
# training tokens D each grow about as `C^0.5`, as Chinchilla found with hand-designed IsoFLOP
# sweeps. Here the same comparison on the project's own CPU sweep of the LM recipe:
#
# * **lm_cpu_scaling, Pareto front**: power laws `N ∝ C^a`, `D ∝ C^b` through the front's
#   points (`scaling.fit_power_law`);
# * **lm_cpu_scaling, Approach 1** (the loss envelope over all runs), **Approach 2** (IsoFLOP
#   parabolas, where runs of similar cost bracket a minimum) and **Approach 3** (the parametric
#   law `E + A/N^alpha + B/D^beta`) on the same runs (`scaling.fit_approach1/2/3`);
# * **Chinchilla (paper)**: Hoffmann et al.'s published Approach 3 parameters (unrounded, as
#   Epoch AI reports them: ln A 6.0073, ln B 6.0179, alpha 0.33917, beta 0.28491), through the closed
#   form `scaling.closed_form_allocation`;
# * **Chinchilla (Epoch refit)**: Approach 3 refitted by `scaling.fit_approach3` on Epoch AI's
#   reconstruction of Chinchilla's runs (`scaling.chinchilla_epoch()`, 5 highest-loss runs
#   dropped as in the replication).
#
# The lm_cpu_scaling sweep (byte-level tokens, so N, the non-embedding parameter count used
# throughout, is most of each model; no run sees its corpus more than about twice; see
# `data/README.md`) is 10 or more orders of magnitude below Chinchilla's budgets, so the
# comparison is between **exponents** (slopes on the log-log plot) and tokens per parameter,
# not between absolute sizes.

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
from scaling import diagnostics

DATA = Path(os.environ.get("NOTEBOOK_DATA", "data"))
FIGURES = Path(os.environ.get("NOTEBOOK_FIGURES", "figures"))
FIGURES.mkdir(parents=True, exist_ok=True)
N_BOOTSTRAP = int(os.environ.get("NOTEBOOK_BOOTSTRAP", "500"))
A3_BOOTSTRAP = min(N_BOOTSTRAP, 200)  # Approach 3 refits 5 parameters per resample
COST = "metric.flops"
PAPER = {"log_A": 6.0073, "log_B": 6.0179, "log_E": 0.5267, "alpha": 0.33917, "beta": 0.28491}

trials = carbs.load_trials(DATA / "lm_cpu_scaling.sqlite")
trials["metric.params"] = trials["metric.params_non_embedding"]  # the N of the laws
epoch = scaling.chinchilla_epoch()
ok = trials[trials["status"] == "ok"]
cost_min, cost_max = float(ok[COST].min()), float(ok[COST].max())
print(f"lm_cpu_scaling: {len(ok)} ok runs, {cost_min:.3g} to {cost_max:.3g} FLOPs; "
      f"Epoch table: {len(epoch)} runs, {epoch['metric.flops'].min():.3g} to "
      f"{epoch['metric.flops'].max():.3g} FLOPs")

# %% [markdown]
# ## Fits

# %%
warnings.simplefilter("ignore", UserWarning)  # extrapolation warnings: shown as columns below
front = scaling.pareto_front(trials, cost_column=COST, output_column="output", direction="min")
front_n = scaling.fit_power_law(front[COST], front["metric.params"], "log", N_BOOTSTRAP, seed=0)
front_d = scaling.fit_power_law(front[COST], front["metric.tokens"], "log", N_BOOTSTRAP, seed=0)
fits, not_fitted = {}, {}
for name, run in {
    "approach1": lambda: scaling.fit_approach1(trials, n_bootstrap=N_BOOTSTRAP, seed=0),
    "approach2": lambda: scaling.fit_approach2(trials, n_bootstrap=N_BOOTSTRAP, seed=0),
    "approach3": lambda: scaling.fit_approach3(trials, n_bootstrap=A3_BOOTSTRAP, seed=0,
                                               progress=False),
}.items():
    try:
        fits[name] = run()
    except (scaling.FitError, ValueError) as err:
        not_fitted[name] = str(err)
        print(f"lm_cpu_scaling {name}: not fitted ({err})")
epoch_a3 = scaling.fit_approach3(epoch, drop_highest=5, n_bootstrap=A3_BOOTSTRAP, seed=0,
                                 progress=False)
flags = {}  # fits scaling's diagnostics flag (e.g. an Approach 3 optimum at its grid's edge)
for name, fit in [*fits.items(), ("epoch approach3", epoch_a3)]:
    for d in diagnostics.check_fit(name, fit):
        print("warning:", d)
        flags.setdefault(name, str(d))


def paper_allocation(compute):
    """Chinchilla's published law through the package's closed form."""
    return scaling.closed_form_allocation(compute, PAPER["alpha"], PAPER["beta"],
                                          np.exp(PAPER["log_A"]), np.exp(PAPER["log_B"]))


paper_a = PAPER["beta"] / (PAPER["alpha"] + PAPER["beta"])
rows = [
    {"law": "lm_cpu_scaling Pareto front", "a": front_n.slope, "a_ci": front_n.ci["exponent"],
     "b": front_d.slope, "b_ci": front_d.ci["exponent"], "points": front_n.n_points},
]
for name, fit in fits.items():
    ci = fit.ci
    rows.append({"law": f"lm_cpu_scaling {name}", "a": fit.params["a"], "a_ci": ci.get("a"),
                 "b": fit.params["b"], "b_ci": ci.get("b"), "points": fit.n_points})
rows += [
    {"law": "Chinchilla paper (Approach 3)", "a": paper_a, "a_ci": None, "b": 1 - paper_a,
     "b_ci": None, "points": None},
    {"law": "Chinchilla Epoch refit (Approach 3)", "a": epoch_a3.params["a"],
     "a_ci": epoch_a3.ci["a"], "b": epoch_a3.params["b"], "b_ci": epoch_a3.ci["b"],
     "points": epoch_a3.n_points},
]
exponents = pd.DataFrame(rows).set_index("law")
display(exponents)

# %% [markdown]
# ## Tokens per parameter at 10x and 100x the sweep's largest run

# %%
budgets = np.array([10 * cost_max, 100 * cost_max])


def _tpp_rows(label, n, d, decades, low=(np.nan,) * 2, high=(np.nan,) * 2):
    return [{"law": label, "budget": b, "N_opt": ni, "D_opt": di, "tokens_per_param": di / ni,
             "tpp_low": lo, "tpp_high": hi, "extrapolation_decades": dec}
            for b, ni, di, dec, lo, hi in zip(budgets, n, d, decades, low, high)]


def _ratio_interval(n_law, d_law, costs, level=0.95):
    """Bootstrap interval of D/N from two log-space laws fitted to the same points with the same
    seed, whose resamples are therefore paired (one draw of the front gives both lines)."""
    x = np.log10(costs)[None, :]
    t_n = n_law.samples[:, :1] + n_law.samples[:, 1:2] * x
    t_d = d_law.samples[:, :1] + d_law.samples[:, 1:2] * x
    q = [50 * (1 - level), 50 * (1 + level)]
    return np.percentile(10.0 ** (t_d - t_n), q, axis=0)


pn = front_n.predict(budgets, warn_decades=np.inf)
pd_ = front_d.predict(budgets, warn_decades=np.inf)
tpp = _tpp_rows("lm_cpu_scaling Pareto front", pn["value"], pd_["value"],
                pn["extrapolation_decades"], *_ratio_interval(front_n, front_d, budgets))
for name, fit in fits.items():
    opt = fit.compute_optimal(budgets, warn_decades=np.inf)
    dec = opt.get("extrapolation_decades", [np.nan] * 2)
    if "tpp_low" in opt:  # Approach 3: from its bootstrap's parameter draws
        bounds = (opt["tpp_low"], opt["tpp_high"])
    else:  # a pair of laws (Approaches 1 and 2)
        bounds = _ratio_interval(fit.n_fit, fit.d_fit, budgets)
    tpp += _tpp_rows(f"lm_cpu_scaling {name}", opt["N_opt"], opt["D_opt"], dec, *bounds)
paper = paper_allocation(budgets)
tpp += _tpp_rows("Chinchilla paper", paper["N_opt"], paper["D_opt"], [np.nan] * 2)
ep = epoch_a3.compute_optimal(budgets, warn_decades=np.inf)
tpp += _tpp_rows("Chinchilla Epoch refit", ep["N_opt"], ep["D_opt"], ep["extrapolation_decades"],
                 ep["tpp_low"], ep["tpp_high"])
tpp_table = pd.DataFrame(tpp)
display(tpp_table.round(3))

# %%
chin_c = 5.76e23  # Chinchilla's own training budget
at_chin = pd.concat([paper_allocation([chin_c]).assign(law="Chinchilla paper"),
                     epoch_a3.compute_optimal([chin_c], warn_decades=np.inf)
                     .assign(law="Chinchilla Epoch refit")])[
    ["law", "compute", "N_opt", "D_opt", "tokens_per_param"]]
display(at_chin)

# %%
grid = np.geomspace(cost_min, 1e25, 300)
sweep_grid = np.geomspace(cost_min, 100 * cost_max, 100)
colors = {"front": "C0", "approach1": "C2", "approach2": "C4", "approach3": "C3", "paper": "k",
          "epoch": "C1"}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
for ax, col, key, law in ((axes[0], "N_opt", "metric.params", front_n),
                          (axes[1], "D_opt", "metric.tokens", front_d)):
    ax.scatter(ok[COST], ok[key], s=6, color="0.75", label="lm_cpu_scaling runs")
    ax.scatter(front[COST], front[key], s=18, color=colors["front"], zorder=3,
               label="lm_cpu_scaling Pareto front")
    band = law.predict(sweep_grid, warn_decades=np.inf)
    ax.plot(band["cost"], band["value"], color=colors["front"],
            label=f"front law: C^{law.slope:.2f}")
    ax.fill_between(band["cost"], band["low"], band["high"], color=colors["front"], alpha=0.15)
    for name, fit in fits.items():
        opt = fit.compute_optimal(sweep_grid, warn_decades=np.inf)
        exp = fit.params["a" if col == "N_opt" else "b"]
        ax.plot(sweep_grid, opt[col], color=colors[name], ls="--",
                label=f"lm_cpu_scaling {name}: C^{exp:.2f}")
    ax.scatter(epoch["metric.flops"], epoch["metric.params" if col == "N_opt" else
                                            "metric.tokens"], s=5, color="bisque",
               label="Chinchilla runs (Epoch)")
    ax.plot(grid, paper_allocation(grid)[col], color=colors["paper"], lw=1,
            label=f"Chinchilla paper: C^{paper_a if col == 'N_opt' else 1 - paper_a:.2f}")
    eo = epoch_a3.compute_optimal(grid, warn_decades=np.inf)
    ax.plot(grid, eo[col], color=colors["epoch"],
            label=f"Epoch refit: C^{epoch_a3.params['a' if col == 'N_opt' else 'b']:.2f}")
    if f"{col[0]}_low" in eo:
        ax.fill_between(grid, eo[f"{col[0]}_low"], eo[f"{col[0]}_high"], color=colors["epoch"],
                        alpha=0.15)
    for mult in (10, 100):
        ax.axvline(mult * cost_max, color="grey", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training compute C (FLOPs)")
    ax.set_ylabel("parameters N" if col == "N_opt" else "tokens D")
    ax.set_title(f"compute-optimal {'model size' if col == 'N_opt' else 'training tokens'}")
axes[0].legend(fontsize=7, loc="upper left")
fig.tight_layout()
fig.savefig(FIGURES / "chinchilla_comparison.png", dpi=110)
plt.close(fig)
display(Image(FIGURES / "chinchilla_comparison.png"))

# %% [markdown]
# ## In numbers

# %%


def _fmt(row, key):
    ci = row[f"{key}_ci"]
    ci_text = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci is not None else ""
    return f"{row[key]:.2f}{ci_text}"


summary = {
    "exponents": exponents.reset_index().to_dict(orient="records"),
    "tokens_per_param": tpp_table.to_dict(orient="records"),
    "at_chinchilla_budget": at_chin.to_dict(orient="records"), "flagged": flags,
    "not_fitted": not_fitted,
}
(FIGURES / "chinchilla_comparison.json").write_text(json.dumps(summary, indent=1, default=float))
lines = ["Exponents of N_opt ∝ C^a and D_opt ∝ C^b (95% bootstrap intervals):"]
for law, r in exponents.iterrows():
    flag = flags.get(law.replace("lm_cpu_scaling ", ""))
    lines.append(f"- **{law}**: a = {_fmt(r, 'a')}, b = {_fmt(r, 'b')}"
                 + (f" (flagged by `scaling.diagnostics`: {flag})" if flag else ""))
for name, err in not_fitted.items():
    lines.append(f"- **lm_cpu_scaling {name}**: not fitted ({err})")
lines.append("")
lines.append(f"Tokens per parameter at 10x / 100x the sweep's largest run ({budgets[0]:.2g} / "
             f"{budgets[1]:.2g} FLOPs; 95% bootstrap intervals):")
for law, g in tpp_table.groupby("law", sort=False):
    lines.append(f"- {law}: " + " / ".join(
        f"{r['tokens_per_param']:.3g}" + (f" [{r['tpp_low']:.3g}, {r['tpp_high']:.3g}]"
                                          if np.isfinite(r["tpp_low"]) else "")
        for _, r in g.iterrows()))
lines.append("")
lines.append("At Chinchilla's budget (5.76e23 FLOPs): " + "; ".join(
    f"{r['law']} N = {r['N_opt']:.2g}, D = {r['D_opt']:.2g}, {r['tokens_per_param']:.1f} "
    f"tokens/parameter" for _, r in at_chin.iterrows()) + ".")
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## What the figure shows
#
# The statement printed above is the figure in numbers, computed at run time from the shipped
# tables: the exponents `a` (size) and `b` (tokens) of every law with their 95% bootstrap
# intervals, the tokens per parameter each law prescribes at 10x and 100x the sweep's largest
# run, and Chinchilla's own allocation at 5.76e23 FLOPs (about 18 tokens per parameter for the
# Epoch refit, the famous "20 tokens per parameter"). Compare the **slopes**: the
# lm_cpu_scaling lines sit 10 or more decades left of Chinchilla's, so their intercepts differ by
# construction (byte-level models of 12k-1M parameters trained for a few hundred to a few
# thousand steps of 2,048 bytes), while `a` and `b` measure how a budget should be split as it
# grows. Intervals that overlap 0.5 agree with Chinchilla's equal scaling; the Pareto-front law
# needs no IsoFLOP grid, which is the CARBS paper's point. A fit flagged by `scaling.diagnostics`
# (e.g. an Approach 3 optimum at the edge of its start grid, which a small sweep whose model size
# and tokens grow together along one line easily produces) is shown but is not a law to use.
#
# ## Why this sweep disagrees with Chinchilla
#
# On the shipped sweep the front's size exponent `a` is far below 0.5 and its tokens per
# parameter at 10x run to the hundreds or thousands; Approach 3 comes closer but is flagged (its
# irreducible loss `E` runs to zero, so it is a law without a floor), and Approach 2 finds too
# few IsoFLOP budgets whose model sizes bracket a minimum. The cause is the sweep's regime, not
# the method. Almost every front point sits at `d_model` 32, the narrowest width the search space
# allows, so the front's N grows only through depth and its tokens take almost all of the extra
# compute. Every trial uses one fixed batch of 2,048 tokens, so a trial's tokens are its
# optimiser steps: up to 3.7e12 FLOPs a wider model gets a few hundred steps where the narrowest
# get thousands, and byte-level models at those step counts are limited by optimisation, not by
# capacity. Single-seed probes at 7.5e11 FLOPs (commands and numbers in `data/README.md`)
# separate the causes: a model 8x larger than the front's (64 x 2) loses to it at the 2,048-token
# batch, and raising its learning rate (the sweep had left the wider models near the search
# centre's) makes it worse; fed the same tokens in batches of 512, four times the steps, it wins.
# A sweep with a smaller batch, or with the batch size among the searched hyperparameters, is
# the next step; the data README sizes it.
