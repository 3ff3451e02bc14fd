"""CARBS configuration and the records it exchanges: Suggestion, Observation, ParetoGroup."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CARBSConfig", "Observation", "ParetoGroup", "Suggestion"]


@dataclass
class CARBSConfig:
    """Settings of a CARBS run (defaults are the reference's, except the cost-stratified search
    below: ``cost_target_rule="clamp"`` gives the reference's high-cost clamping).

    Attributes:
        better_direction_sign: -1 to minimise ``output`` (a loss), +1 to maximise (a score).
        seed: seeds the one numpy Generator and the one torch Generator behind all randomness.
        num_random_samples: successful observations gathered around the center before BO starts.
            Under a cost cap (``total_budget``, ``max_suggestion_cost``, ``cost_window``) the
            start-up is cost-aware once two runs of different costs are in: a cost model
            fitted on them picks the first random step predicted under the cap.
        initial_search_radius: std of the Normal steps in basic space (candidates, start-up).
        exploration_bias: EI improvement is measured against ``best + exploration_bias`` (warped
            output units: outputs are mapped to a standard normal, so 1.0 asks for an
            improvement as large as the whole spread of the sweep's outputs). The default 0.5
            had the best worst case over the 14 cost-aware problems of ``benchmarks/tuners``
            at 20 seeds (worst ratio to the best of 0.25, 0.5, 0.75 and 1.0: 1.11, against
            1.18 for the reference's 1.0, whose searches stayed too wide where the start is
            near the top of the costs that matter); ``python -m benchmarks.carbs_rules``,
            ``benchmarks/results/carbs_exploration_bias_20_seeds.md``. After only 30 trials
            in a box far wider than the costs that matter, 1.0 was ahead (up to 1.29x): pass
            it for a sweep of a few dozen trials in a wide box.
        num_candidates_for_suggestion_per_dim: candidates per basic dimension per suggestion.
        resample_frequency: every this many successful observations, resample the
            least-sampled group of the plain Pareto front (0 disables; see ``carbs.pareto``).
        max_suggestion_cost: soft cost ceiling through the cost model (None: no ceiling).
        min_pareto_cost_fraction: groups at or below this cost quantile collapse into one.
        is_pareto_group_selection_conservative: conservative Pareto rule (see ``carbs.pareto``).
        is_high_cost_clamping_on: clamp every candidate's ``best`` from below at the Pareto
            model's value at a cost threshold: the suggestion's cost target when cost-stratified,
            else (the reference) a cost drawn log-uniformly over the front's range.
        is_cost_stratified: cost-stratified search (ours; on by default). Each BO suggestion
            targets a cost drawn over the observed cost range (cheapest successful run to the
            most expensive Pareto group) widened as ``cost_target_rule`` says (capped at
            ``max_suggestion_cost``). Half the candidates are drawn around the Pareto groups as
            usual, half around the group nearest the target cost (the observed front's cheap end
            included), and the suggestion is the best-scoring candidate among the
            ``cost_stratum_fraction`` whose predicted cost is nearest the target (a stratum at
            least a factor of 2 wide; no stratum when the candidates' predicted costs span less
            than a factor of 2). Every part of the cost range gets its share of suggestions and
            both ends of the front move outwards, where the reference's high-cost clamping
            walks up the cost axis one search radius at a time and never below its start.
            No effect when every run costs the same. False is the older spelling of
            ``cost_target_rule="clamp"``.
        cost_target_rule: how the cost targets are drawn (see
            ``carbs.acquisition.cost_target_range``): "clamp" (the reference: no targets; the
            clamping threshold drawn over the front's range), "stratified" (the observed range
            widened by ``cost_range_extension`` x its span on each side: it can double in
            log-cost with every suggestion), "bounded" (widened by at most a factor of
            ``cost_extension_max_factor`` on each side), "expensive" (as bounded, targets
            weighted towards the top) or "budget" (the default: as bounded below; above, up to
            what one suggestion may cost of the remaining ``total_budget``, so the search
            reaches the costs the budget affords however the front looks; without a budget
            it is "bounded"). Chosen with ``cost_target_span_decades=4``,
            ``cost_target_noise_floor`` and ``budget_pacing`` over the 14 cost-aware problems
            of the tuner suite (20 seeds) by its worst ratio to the best rule: within 1.15x of
            it on 13 problems, 1.31 on hartmann6-cost-wide against a rule told the cost window
            (1.11 told the same window); within 1.15x everywhere (worst 1.13) against the rules
            told what the default is told; benchmarks/results/carbs_rules_20_seeds.md holds
            every rule's table.
        cost_range_extension: how far beyond the observed cost range targets are drawn, as a
            fraction of that range in log-cost, on each side (at least a factor of 2; the
            "bounded" rules cap it at ``cost_extension_max_factor``).
        cost_extension_max_factor: the largest factor by which the "bounded", "expensive" and
            "budget" rules widen the cost range on each side (10: a decade).
        cost_target_span_decades: targets stay within this many decades below the top, which
            is the front's most expensive group or, with ``total_budget``, what one suggestion
            may cost of the whole budget when that is higher (None: no limit; not for
            "stratified"). Keeps a search in a box many decades wide from spending its trials
            far below the costs that matter.
        total_budget: the summed cost of all runs this sweep may spend (None: unknown). With
            it, no suggestion is predicted to cost more than ``max_budget_fraction`` of what is
            left (observed costs and the predicted costs of outstanding suggestions taken off),
            and the cost targets are capped there. Every observation counts, warm-started ones
            included. Tell it when you know it (the Hydra sweeper passes ``max_cost``): on the
            tuner suite, without it CARBS stopped after 6-15 trials where the start is near
            the costs that matter or the budget is 10x the start's cost (front gap 2-16x).
        max_budget_fraction: the largest share of the remaining ``total_budget`` one suggestion
            may be predicted to cost (0.1).
        cost_window: (cheapest, dearest) cost the user wants a front for, when known: targets
            stay within a factor of 2 of it and no suggestion is predicted to cost more than
            twice its top.
        total_trials: the number of runs this sweep makes in all, warm-started observations
            included (None: unknown; the Hydra sweeper passes ``max_trials``). Read only by
            ``budget_pacing``.
        budget_pacing: a factor k >= 1 (4) or None (off). With ``total_budget`` and
            ``total_trials`` (no effect without both), when the runs so far cost less on
            average than an even share of what is left (what is left / the runs left), so that
            the trial count would end the sweep with budget unspent, a suggestion may be
            predicted to cost up to k such shares (all that is left at most) when that is more
            than ``max_budget_fraction`` of it: the cap and the cost targets of the "budget"
            rule rise, so the runs left reach dearer costs. Over the tuner suite (20
            seeds) it made the front 6-10% tighter where the trial cap left 30% of the budget
            unspent (chinchilla and three variants), 10% looser on hartmann6-cost (geometric
            mean over seeds), within 2% elsewhere; 4 was chosen over targeting the even share
            outright (1.35x worse on rosenbrock10-cost) and over k = 1 (little effect).
        cost_stratum_fraction: the fraction of the candidates, nearest the target cost, that the
            suggestion is chosen from.
        cost_target_origin: which run half of a cost-stratified suggestion's candidates are
            drawn around: "front" (the Pareto group whose cost is nearest the target) or
            "nearby" (the best run among those whose cost is near the target, on the front or
            not: within half a decade, or a factor of 2 beyond the nearest run). With "front",
            a front that collapses to a few cheap groups (one lucky noisy cheap run can beat
            every dearer run) leaves no origin near a higher target, and the search stays at
            the cheap end; "nearby" keeps searching every part of the cost range around the
            best run found there.
        cost_target_noise_floor: no cost target below the cost where the resampled runs show
            a noise of half the spread between configurations, when the noise grows as the
            cost falls (see :mod:`carbs.noise`; never where no resampled run was that noisy).
            On the tuner suite (10 seeds) it brought the wide box whose cheap runs are noisy
            (hartmann6-cost-wide) from 0.089 to 0.058 median front gap (at exploration bias
            1.0: 0.085 to 0.070); of the 12 problems without noisy cheap runs it changed only
            3 runs of chinchilla-noisy (its median 0.0910 to 0.0914).
        outstanding_suggestion_estimator: "thompson" (sample) or "mean" (kriging believer).
        device: where the GPs' posteriors are computed: "cpu" (default), "auto" (cuda when
            available), "cuda", ... The hyperparameter fit runs in numpy on the CPU whatever
            this says; the posteriors are float64 matrices of at most a few thousand points,
            where a GPU's launch latency and transfers outweigh its arithmetic (float64 is slow
            on most GPUs), and a sweep's trials may be training on that GPU in the same process.
            benchmarks/gpu_check.py's suggest section times both on a GPU machine.
        max_fit_points: GP hyperparameters are fitted on at most this many points (a stable
            random subsample); the posterior always conditions on all points.
        fit_max_iter: L-BFGS iterations of a GP's first (cold) fit.
        fit_warm_max_iter: L-BFGS iterations of each later, warm-started fit (None: as
            fit_max_iter). Hyperparameters go on converging across calls; each call stays cheap.
        max_fit_skips: beyond ``max_fit_points`` observations, the output and cost GPs'
            hyperparameters are refitted on one suggest() call in ``max_fit_skips + 1`` (and
            whenever the log-cost range moved by a tenth of its span since the last fit); the
            calls in between keep them (0: refit on every call). Between calls the data grow
            by one point in several hundred; the posterior always conditions on every point,
            and with the hyperparameters kept it is extended by the new rows instead of
            refactored. Up to max_fit_points observations nothing changes.
        adaptive_search_radius: grow the search radius (x1.5, up to 4x) after 2 observations in
            a row join the Pareto front, shrink it (x0.7, down to 0.25x) after max(4, dims) in a
            row do not, as trust-region optimisers do (off by default: the reference's radius
            is fixed; see benchmarks/tuners, tuner ``carbs-adaptive``: with the cost-stratified
            search it is level on branin-cost and far worse on rosenbrock10-cost).
        num_threads: torch and BLAS threads used inside suggest() (set for the call, restored
            after; torch's setting is process-wide). None leaves them alone. The default 1 is
            the fastest measured on CPU for the matrices CARBS builds (at most a few thousand
            points): at 2 threads the thread overhead made suggest() slower even on an idle
            2-core machine, and 6x slower on a loaded one. Raise it only for very long sweeps.
    """

    better_direction_sign: int
    seed: int = 0
    num_random_samples: int = 4
    initial_search_radius: float = 0.3
    exploration_bias: float = 0.5
    num_candidates_for_suggestion_per_dim: int = 100
    resample_frequency: int = 5
    max_suggestion_cost: float | None = None
    min_pareto_cost_fraction: float = 0.2
    is_pareto_group_selection_conservative: bool = True
    is_high_cost_clamping_on: bool = True
    outstanding_suggestion_estimator: str = "thompson"
    device: str = "cpu"
    max_fit_points: int = 300
    fit_max_iter: int = 50
    fit_warm_max_iter: int | None = 15
    max_fit_skips: int = 4
    num_threads: int | None = 1
    adaptive_search_radius: bool = False
    is_cost_stratified: bool = True
    cost_target_rule: str = "budget"
    cost_range_extension: float = 1.0
    cost_extension_max_factor: float = 10.0
    cost_target_span_decades: float | None = 4.0
    cost_stratum_fraction: float = 0.1
    cost_target_origin: str = "front"
    cost_target_noise_floor: bool = True
    total_budget: float | None = None
    max_budget_fraction: float = 0.1
    cost_window: tuple[float, float] | None = None
    total_trials: int | None = None
    budget_pacing: float | None = 4.0

    def __post_init__(self) -> None:
        self._check_types()
        if self.better_direction_sign not in (-1, 1):
            raise ValueError(
                "better_direction_sign must be -1 (minimise output) or +1 (maximise), got "
                f"{self.better_direction_sign!r}"
            )
        if self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")
        if self.num_random_samples < 1:
            raise ValueError("num_random_samples must be >= 1")
        if not (math.isfinite(self.initial_search_radius) and self.initial_search_radius > 0):
            raise ValueError("initial_search_radius must be a positive finite number")
        if not math.isfinite(self.exploration_bias):
            raise ValueError("exploration_bias must be finite")
        if self.num_candidates_for_suggestion_per_dim < 1:
            raise ValueError("num_candidates_for_suggestion_per_dim must be >= 1")
        if self.resample_frequency < 0:
            raise ValueError("resample_frequency must be >= 0 (0 disables resampling)")
        if self.max_suggestion_cost is not None and not self.max_suggestion_cost > 0:
            raise ValueError("max_suggestion_cost must be > 0 or None")
        if not 0.0 <= self.min_pareto_cost_fraction < 1.0:
            raise ValueError("min_pareto_cost_fraction must be in [0, 1)")
        if self.cost_target_rule not in COST_TARGET_RULES:
            raise ValueError(f"cost_target_rule must be one of {list(COST_TARGET_RULES)}, got "
                             f"{self.cost_target_rule!r}")
        if not (math.isfinite(self.cost_range_extension) and self.cost_range_extension >= 0):
            raise ValueError("cost_range_extension must be a finite number >= 0, got "
                             f"{self.cost_range_extension!r}")
        if not (math.isfinite(self.cost_extension_max_factor)
                and self.cost_extension_max_factor >= 2.0):
            raise ValueError("cost_extension_max_factor must be a finite number >= 2 (a cost "
                             f"factor), got {self.cost_extension_max_factor!r}")
        if self.cost_target_span_decades is not None and not (
                math.isfinite(self.cost_target_span_decades)
                and self.cost_target_span_decades > 0):
            raise ValueError("cost_target_span_decades must be a finite number > 0 or None, got "
                             f"{self.cost_target_span_decades!r}")
        if not 0.0 < self.cost_stratum_fraction <= 1.0:
            raise ValueError("cost_stratum_fraction must be in (0, 1], got "
                             f"{self.cost_stratum_fraction!r}")
        if self.cost_target_origin not in COST_TARGET_ORIGINS:
            raise ValueError(f"cost_target_origin must be one of {list(COST_TARGET_ORIGINS)}, "
                             f"got {self.cost_target_origin!r}")
        if self.total_budget is not None and not (math.isfinite(self.total_budget)
                                                  and self.total_budget > 0):
            raise ValueError("total_budget must be a finite number > 0 (the summed cost of all "
                             f"runs) or None, got {self.total_budget!r}")
        if not 0.0 < self.max_budget_fraction <= 1.0:
            raise ValueError("max_budget_fraction must be in (0, 1] (the largest share of the "
                             f"remaining budget one suggestion may cost), got "
                             f"{self.max_budget_fraction!r}")
        if self.cost_window is not None:
            self.cost_window = _cost_window(self.cost_window)
        if self.total_trials is not None and self.total_trials < 1:
            raise ValueError("total_trials must be an int >= 1 (the number of runs the sweep "
                             f"makes in all) or None, got {self.total_trials!r}")
        if self.budget_pacing is not None and not (math.isfinite(self.budget_pacing)
                                                   and self.budget_pacing >= 1.0):
            raise ValueError("budget_pacing must be a finite number >= 1 (how many even shares "
                             "of the remaining budget one suggestion may cost) or None, got "
                             f"{self.budget_pacing!r}")
        if self.outstanding_suggestion_estimator not in ("thompson", "mean"):
            raise ValueError(
                "outstanding_suggestion_estimator must be 'thompson' or 'mean', got "
                f"{self.outstanding_suggestion_estimator!r}"
            )
        if self.max_fit_points < 10:
            raise ValueError("max_fit_points must be >= 10")
        if self.fit_max_iter < 1:
            raise ValueError("fit_max_iter must be >= 1")
        if self.fit_warm_max_iter is not None and self.fit_warm_max_iter < 1:
            raise ValueError("fit_warm_max_iter must be >= 1 or None")
        if self.max_fit_skips < 0:
            raise ValueError(f"max_fit_skips must be >= 0, got {self.max_fit_skips!r}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError("num_threads must be >= 1 or None")

    @property
    def effective_cost_target_rule(self) -> str:
        """The rule in use: ``cost_target_rule``, or "clamp" when ``is_cost_stratified`` is
        False (the older spelling of the reference's clamping)."""
        return self.cost_target_rule if self.is_cost_stratified else "clamp"

    def _check_types(self) -> None:
        """A TypeError naming the field for a value of the wrong kind (a string where a number
        belongs, a float where an int belongs, a number where a bool belongs)."""
        for name, kind in _FIELD_TYPES.items():
            value = getattr(self, name)
            if value is None and kind.endswith("?"):
                continue
            kind = kind.rstrip("?")
            ok = {
                "int": isinstance(value, (int, np.integer)) and not isinstance(value, bool),
                "float": _is_real(value),
                "bool": isinstance(value, (bool, np.bool_)),
                "str": isinstance(value, str),
                "window": isinstance(value, Sequence) and not isinstance(value, str),
            }[kind]
            if not ok:
                want = {"int": "an int", "float": "a number", "bool": "True or False",
                        "str": "a string", "window": "a (cheapest, dearest) pair of costs"}[kind]
                none = " or None" if _FIELD_TYPES[name].endswith("?") else ""
                raise TypeError(f"CARBSConfig.{name} must be {want}{none}, got {value!r} "
                                f"({type(value).__name__})")
            if kind == "int":
                setattr(self, name, int(value))
            elif kind == "float":
                setattr(self, name, float(value))
            elif kind == "bool":
                setattr(self, name, bool(value))


#: The cost-target rules of the cost-stratified search (see CARBSConfig.cost_target_rule).
COST_TARGET_RULES = ("clamp", "stratified", "bounded", "expensive", "budget")
#: The origins of a cost-stratified suggestion (see CARBSConfig.cost_target_origin).
COST_TARGET_ORIGINS = ("front", "nearby")

# Each field's kind ("?": None allowed), for the type checks of CARBSConfig.
_FIELD_TYPES = {
    "better_direction_sign": "int", "seed": "int", "num_random_samples": "int",
    "initial_search_radius": "float", "exploration_bias": "float",
    "num_candidates_for_suggestion_per_dim": "int", "resample_frequency": "int",
    "max_suggestion_cost": "float?", "min_pareto_cost_fraction": "float",
    "is_pareto_group_selection_conservative": "bool", "is_high_cost_clamping_on": "bool",
    "outstanding_suggestion_estimator": "str", "device": "str", "max_fit_points": "int",
    "fit_max_iter": "int", "fit_warm_max_iter": "int?", "max_fit_skips": "int", "num_threads": "int?",
    "adaptive_search_radius": "bool", "is_cost_stratified": "bool", "cost_target_rule": "str",
    "cost_range_extension": "float", "cost_extension_max_factor": "float",
    "cost_target_span_decades": "float?",
    "cost_stratum_fraction": "float", "cost_target_origin": "str",
    "cost_target_noise_floor": "bool", "total_budget": "float?", "max_budget_fraction": "float",
    "cost_window": "window?", "total_trials": "int?", "budget_pacing": "float?",
}


def _is_real(value: Any) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


def _cost_window(value: Any) -> tuple[float, float]:
    """``cost_window`` as a (cheapest, dearest) pair of positive finite costs, cheapest first."""
    if len(value) != 2 or not all(_is_real(v) for v in value):
        raise TypeError(f"CARBSConfig.cost_window must be a (cheapest, dearest) pair of costs, "
                        f"got {value!r}")
    lo, hi = float(value[0]), float(value[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        raise ValueError(f"cost_window must be two finite costs 0 < cheapest < dearest, got "
                         f"{value!r}")
    return (lo, hi)


@dataclass
class Suggestion:
    """A configuration to run. ``predictions`` holds the model's view of it (JSON-safe):
    predicted output/cost, P(success), acquisition value, and ``kind`` (random / bo / resample)."""

    suggestion_id: str
    config: dict[str, Any]
    predictions: dict[str, Any] = field(default_factory=dict)


@dataclass
class Observation:
    """A finished run. ``output`` may be NaN for failures."""

    config: dict[str, Any]
    output: float
    cost: float
    is_failure: bool = False
    suggestion_id: str | None = None


@dataclass
class ParetoGroup:
    """A group of identical configurations on the Pareto front (output/cost are means)."""

    config: dict[str, Any]
    output: float
    cost: float
    n_samples: int
