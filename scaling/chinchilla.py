"""Chinchilla's three approaches (Hoffmann et al. 2022) over a trial table.

Input: a contract table with ``output`` (the loss), ``metric.params`` (N) and ``metric.tokens``
(D) or ``metric.flops`` (C); the missing one of D / C is derived from C = 6 N D.

* Approach 1 (:func:`fit_approach1`): the envelope (lowest loss at each compute value over
  all runs / checkpoints); N_opt ∝ C^a and D_opt ∝ C^b fitted on the envelope.
* Approach 2 (:func:`fit_approach2`): IsoFLOP profiles: runs grouped by budget (relative
  tolerance), a parabola of loss against ln N per group, its minimum; N_opt ∝ C^a.
* Approach 3 (:func:`fit_approach3`): the parametric law L = E + A/N^alpha + B/D^beta, Huber
  fit from the 4,500-start grid (see :mod:`scaling.parametric`), bootstrap over runs.

The law itself is :class:`ChinchillaLaw`; the two published sets of its constants are
:data:`PAPER_FIT` (Hoffmann et al. 2022) and :data:`EPOCH_REFIT` (Besiroglu et al. 2024).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scaling import parametric
from scaling.bootstrap import interval_percentiles
from scaling.fits import FitError, extrapolation_decades, warn_if_far
from scaling.io import ok_rows, require_columns
from scaling.powerlaw import PowerLawFit, fit_power_law
from tays import pareto_indices

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChinchillaLaw:
    """The parametric loss L(N, D) = E + A / N^alpha + B / D^beta (N parameters, D tokens)."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float

    def loss(self, n_params, tokens):
        """L(N, D): floats give a float, numpy arrays broadcast."""
        return self.E + self.A / n_params ** self.alpha + self.B / tokens ** self.beta

    def compute_optimal(self, compute) -> pd.DataFrame:
        """Compute-optimal N, D under C = 6 N D (:func:`closed_form_allocation`)."""
        return closed_form_allocation(compute, self.alpha, self.beta, self.A, self.B)


#: Hoffmann et al. (2022), "Training Compute-Optimal Large Language Models", Approach 3 as
#: published (their equation 10).
PAPER_FIT = ChinchillaLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
#: Besiroglu et al. (2024), "Chinchilla Scaling: A replication attempt": Epoch AI's refit of the
#: paper's runs (ln A = 6.1699, ln B = 7.6698, ln E = 0.5973), the law :func:`fit_approach3`
#: recovers from :func:`scaling.chinchilla_epoch`.
EPOCH_REFIT = ChinchillaLaw(E=math.exp(0.5973), A=math.exp(6.1699), B=math.exp(7.6698),
                            alpha=0.3473, beta=0.3672)


def chinchilla_data(table: pd.DataFrame) -> pd.DataFrame:
    """Columns ``N``, ``D``, ``C``, ``loss`` from a contract table (ok rows, finite, positive).

    Raises a ValueError naming the missing columns when N or both of D / C are absent.
    """
    if "metric.params" not in table.columns or not (
            "metric.tokens" in table.columns or "metric.flops" in table.columns):
        require_columns(table, ["output", "metric.params", "metric.tokens|metric.flops"],
                        "Chinchilla fits (N = metric.params, D = metric.tokens or "
                        "C = metric.flops)")
    require_columns(table, ["output"], "Chinchilla fits (the loss)")
    cols = ["output", "metric.params"] + [c for c in ("metric.tokens", "metric.flops")
                                          if c in table.columns]
    rows = ok_rows(table, ["output", "metric.params"])
    n = rows["metric.params"].to_numpy(dtype=float)
    d = rows["metric.tokens"].to_numpy(dtype=float) if "metric.tokens" in cols else None
    c = rows["metric.flops"].to_numpy(dtype=float) if "metric.flops" in cols else None
    if d is None:
        d = c / (6 * n)
    elif c is not None:
        d = np.where(np.isfinite(d), d, c / (6 * n))
    c = 6 * n * d if c is None else np.where(np.isfinite(c), c, 6 * n * d)
    out = pd.DataFrame({"N": n, "D": d, "C": c, "loss": rows["output"].to_numpy(dtype=float)})
    good = np.isfinite(out.to_numpy()).all(axis=1) & (out[["N", "D", "C", "loss"]] > 0).all(1)
    if not good.all():
        logger.info("chinchilla: dropped %d rows with non-positive or missing N/D/C/loss",
                    int((~good).sum()))
    return out.loc[good].reset_index(drop=True)


