"""CARBS configuration and the records it exchanges: Suggestion, Observation, ParetoGroup."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CARBSConfig", "Observation", "ParetoGroup", "Suggestion"]


@dataclass
class CARBSConfig:
    """Settings of a CARBS run (defaults are the reference's, except the cost-stratified search
    below: ``is_cost_stratified=False`` gives the reference's high-cost clamping).

    Attributes:
        better_direction_sign: -1 to minimise ``output`` (a loss), +1 to maximise (a score).
        seed: seeds the one numpy Generator and the one torch Generator behind all randomness.
        num_random_samples: successful observations gathered around the center before BO starts.
        initial_search_radius: std of the Normal steps in basic space (candidates, start-up).
        exploration_bias: EI improvement is measured against ``best + exploration_bias`` (warped
            output units).
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
            targets a cost drawn log-uniformly over the observed range (cheapest successful run
            to the most expensive Pareto group), widened on each side by
            ``cost_range_extension`` times that range and by at least a factor of 2 (capped at
            ``max_suggestion_cost``). Half the candidates are drawn around the Pareto groups as
            usual, half around the group nearest the target cost (the observed front's cheap end
            included), and the suggestion is the best-scoring candidate among the
            ``cost_stratum_fraction`` whose predicted cost is nearest the target (a stratum at
            least a factor of 2 wide; no stratum when the candidates' predicted costs span less
            than a factor of 2). Every part of the cost range gets its share of suggestions and
            both ends of the front move outwards, where the reference's high-cost clamping
            walks up the cost axis one search radius at a time and never below its start.
            No effect when every run costs the same. Measured in benchmarks/tuners (10 seeds,
            median front gap, before -> after): chinchilla 0.246 -> 0.085, branin-cost 0.304
            -> 0.019, hartmann6-cost 0.351 -> 0.070, rosenbrock10-cost 0.315 -> 0.038; see
            benchmarks/results/. False: the reference's high-cost clamping.
        cost_range_extension: how far beyond the observed cost range targets are drawn, as a
            fraction of that range in log-cost, on each side (0.25, 0.5, 1 and 2 were measured;
            1, with the factor-2 floor, was the most consistent: benchmarks/results/).
        cost_stratum_fraction: the fraction of the candidates, nearest the target cost, that the
            suggestion is chosen from.
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
    exploration_bias: float = 1.0
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
    num_threads: int | None = 1
    adaptive_search_radius: bool = False
    is_cost_stratified: bool = True
    cost_range_extension: float = 1.0
    cost_stratum_fraction: float = 0.1

    def __post_init__(self) -> None:
        if self.better_direction_sign not in (-1, 1):
            raise ValueError(
                "better_direction_sign must be -1 (minimise output) or +1 (maximise), got "
                f"{self.better_direction_sign!r}"
            )
        if not isinstance(self.seed, int) or self.seed < 0:
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
        if not (math.isfinite(self.cost_range_extension) and self.cost_range_extension >= 0):
            raise ValueError("cost_range_extension must be a finite number >= 0, got "
                             f"{self.cost_range_extension!r}")
        if not 0.0 < self.cost_stratum_fraction <= 1.0:
            raise ValueError("cost_stratum_fraction must be in (0, 1], got "
                             f"{self.cost_stratum_fraction!r}")
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
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError("num_threads must be >= 1 or None")


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
