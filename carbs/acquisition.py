"""Acquisition: numerically stable log expected improvement, cost clamping, cost strata.

All functions are pure numpy. Outputs are in the output model's warped units (larger is better).
The CARBS score of a candidate is::

    log EI(mu, sigma; best + exploration_bias) + log search_density + log P(success)
    (and -inf where the predicted cost exceeds max_suggestion_cost)

(the search density is the proposal's, see :mod:`carbs.proposal`), where ``best`` is the Pareto
model's value at the candidate's predicted cost, clamped from below by its value at a cost
threshold (high-cost clamping). With the cost-stratified search (the default) the threshold is
the suggestion's target cost (:func:`draw_cost_target`) and the suggestion is the best candidate
of the stratum nearest that cost (:func:`cost_stratum`); in the reference the threshold is drawn
log-uniformly over the front's cost range (:func:`draw_high_cost_threshold`) and the suggestion
is the best of all candidates.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfcx, log_ndtr

__all__ = [
    "cost_stratum",
    "cost_target_range",
    "draw_cost_target",
    "draw_high_cost_threshold",
    "expected_improvement",
    "log_expected_improvement",
    "log_h",
]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_SQRT_HALF_PI = math.sqrt(math.pi / 2)


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x <= 0, stable on both branches."""
    x = np.minimum(x, 0.0)
    with np.errstate(divide="ignore"):
        return np.where(x > -math.log(2), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def log_h(z: np.ndarray) -> np.ndarray:
    """log(phi(z) + z * Phi(z)), finite for every finite z.

    Branches: z > -1 direct; -1e4 < z <= -1 via erfcx (log phi + log(1 - |z| sqrt(pi/2)
    erfcx(|z|/sqrt 2))); z <= -1e4 the asymptotic series phi(z) (1/z^2 - 3/z^4 + 15/z^6).
    |z| is clipped at 1e150 so the result stays finite (about -5e299 at the clip).
    """
    z = np.clip(np.asarray(z, dtype=np.float64), -1e150, 1e150)  # keeps z*z finite
    out = np.empty_like(z)
    big = z > -1.0
    mid = (z <= -1.0) & (z > -1e4)
    tiny = z <= -1e4
    zb = z[big]
    # phi(z) + z Phi(z) > 0 here; use exp(log) forms to stay finite at large z
    phi = np.exp(-0.5 * zb * zb - _LOG_SQRT_2PI)
    out[big] = np.log(phi + zb * np.exp(log_ndtr(zb)))
    zm = -z[mid]
    inner = np.log(zm) + np.log(erfcx(zm / math.sqrt(2))) + math.log(_SQRT_HALF_PI)
    out[mid] = -0.5 * zm * zm - _LOG_SQRT_2PI + _log1mexp(inner)
    zt = z[tiny]
    inv2 = 1.0 / (zt * zt)
    out[tiny] = -0.5 * zt * zt - _LOG_SQRT_2PI + np.log(inv2 * (1 - 3 * inv2 + 15 * inv2 * inv2))
    return out


def log_expected_improvement(
    mu: np.ndarray, sigma: np.ndarray, best: np.ndarray | float, exploration_bias: float = 0.0
) -> np.ndarray:
    """log EI of maximising: E[max(f - (best + exploration_bias), 0)], f ~ N(mu, sigma^2).

    ``sigma`` is floored at 1e-12 so a zero-variance point still gets a finite score.
    """
    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.maximum(np.asarray(sigma, dtype=np.float64), 1e-12)
    z = (mu - (np.asarray(best, dtype=np.float64) + exploration_bias)) / sigma
    z = np.clip(z, -1e150, 1e150)
    return np.log(sigma) + log_h(z)


def expected_improvement(
    mu: np.ndarray, sigma: np.ndarray, best: np.ndarray | float, exploration_bias: float = 0.0
) -> np.ndarray:
    """EI (may underflow to 0 far below the incumbent; use the log form to rank)."""
    return np.exp(log_expected_improvement(mu, sigma, best, exploration_bias))


def draw_high_cost_threshold(
    rng: np.random.Generator, pareto_costs: np.ndarray, max_suggestion_cost: float | None
) -> float:
    """A cost drawn log-uniformly between the cheapest and the most expensive Pareto group,
    capped at ``max_suggestion_cost``."""
    costs = np.asarray(pareto_costs, dtype=np.float64)
    lo, hi = float(np.min(costs)), float(np.max(costs))
    if max_suggestion_cost is not None:
        hi = min(hi, float(max_suggestion_cost))
        lo = min(lo, hi)
    u = rng.uniform()
    return float(math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))))


# Cost-stratified search works in natural log-cost at a resolution of a factor of 2: targets go
# at least a factor of 2 beyond the observed cost range, a stratum is at least a factor of 2 wide,
# and candidates whose predicted costs all lie within a factor of 2 of each other (cost that
# barely varies, e.g. wall seconds of a cost-free problem) are not stratified at all.
LOG_COST_RESOLUTION = math.log(2.0)