def closed_form_allocation(compute, alpha: float, beta: float, A: float, B: float) -> pd.DataFrame:
    """Compute-optimal N, D under C = 6 N D for L = E + A/N^alpha + B/D^beta.

    N_opt = G (C/6)^a, D_opt = G^-1 (C/6)^b, a = beta/(alpha+beta), b = alpha/(alpha+beta),
    G = (alpha A / (beta B))^(1/(alpha+beta)).
    """
    c = np.atleast_1d(np.asarray(compute, dtype=float))
    a, b = beta / (alpha + beta), alpha / (alpha + beta)
    g = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
    n_opt = g * (c / 6.0) ** a
    d_opt = (c / 6.0) ** b / g
    return pd.DataFrame({"compute": c, "N_opt": n_opt, "D_opt": d_opt,
                         "tokens_per_param": d_opt / n_opt})


@dataclass
class ExponentFit:
    """Approach 1 or 2: N_opt = k_N C^a and D_opt = k_D C^b fitted on per-budget optima."""

    approach: str
    n_fit: PowerLawFit
    d_fit: PowerLawFit
    points: pd.DataFrame = field(repr=False)

    @property
    def a(self) -> float:
        """Exponent of N_opt in C."""
        return self.n_fit.slope

    @property
    def b(self) -> float:
        """Exponent of D_opt in C."""
        return self.d_fit.slope

    @property
    def n_points(self) -> int:
        """Number of per-budget optima fitted."""
        return self.n_fit.n_points

    @property
    def params(self) -> dict[str, float]:
        """Exponents a, b and prefactors k_N, k_D."""
        return {"a": self.a, "b": self.b, "k_N": self.n_fit.params["k"],
                "k_D": self.d_fit.params["k"]}

    @property
    def ci(self) -> dict[str, tuple[float, float]]:
        """Bootstrap percentile intervals of :attr:`params` (empty without a bootstrap)."""
        if not self.n_fit.ci:
            return {}
        return {"a": self.n_fit.ci["exponent"], "b": self.d_fit.ci["exponent"],
                "k_N": self.n_fit.ci["k"], "k_D": self.d_fit.ci["k"]}

    def compute_optimal(self, compute, warn_decades: float = 1.0) -> pd.DataFrame:
        """N_opt, D_opt (with intervals) and tokens per parameter at the given budgets.

        Warns when a budget is more than ``warn_decades`` decades beyond the fitted range.
        """
        n = self.n_fit.predict(compute, warn_decades=warn_decades)
        d = self.d_fit.predict(compute, warn_decades=np.inf)
        return pd.DataFrame({"compute": n["cost"], "N_opt": n["value"], "N_low": n["low"],
                             "N_high": n["high"], "D_opt": d["value"], "D_low": d["low"],
                             "D_high": d["high"], "tokens_per_param": d["value"] / n["value"],
                             "extrapolation_decades": n["extrapolation_decades"]})

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {"approach": self.approach, "params": self.params,
                "ci": {k: list(v) for k, v in self.ci.items()}, "n_points": self.n_points}


def _fit_exponents(approach, pts, n_bootstrap, level, seed) -> ExponentFit:
    n_fit = fit_power_law(pts["compute"], pts["N_opt"], "log", n_bootstrap, level, seed)
    d_fit = fit_power_law(pts["compute"], pts["D_opt"], "log", n_bootstrap, level, seed)
    return ExponentFit(approach, n_fit, d_fit, pts.reset_index(drop=True))


def fit_approach1(table: pd.DataFrame, n_bins: int | None = None, n_bootstrap: int = 1000,
                  level: float = 0.95, seed: int = 0) -> ExponentFit:
    """Approach 1: the lowest-loss envelope over runs (or checkpoints) against compute.

    With ``n_bins`` the compute range is cut into log-spaced bins and each bin's lowest-loss
    row is a candidate; without, every row is. Candidates that do not beat every cheaper
    candidate are dropped (the envelope is decreasing). Fits N_opt ∝ C^a, D_opt ∝ C^b.
    """
    data = chinchilla_data(table).sort_values(["C", "loss"])
    if n_bins:
        edges = np.logspace(np.log10(data["C"].min()), np.log10(data["C"].max()), n_bins + 1)
        idx = np.clip(np.searchsorted(edges, data["C"], side="right") - 1, 0, n_bins - 1)
        data = data.loc[data.groupby(idx)["loss"].idxmin()].sort_values("C")
    env = data.iloc[pareto_indices(data["C"], data["loss"])]
    pts = pd.DataFrame({"compute": env["C"], "N_opt": env["N"], "D_opt": env["D"],
                        "loss": env["loss"]})
    if len(pts) < 3:
        raise FitError(f"approach1: the loss envelope has only {len(pts)} point(s); need 3+ "
                       f"(runs at more compute values).")
    return _fit_exponents("approach1", pts, n_bootstrap, level, seed)