def cost_target_range(cheapest_cost: float, top_cost: float, extension: float,
                      max_suggestion_cost: float | None, *, rule: str = "stratified",
                      max_factor: float = 10.0, span_decades: float | None = None,
                      span_top: float | None = None,
                      window: tuple[float, float] | None = None,
                      budget_cap: float | None = None,
                      floor: float | None = None) -> tuple[float, float] | None:
    """The (low, high) natural log-costs the targets of a cost-stratified suggestion are drawn
    between, or None when every run costs the same (nothing to stratify).

    The observed range [log cheapest, log top] is widened on each side by ``extension`` times
    its span (at least a factor of 2); by ``rule``:

    - "stratified": no more (the range can double in log-cost with every suggestion);
    - "bounded": by at most a factor of ``max_factor`` on each side;
    - "expensive": as "bounded" (drawn weighted towards the top, see :func:`draw_cost_target`);
    - "budget": below as "bounded", above up to ``budget_cap`` (what one suggestion may cost
      of the remaining budget) when one is known.

    With ``span_decades`` (not for "stratified"), the low end stays within that many decades
    of the top (of the front, or ``span_top`` when that is higher: e.g. what one run may cost
    of the whole budget). Then clipped to ``window`` (cheapest, dearest cost wanted; a factor of 2
    beyond each end): a range the window pushes past the observed one collapses to its
    nearest end (the target is then beyond the front, which the suggestion pushes that way).
    The low end is then raised to ``floor`` when one is given (the cost below which runs are
    too noisy to tell configurations apart, :func:`carbs.noise.noise_floor`).
    The observed top and the low end are capped at ``max_suggestion_cost``; the high end is
    not (targets drawn above the cap are moved to it by :func:`draw_cost_target`, so the cap
    gets their share).
    """
    lo, hi = math.log(cheapest_cost), math.log(top_cost)
    cap = math.inf if max_suggestion_cost is None else math.log(max_suggestion_cost)
    hi = min(hi, cap)
    lo = min(lo, hi)
    span = hi - lo
    if span <= 1e-12:
        return None
    res = LOG_COST_RESOLUTION
    wide = max(extension * span, res)
    step = min(wide, math.log(max_factor))
    if rule == "stratified":
        a, b = lo - wide, hi + wide
    elif rule in ("bounded", "expensive"):
        a, b = lo - step, hi + step
    elif rule == "budget":
        a, b = lo - step, (hi + step if budget_cap is None
                           else max(hi + res, math.log(budget_cap)))
    else:
        raise ValueError(f"unknown cost target rule {rule!r}")
    if span_decades is not None and rule != "stratified":
        top = hi if span_top is None else max(hi, math.log(span_top))
        a = max(a, top - span_decades * math.log(10.0))
    if window is not None:
        a, b = max(a, math.log(window[0]) - res), min(b, math.log(window[1]) + res)
    if floor is not None:
        a = max(a, math.log(floor))
    a = min(a, b, cap)
    return a, max(a, b)


def draw_cost_target(rng: np.random.Generator, cheapest_cost: float, top_cost: float,
                     extension: float, max_suggestion_cost: float | None, *,
                     rule: str = "stratified", max_factor: float = 10.0,
                     span_decades: float | None = None, span_top: float | None = None,
                     window: tuple[float, float] | None = None,
                     budget_cap: float | None = None,
                     floor: float | None = None) -> float | None:
    """A target log-cost (natural log) drawn over :func:`cost_target_range`: uniformly, or
    for the "expensive" rule with a density rising linearly towards the top (twice the
    average there, none at the bottom). None when every run costs the same."""
    bounds = cost_target_range(cheapest_cost, top_cost, extension, max_suggestion_cost,
                               rule=rule, max_factor=max_factor, span_decades=span_decades,
                               span_top=span_top, window=window, budget_cap=budget_cap,
                               floor=floor)
    if bounds is None:
        return None
    a, b = bounds
    u = float(rng.uniform())
    if rule == "expensive":
        u = math.sqrt(u)
    cap = math.inf if max_suggestion_cost is None else math.log(max_suggestion_cost)
    return min(a + u * (b - a), cap)


def cost_stratum(predicted_cost: np.ndarray, target: float, fraction: float) -> np.ndarray:
    """Mask of the candidates whose predicted log-cost is among the ``fraction`` nearest to
    ``target`` (a stratum at least a factor of 2 wide); every candidate when their predicted
    costs span less than a factor of 2."""
    lc = np.log(np.asarray(predicted_cost, dtype=np.float64))
    if len(lc) == 0 or np.ptp(lc) < LOG_COST_RESOLUTION:
        return np.ones(len(lc), dtype=bool)
    d = np.abs(lc - target)
    half = max(float(np.quantile(d, fraction)), 0.5 * LOG_COST_RESOLUTION)
    return d <= half