def group_budgets(compute, rel_tol: float = 0.1) -> np.ndarray:
    """Group labels for compute values: sorted values join a group while each is within
    ``rel_tol`` (relative) of the previous one (single linkage in log compute)."""
    c = np.asarray(compute, dtype=float)
    order = np.argsort(c)
    labels = np.empty(len(c), dtype=int)
    gid = 0
    for k, i in enumerate(order):
        if k and c[i] > c[order[k - 1]] * (1.0 + rel_tol):
            gid += 1
        labels[i] = gid
    return labels


def isoflop_minima(table: pd.DataFrame, rel_tol: float = 0.1, min_runs: int = 3) -> pd.DataFrame:
    """Per IsoFLOP group: the minimum of a parabola of loss against ln N.

    Groups with fewer than ``min_runs`` distinct N, a non-convex parabola, or a minimum outside
    the group's N range are skipped (logged). Columns: compute (geometric mean of the group),
    N_opt, D_opt = C / (6 N_opt), loss (parabola minimum), n_runs.
    """
    data = chinchilla_data(table)
    data["group"] = group_budgets(data["C"], rel_tol)
    rows = []
    for gid, grp in data.groupby("group"):
        x = np.log(grp["N"].to_numpy())
        if len(np.unique(x)) < min_runs:
            continue
        c2, c1, c0 = np.polyfit(x, grp["loss"].to_numpy(), 2)
        c_mean = float(np.exp(np.mean(np.log(grp["C"]))))
        if c2 <= 0:
            logger.info("approach2: budget %.3g skipped (parabola not convex)", c_mean)
            continue
        x_star = -c1 / (2 * c2)
        if not (x.min() <= x_star <= x.max()):
            logger.info("approach2: budget %.3g skipped (minimum outside the runs' N range)",
                        c_mean)
            continue
        n_opt = float(np.exp(x_star))
        rows.append({"compute": c_mean, "N_opt": n_opt, "D_opt": c_mean / (6 * n_opt),
                     "loss": float(c0 + c1 * x_star + c2 * x_star ** 2), "n_runs": len(grp)})
    return pd.DataFrame(rows, columns=["compute", "N_opt", "D_opt", "loss", "n_runs"])


def fit_approach2(table: pd.DataFrame, rel_tol: float = 0.1, min_runs: int = 3,
                  n_bootstrap: int = 1000, level: float = 0.95, seed: int = 0) -> ExponentFit:
    """Approach 2: IsoFLOP parabola minima (:func:`isoflop_minima`), N_opt ∝ C^a, D_opt ∝ C^b."""
    pts = isoflop_minima(table, rel_tol, min_runs)
    if len(pts) < 3:
        raise FitError(f"approach2: only {len(pts)} usable IsoFLOP budget(s) (>= {min_runs} "
                       f"model sizes bracketing a loss minimum, within rel_tol={rel_tol}); "
                       f"need 3+.")
    return _fit_exponents("approach2", pts, n_bootstrap, level, seed)


_A3_NAMES = ("E", "A", "B", "alpha", "beta", "a", "b")


def _derived(theta: np.ndarray) -> np.ndarray:
    """(S, 5) raw parameters -> (S, 7): E, A, B, alpha, beta, a, b."""
    la, lb, le, al, be = theta.T
    return np.column_stack([np.exp(le), np.exp(la), np.exp(lb), al, be, be / (al + be),
                            al / (al + be)])


@dataclass
class Approach3Fit:
    """The parametric law L(N, D) = E + A / N^alpha + B / D^beta (Approach 3)."""

    log_A: float
    log_B: float
    log_E: float
    alpha: float
    beta: float
    objective: float
    n_points: int
    level: float = 0.95
    compute_min: float = float("nan")
    compute_max: float = float("nan")
    samples: np.ndarray = field(default_factory=lambda: np.empty((0, 5)), repr=False)

    @property
    def theta(self) -> np.ndarray:
        """Raw parameters (ln A, ln B, ln E, alpha, beta)."""
        return np.array([self.log_A, self.log_B, self.log_E, self.alpha, self.beta])

    @property
    def params(self) -> dict[str, float]:
        """E, A, B, alpha, beta and the allocation exponents a = beta/(alpha+beta), b."""
        vals = _derived(self.theta[None, :])[0]
        out = dict(zip(_A3_NAMES, map(float, vals)))
        out.update(log_A=self.log_A, log_B=self.log_B, log_E=self.log_E)
        return out

    @property
    def ci(self) -> dict[str, tuple[float, float]]:
        """Bootstrap percentile intervals (empty without a bootstrap)."""
        if not len(self.samples):
            return {}
        d = _derived(self.samples)
        lo, hi = np.percentile(d, interval_percentiles(self.level), axis=0)
        out = {k: (float(lo[i]), float(hi[i])) for i, k in enumerate(_A3_NAMES)}
        for i, k in enumerate(("log_A", "log_B", "log_E")):
            lo_r, hi_r = np.percentile(self.samples[:, i], interval_percentiles(self.level))
            out[k] = (float(lo_r), float(hi_r))
        return out

    @property
    def se(self) -> dict[str, float]:
        """Bootstrap standard errors (empty without a bootstrap)."""
        if not len(self.samples):
            return {}
        d = _derived(self.samples)
        out = {k: float(np.std(d[:, i], ddof=1)) for i, k in enumerate(_A3_NAMES)}
        for i, k in enumerate(("log_A", "log_B", "log_E")):
            out[k] = float(np.std(self.samples[:, i], ddof=1))
        return out

    @property
    def law(self) -> ChinchillaLaw:
        """The fitted law at the point estimate."""
        return ChinchillaLaw(E=float(np.exp(self.log_E)), A=float(np.exp(self.log_A)),
                             B=float(np.exp(self.log_B)), alpha=self.alpha, beta=self.beta)

    def loss(self, n_params, tokens) -> np.ndarray:
        """L(N, D) at the point estimate."""
        return self.law.loss(np.asarray(n_params, dtype=float), np.asarray(tokens, dtype=float))

    def compute_optimal(self, compute, warn_decades: float = 1.0) -> pd.DataFrame:
        """N_opt, D_opt, tokens per parameter at the budgets (intervals when bootstrapped).

        ``extrapolation_decades``: how far each budget lies outside the fitted runs' compute
        range; warns beyond ``warn_decades``.
        """
        p = self.params
        out = closed_form_allocation(compute, p["alpha"], p["beta"], p["A"], p["B"])
        if np.isfinite(self.compute_max):
            dec = extrapolation_decades(out["compute"], self.compute_min, self.compute_max)
            out["extrapolation_decades"] = dec
            warn_if_far(dec, warn_decades, "approach3 allocation")
        if len(self.samples):
            d = _derived(self.samples)
            c6 = np.atleast_1d(np.asarray(compute, dtype=float))[None, :] / 6.0
            al, be, big_a, big_b = d[:, 3:4], d[:, 4:5], d[:, 1:2], d[:, 2:3]
            g = (al * big_a / (be * big_b)) ** (1.0 / (al + be))
            n_opt = g * c6 ** (be / (al + be))
            d_opt = c6 ** (al / (al + be)) / g
            q = interval_percentiles(self.level)
            for name, arr in (("N", n_opt), ("D", d_opt), ("tpp", d_opt / n_opt)):
                lo, hi = np.percentile(arr, q, axis=0)
                out[f"{name}_low"], out[f"{name}_high"] = lo, hi
        return out

    def to_dict(self) -> dict:
        """JSON-ready summary (params, intervals, standard errors, objective)."""
        return {"approach": "approach3", "params": self.params,
                "ci": {k: list(v) for k, v in self.ci.items()}, "se": self.se,
                "objective": self.objective, "n_points": self.n_points}


def fit_approach3(table: pd.DataFrame, drop_highest: int = 0, n_bootstrap: int = 0,
                  level: float = 0.95, seed: int = 0, grid: np.ndarray | None = None,
                  delta: float = parametric.HUBER_DELTA, progress: bool = True) -> Approach3Fit:
    """Approach 3: Huber fit of L = E + A/N^alpha + B/D^beta from the 4,500-start grid.

    Args:
        table: contract table (output, metric.params, metric.tokens or metric.flops).
        drop_highest: drop this many highest-loss runs first (Epoch's replication drops 5).
        n_bootstrap: bootstrap resamples over runs (0: none), warm-started at the optimum.
        level: confidence level of the percentile intervals.
        seed: bootstrap RNG seed.
        grid: starting points (ln A, ln B, ln E, alpha, beta); default the paper's grid.
        delta: Huber delta.
        progress: tqdm bar on the bootstrap.
    """
    data = chinchilla_data(table).sort_values("loss", kind="stable")
    if drop_highest:
        data = data.iloc[:-drop_highest]
    if len(data) < 8 or data["N"].nunique() < 3 or data["D"].nunique() < 3:
        raise FitError(f"approach3: {len(data)} run(s), {data['N'].nunique()} distinct N; need "
                       f"at least 8 runs with 3+ distinct N and D to fit 5 parameters.")
    ln, ld, ll = (np.log(data[c].to_numpy()) for c in ("N", "D", "loss"))
    theta, obj, _ = parametric.fit_grid(ln, ld, ll, grid=grid, delta=delta)
    fit = Approach3Fit(*map(float, theta), objective=obj, n_points=len(data), level=level,
                       compute_min=float(data["C"].min()), compute_max=float(data["C"].max()))
    if n_bootstrap > 0:
        fit.samples = parametric.bootstrap_fits(theta, ln, ld, ll, n_bootstrap, seed=seed,
                                                delta=delta, progress=progress)
    return fit
