"""CARBS: suggest / suggest(n) / observe / forget, thread-safe.

CARBS is a *local* search: it samples around the search center and then around the Pareto
front, within a fixed ``initial_search_radius`` in basic space. It does not try to cover the
whole bounded space; set the center and radius (or the space's ``scale``) accordingly. Along the
cost axis it does spread out: each suggestion targets a cost drawn over the observed cost range
widened on both sides by a bounded step (``CARBSConfig.cost_target_rule``), so the front grows
towards cheaper and more expensive runs, never more than ``cost_target_span_decades`` below its
top. Told the sweep's ``total_budget``, no suggestion is predicted to cost more than
``max_budget_fraction`` of what is left (:meth:`CARBS._suggestion_cap`); with
``budget_pacing`` and ``total_trials``, more when the runs left are on course to leave budget
unspent.

One suggestion, in steps (:meth:`CARBS._suggest_one`): start-up samples around the center; every
``resample_frequency`` successes a resample of the plain front (:meth:`CARBS._resample`); else a
cost target and origins (:meth:`CARBS._cost_target`, :meth:`CARBS._origins`), the surrogate fit
(once per ``suggest()`` call), fantasies for outstanding runs, candidates
(:func:`carbs.proposal.draw_candidates`), scores (:meth:`CARBS._acquisition`) and the argmax.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Sequence
from typing import Any, overload

import numpy as np
import pandas as pd
import threadpoolctl
import torch

from carbs.acquisition import (
    cost_stratum,
    draw_cost_target,
    draw_high_cost_threshold,
    log_expected_improvement,
)
from carbs.config import CARBSConfig, Observation, ParetoGroup, Suggestion
from carbs.encoder import ParamEncoder
from carbs.noise import noise_floor
from carbs.pareto import group_basic_resamples, pareto_group_indices
from carbs.persistence import PersistenceMixin
from carbs.proposal import (
    draw_candidates,
    log_search_density,
    mutate,
    nearby_best_group,
    rows_in,
    stratified_origin_weights,
)
from carbs.spaces import Param, Space, check_integer_reachability
from carbs.state import CARBSSnapshot
from carbs.surrogate import SurrogateSet, startup_cost_prediction
from tays import resolve_device

logger = logging.getLogger("carbs")

__all__ = ["CARBS"]


class CARBS(PersistenceMixin):
    """Cost-Aware Pareto-Region Bayesian Search.

    Args:
        config: the run's :class:`CARBSConfig`.
        params: the hyperparameters (:class:`Param`), each with a space and a search center.
    """

    def __init__(self, config: CARBSConfig, params: Sequence[Param]):
        if not isinstance(config, CARBSConfig):
            raise TypeError(f"config must be a CARBSConfig, got {type(config).__name__}")
        self.config = config
        self.params = check_integer_reachability(ParamEncoder(params).params,
                                                 config.initial_search_radius)
        self.encoder = ParamEncoder(self.params)
        self.rng = np.random.default_rng(config.seed)
        self.torch_generator = torch.Generator().manual_seed(config.seed)
        self.device = resolve_device(config.device)
        self.surrogates = SurrogateSet(self.encoder.dim, config.initial_search_radius,
                                       self.device, config.max_fit_points, config.fit_max_iter,
                                       config.seed, config.fit_warm_max_iter,
                                       config.max_fit_skips)
        self._observations: list[Observation] = []
        self._obs_basic: list[np.ndarray] = []
        self._outstanding: dict[str, Suggestion] = {}
        self._observed_ids: set[str] = set()
        self._predictions: dict[str, dict] = {}
        self._ok_at_last_resample = 0  # successful observations at the last resample
        # adaptive search radius (config.adaptive_search_radius): factor and streak counters
        self._radius_factor = 1.0
        self._front_hits = 0
        self._front_misses = 0
        self._warned_cap = False  # the "no candidate within the cost cap" warning was given
        self._lock = threading.RLock()

    # ------------------------------------------------------------------------------------------
    # public API
    # ------------------------------------------------------------------------------------------
    @property
    def observations(self) -> list[Observation]:
        """All observations so far (copies of the list, in order)."""
        with self._lock:
            return list(self._observations)

    @property
    def outstanding(self) -> list[Suggestion]:
        """Suggestions handed out and not yet observed or forgotten."""
        with self._lock:
            return list(self._outstanding.values())

    @overload
    def suggest(self, *, max_suggestion_cost: float | None = None,
                cap_quantile: float | None = None) -> Suggestion: ...

    @overload
    def suggest(self, n: int, *, max_suggestion_cost: float | None = None,
                cap_quantile: float | None = None) -> list[Suggestion]: ...

    def suggest(self, n: int | None = None, *, max_suggestion_cost: float | None = None,
                cap_quantile: float | None = None):
        """One suggestion, or a list of ``n`` distinct ones (each later one sees the earlier
        ones as outstanding, with fantasy outputs).

        ``max_suggestion_cost`` caps the predicted cost of this call's suggestions (the lower
        of it and ``CARBSConfig.max_suggestion_cost`` applies), e.g. a fraction of what is left
        of a sweep's budget. When no candidate is predicted under a cap, the cheapest one is
        suggested and its predictions say so (``fallback``, ``cap``); that is logged as a
        warning (once per optimiser) when the config's cap or budget binds, and at DEBUG when
        this call's own cap does: the caller asked for it.

        ``cap_quantile`` (e.g. 0.9) holds a cap against that quantile of a candidate's predicted
        cost (the cost model's log-normal posterior) rather than its median: among the
        candidates predicted under a cap, those the model under-predicts are the likeliest to
        win (they look cheap for their size), so a cap that must hold (a sweep's last launches)
        asks for margin where the model is unsure. None: the median, as without a cap."""
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer))
                              or n < 1):
            raise ValueError(f"n must be a positive int, got {n!r}")
        n = None if n is None else int(n)
        cap = self.config.max_suggestion_cost
        call_cap = None
        if max_suggestion_cost is not None:
            call_cap = _real_number("max_suggestion_cost", max_suggestion_cost, "a cost cap")
            if not call_cap > 0:
                raise ValueError(f"max_suggestion_cost must be > 0, got {max_suggestion_cost!r}")
            cap = call_cap if cap is None else min(cap, call_cap)
        if cap_quantile is not None:
            q = _real_number("cap_quantile", cap_quantile, "a probability")
            if not 0.0 < q < 1.0:
                raise ValueError(f"cap_quantile must be in (0, 1), got {cap_quantile!r}")
        with self._lock:
            t0 = time.perf_counter()
            state: dict[str, Any] = {"cap": cap, "call_cap": call_cap,
                                     "cap_quantile": cap_quantile}
            threads = torch.get_num_threads()
            limit = self.config.num_threads
            # torch's and the BLAS libraries' (scipy's L-BFGS-B) thread pools, for this call only
            blas = (threadpoolctl.threadpool_limits(limits=limit, user_api="blas")
                    if limit is not None else contextlib.nullcontext())
            if limit is not None:
                torch.set_num_threads(limit)
            try:
                with blas:
                    out = [self._suggest_one(state) for _ in range(1 if n is None else n)]
            finally:
                torch.set_num_threads(threads)
            logger.debug("suggest(%s): %d observations, %.3fs, kinds=%s", n,
                         len(self._observations), time.perf_counter() - t0,
                         [s.predictions.get("kind") for s in out])
            return out[0] if n is None else out

    def observe(self, suggestion: Suggestion | dict, output: float, cost: float,
                is_failure: bool = False, suggestion_id: str | None = None) -> Observation:
        """Record a finished run. NaN/inf ``output`` is recorded as a failure.

        ``cost`` is the cost the run spent: > 0 for a success; >= 0 for a failure (a run that
        failed before its first step spent nothing). Raises ValueError naming the field for a
        bad cost or output (numbers only: not strings or booleans), unknown/missing parameter
        names, out-of-bounds values, values off an integer space's grid, and a suggestion that
        was already observed.
        """
        if isinstance(suggestion, Suggestion):
            config, sid = dict(suggestion.config), suggestion.suggestion_id
        elif isinstance(suggestion, dict):
            config, sid = dict(suggestion), suggestion_id
        else:
            raise TypeError("observe: first argument must be a Suggestion or a config dict")
        config, output, cost, is_failure = self.check_observation(config, output, cost,
                                                                   is_failure)
        with self._lock:
            if sid is not None and sid in self._observed_ids:
                raise ValueError(f"suggestion_id {sid!r} was already observed; each suggestion "
                                 "is observed once (to add a resample, observe the config dict "
                                 "without a suggestion_id)")
            obs = Observation(config, output, cost, is_failure, sid)
            self._observations.append(obs)
            self._obs_basic.append(self.encoder.to_basic([config])[0])
            if sid is not None:
                self._observed_ids.add(sid)
                self._outstanding.pop(sid, None)
            if self.config.adaptive_search_radius:
                self._adapt_radius(is_failure)
            logger.debug("observe: output=%s cost=%s failure=%s", output, cost, is_failure)
            return obs

    def check_observation(self, config: dict, output: Any, cost: Any,
                          is_failure: Any) -> tuple[dict, float, float, bool]:
        """Validate one observation as :meth:`observe` takes it (ValueError naming the field);
        returns the normalised record ``(config, output, cost, is_failure)``."""
        output = _real_number("output", output, "a number (NaN marks a failure)")
        cost = _real_number("cost", cost, "a number: the cost the run spent")
        is_failure = bool(is_failure) or not math.isfinite(output)
        if not math.isfinite(cost):
            raise ValueError(f"cost must be a finite number, got {cost!r}")
        if is_failure and cost < 0:
            raise ValueError(f"cost of a failed run must be >= 0 (the cost it spent), got {cost!r}")
        if not is_failure and not cost > 0:
            raise ValueError(f"cost must be > 0 for a successful run, got {cost!r} (a run that "
                             "spent nothing cannot have succeeded; report it with is_failure=True)")
        self.encoder.validate(config)
        return self.encoder.normalize(config), output, cost, is_failure

    def snapshot(self) -> CARBSSnapshot:
        """Everything that decides the next suggestion, copied under the lock (what
        :meth:`state_dict` writes and :meth:`restore` takes back)."""
        with self._lock:
            return CARBSSnapshot(
                config=self.config, params=list(self.params),
                observations=list(self._observations),
                outstanding=list(self._outstanding.values()),
                predictions=dict(self._predictions),
                successes_at_last_resample=self._ok_at_last_resample,
                radius_factor=self._radius_factor, front_hits=self._front_hits,
                front_misses=self._front_misses, numpy_rng=self.rng.bit_generator.state,
                torch_rng=self.torch_generator.get_state().tolist(),
                hyperparameters=self.surrogates.hyperparameters())

    def restore(self, snap: CARBSSnapshot) -> None:
        """Replace the observations, outstanding suggestions, counters, random states and GP
        warm starts by ``snap``'s (its parameters must be this optimiser's; its records are
        taken as they are: check them with :meth:`check_observation` first). Raises ValueError
        for another parameter list or an invalid random state; nothing changes then."""
        names = [p.name for p in snap.params]
        if names != self.encoder.names:
            raise ValueError(f"the snapshot's parameters {names} differ from this optimiser's "
                             f"{self.encoder.names}")
        rng = np.random.default_rng()
        try:
            rng.bit_generator.state = snap.numpy_rng
            torch_gen = torch.Generator().set_state(torch.tensor(snap.torch_rng,
                                                                 dtype=torch.uint8))
        except (TypeError, ValueError, RuntimeError, KeyError) as e:
            raise ValueError(f"rng: not a valid random state ({e})") from None
        with self._lock:
            self._observations = list(snap.observations)
            self._obs_basic = [self.encoder.to_basic([o.config])[0] for o in snap.observations]
            self._observed_ids = {o.suggestion_id for o in snap.observations
                                  if o.suggestion_id is not None}
            self._outstanding = {s.suggestion_id: s for s in snap.outstanding}
            self._predictions = dict(snap.predictions)
            self._ok_at_last_resample = int(snap.successes_at_last_resample)
            self._radius_factor = float(snap.radius_factor)
            self._front_hits, self._front_misses = int(snap.front_hits), int(snap.front_misses)
            self.rng, self.torch_generator = rng, torch_gen
            self.surrogates.set_hyperparameters(snap.hyperparameters)

    def forget(self, suggestion_id: str) -> None:
        """Drop an outstanding suggestion that will never finish."""
        with self._lock:
            if suggestion_id not in self._outstanding:
                raise ValueError(f"suggestion_id {suggestion_id!r} is not outstanding")
            del self._outstanding[suggestion_id]

    def pareto_front(self, observed: bool = False) -> list[ParetoGroup]:
        """Pareto groups (mean output in user units, mean cost, sample count), by cost.

        By default the *search* front: the groups CARBS searches around (the cheapest
        ``min_pareto_cost_fraction`` of costs collapsed into their best group, the conservative
        rule when configured; see :mod:`carbs.pareto`). With ``observed=True`` the plain
        cost/output front of everything observed: every group that beats all cheaper groups,
        the cheap end included.
        """
        with self._lock:
            groups, front, ok = self._pareto()
            if groups is None:
                return []
            if observed:
                front = self._front(groups, ok, conservative=False, min_pareto_cost_fraction=0.0)
            sign = self.config.better_direction_sign
            return [
                ParetoGroup(dict(self._observations[ok[groups.first[g]]].config),
                            float(sign * groups.mean_output[g]), float(groups.mean_cost[g]),
                            int(groups.count[g]))
                for g in front
            ]

    def to_dataframe(self) -> pd.DataFrame:
        """Trials table (trial contract): trial_id, status, output, cost, param.<name>,
        suggestion (JSON of the predictions). Outstanding suggestions appear as 'running'."""
        with self._lock:
            rows = []
            for i, o in enumerate(self._observations):
                row = {"trial_id": o.suggestion_id or f"obs-{i}",
                       "status": "failed" if o.is_failure else "ok",
                       "output": o.output, "cost": o.cost}
                row.update({f"param.{k}": v for k, v in o.config.items()})
                pred = self._predictions.get(o.suggestion_id or "")
                row["suggestion"] = json.dumps(pred) if pred else None
                rows.append(row)
            for s in self._outstanding.values():
                row = {"trial_id": s.suggestion_id, "status": "running",
                       "output": float("nan"), "cost": float("nan")}
                row.update({f"param.{k}": v for k, v in s.config.items()})
                row["suggestion"] = json.dumps(s.predictions)
                rows.append(row)
            cols = ["trial_id", "status", "output", "cost"] + [f"param.{n}" for n in
                                                              self.encoder.names] + ["suggestion"]
            return pd.DataFrame(rows, columns=cols)

    # ------------------------------------------------------------------------------------------
    # internals
    # ------------------------------------------------------------------------------------------
    def _new_id(self) -> str:
        return f"{int(self.rng.integers(0, 2**63)):016x}"

    def _emit(self, basic_row: np.ndarray, predictions: dict) -> Suggestion:
        config = self.encoder.from_basic(basic_row[None, :])[0]
        s = Suggestion(self._new_id(), config, predictions)
        self._outstanding[s.suggestion_id] = s
        self._predictions[s.suggestion_id] = predictions
        return s

    def _ok_arrays(self) -> np.ndarray:
        """Indices of the successful observations."""
        return np.array([i for i, o in enumerate(self._observations) if not o.is_failure], int)

    def _pareto(self):
        """(groups, front, ok): resample groups of the successful observations ``ok`` and the
        indices of the (configured) Pareto groups. ``(None, None, ok)`` before the first
        success."""
        ok = self._ok_arrays()
        if len(ok) == 0:
            return None, None, ok
        x = np.stack([self._obs_basic[i] for i in ok])
        sign = self.config.better_direction_sign
        y = np.array([sign * self._observations[i].output for i in ok])
        c = np.array([self._observations[i].cost for i in ok])
        groups = group_basic_resamples(x, y, c)
        front = self._front(groups, ok, self.config.is_pareto_group_selection_conservative)
        return groups, front, ok

    def _front(self, groups, ok, conservative: bool,
               min_pareto_cost_fraction: float | None = None) -> np.ndarray:
        """Pareto group indices of ``groups`` (cheap end: the configured quantile, or the one
        given)."""
        frac = (self.config.min_pareto_cost_fraction if min_pareto_cost_fraction is None
                else min_pareto_cost_fraction)
        return pareto_group_indices(groups, frac, conservative)

    def _radius(self) -> float:
        """The current search radius in basic space."""
        return self.config.initial_search_radius * self._radius_factor

    def _adapt_radius(self, is_failure: bool) -> None:
        """Trust-region rule on the newest observation: did it join the Pareto front?"""
        ok = [i for i, o in enumerate(self._observations) if not o.is_failure]
        if len(ok) <= self.config.num_random_samples:
            return  # start-up samples do not move the radius
        on_front = False
        if not is_failure:
            groups, front, ok = self._pareto()
            on_front = int(groups.inverse[len(ok) - 1]) in set(front.tolist())
        if on_front:
            self._front_hits, self._front_misses = self._front_hits + 1, 0
            if self._front_hits >= 2:
                self._radius_factor, self._front_hits = min(self._radius_factor * 1.5, 4.0), 0
        else:
            self._front_hits, self._front_misses = 0, self._front_misses + 1
            if self._front_misses >= max(4, len(self.params)):
                self._radius_factor, self._front_misses = max(self._radius_factor * 0.7, 0.25), 0

    def _mutate(self, origins: np.ndarray) -> np.ndarray:
        """One proposal draw around each origin (see :mod:`carbs.proposal`)."""
        return mutate(self.rng, origins, self._radius(), self.encoder.numeric_columns(),
                      self.encoder.categorical_blocks())

    def _outstanding_basic(self) -> np.ndarray:
        if not self._outstanding:
            return np.zeros((0, self.encoder.dim))
        return self.encoder.to_basic([s.config for s in self._outstanding.values()])

    def _suggest_random(self, ok: np.ndarray | None = None,
                        cap: float | None = None) -> Suggestion:
        """A start-up sample: a random step from the search center. Under a cost ``cap`` (a
        budget's share, ``max_suggestion_cost``, the window's top) the start-up is cost-aware
        once two successful runs of different costs are in: a cost model fitted on them
        predicts each step's cost, and the first step predicted under the cap is suggested
        (the cheapest predicted when none is), so that a small budget is not spent by a few
        random steps that happen to be dear. Without a cap, or with fewer runs, the first
        step (as the reference)."""
        center = self.encoder.center_basic()
        taken = self._outstanding_basic()
        inside: list[np.ndarray] = []  # points inside the bounds that were already outstanding
        for _ in range(200):
            cand, valid = self.encoder.round_basic(self._mutate(np.repeat(center[None], 64, 0)))
            free = valid & ~rows_in(cand, taken)
            if free.any():
                return self._startup_pick(cand[free], ok, cap)
            if valid.any() and len(inside) < 64:
                inside.append(cand[valid])
        if inside:
            n = len(np.unique(np.round(np.concatenate(inside), 9), axis=0))
            raise RuntimeError(
                f"the search space is exhausted: every point inside the bounds near the search "
                f"center ({n} distinct point(s) drawn) is already one of the "
                f"{len(self._outstanding)} outstanding suggestions, so the space is too small "
                "for this many suggestions at once; observe or forget running suggestions, ask "
                "for fewer, or widen min/max")
        raise RuntimeError(
            "could not draw a point inside the bounds around the search center: "
            f"{self._tightest_params()}; move search_center away from the bound, widen min/max "
            "or lower initial_search_radius")

    def _startup_pick(self, steps: np.ndarray, ok: np.ndarray | None,
                      cap: float | None) -> Suggestion:
        """The start-up step of :meth:`_suggest_random` among ``steps`` (see there)."""
        cost = None
        if cap is not None and ok is not None and len(ok) >= 2:
            cost = startup_cost_prediction(
                np.stack([self._obs_basic[i] for i in ok]),
                np.array([self._observations[i].cost for i in ok]), steps,
                self.config.initial_search_radius, self.device, self.config.fit_max_iter)
        if cost is None:
            return self._emit(steps[0], {"kind": "random"})
        under = np.flatnonzero(cost <= cap)
        i = int(under[0]) if len(under) else int(np.argmin(cost))
        return self._emit(steps[i], {"kind": "random", "cost": float(cost[i]),
                                     "cap": float(cap)})

    def _tightest_params(self) -> str:
        """Which parameters reject most random steps from the center (for error messages)."""
        center = self.encoder.center_basic()
        cand = self._mutate(np.repeat(center[None], 256, 0))
        parts = []
        for p, sl in zip(self.params, self.encoder.slices):
            if isinstance(p.space, Space):
                inside = p.space.contains(p.space.from_basic(cand[:, sl.start]))
                if inside.mean() < 0.999:
                    parts.append((inside.mean(), p.name))
        taken = len(self._outstanding)
        if not parts:
            return (f"the {taken} outstanding suggestion(s) already hold every nearby point"
                    if taken else "no single parameter is to blame")
        parts.sort()
        return ", ".join(f"{name!r} ({100 * (1 - f):.0f}% of steps out of bounds)"
                         for f, name in parts)

    # --- one suggestion, step by step --------------------------------------------------------
    def _suggest_one(self, state: dict[str, Any]) -> Suggestion:
        """Start-up sample, resample, or the BO suggestion: fit (once per suggest() call),
        fantasies for outstanding runs, candidates around the Pareto groups, acquisition,
        argmax."""
        groups, front, ok = self._pareto()
        cap, budget_cap = self._suggestion_cap(state["cap"])
        if len(ok) < self.config.num_random_samples:
            return self._suggest_random(ok, cap)
        resample = self._resample(groups, ok, cap)
        if resample is not None:
            return resample
        target = self._cost_target(groups, front, ok, cap, budget_cap)
        origins, weights = self._origins(groups, front, ok, target)
        if not state.get("fitted"):
            self._fit_surrogates(groups, front, ok)
            state["fitted"] = True
        self.surrogates.add_fantasies(
            self._outstanding_basic(), self.torch_generator,
            use_mean=self.config.outstanding_suggestion_estimator == "mean")
        n_cand = self.config.num_candidates_for_suggestion_per_dim * len(self.params)
        cand = draw_candidates(self.rng, self.encoder, origins, n_cand, self._radius(),
                               self._outstanding_basic(), weights)
        if len(cand) == 0:
            return self._suggest_random(ok, cap)
        return self._best_candidate(cand, origins, groups.mean_cost[front], target, cap,
                                    callers_cap=cap is not None and cap == state["call_cap"],
                                    cap_quantile=state.get("cap_quantile"))

    def _best_candidate(self, cand: np.ndarray, origins: np.ndarray, front_costs: np.ndarray,
                        target: float | None, cap: float | None,
                        callers_cap: bool = False,
                        cap_quantile: float | None = None) -> Suggestion:
        """Score the candidates and suggest the argmax. The cost model is predicted for every
        candidate; the output and success models only where the argmax can be: first the
        candidates under the cap in the target's cost stratum, and only when none of them has a
        finite score, every candidate under the cap (as scoring them all would choose; the
        output model's variance is most of the prediction time). None under the cap: the
        cheapest candidate."""
        cfg = self.config
        if cap is not None and cap_quantile is not None:
            lcs, cost, upper = self.surrogates.predict_cost_quantile(cand, cap_quantile)
        else:
            (lcs, cost), upper = self.surrogates.predict_cost(cand), None
        floor = self._best_floor(front_costs, target, cap)
        if cap is None:
            under = np.ones(len(cand), dtype=bool)
        else:
            under = (cost if upper is None else upper) <= cap
        first = under
        if target is not None:
            first = under & cost_stratum(cost, target, cfg.cost_stratum_fraction)
        for mask in (first, under & ~first):
            if not mask.any():
                continue
            idx = np.flatnonzero(mask)
            pred = self.surrogates.predict(cand[idx], lcs[idx], cost[idx])
            score, log_ei = self._acquisition(cand[idx], pred, origins, floor)
            if np.isfinite(score).any():
                i = int(np.argmax(np.where(np.isfinite(score), score, -np.inf)))
                return self._emit(cand[idx[i]], self._bo_predictions(pred, i, score[i],
                                                                     log_ei[i]))
        i = int(np.argmin(cost))
        why = ("no candidate has a finite acquisition score" if under.any()
               else "no candidate within the cost cap")
        # once per optimiser: near the end of a budget every suggestion may hit the cap; a cap
        # the caller set for this call is expected to bind (e.g. a sweep's last launches)
        quiet = self._warned_cap or (callers_cap and not under.any())
        log = logger.debug if quiet else logger.warning
        self._warned_cap = self._warned_cap or not quiet
        if under.any():
            log("no candidate has a finite acquisition score (the success model gives them all "
                "P(success) = 0); suggesting the cheapest (further ones are logged at DEBUG)")
        else:
            log("no candidate within the cost cap %.4g (max_suggestion_cost, the remaining "
                "total_budget or cost_window): the cheapest of %d candidates is predicted to "
                "cost %.4g; suggesting it (further ones are logged at DEBUG)", cap, len(cand),
                cost[i])
        pred = self.surrogates.predict(cand[i : i + 1], lcs[i : i + 1], cost[i : i + 1])
        _, log_ei = self._acquisition(cand[i : i + 1], pred, origins, floor)
        out = self._bo_predictions(pred, 0, -math.inf, log_ei[0])
        # why the argmax rule did not choose it (the cap is None without one)
        out.update(fallback=f"cheapest candidate: {why}", cap=_finite_or_none(cap))
        return self._emit(cand[i], out)

    def _suggestion_cap(self, call_cap: float | None) -> tuple[float | None, float | None]:
        """(cap, budget cap) of the next suggestion's predicted cost. The budget cap is
        ``max_budget_fraction`` of what is left of ``total_budget`` (observed costs and the
        predicted costs of outstanding suggestions taken off; None without a budget), or the
        paced share when that is higher (:meth:`_paced_share`); the cap is the lowest of it,
        the call's / config's ``max_suggestion_cost`` and twice the top of ``cost_window``."""
        cfg = self.config
        caps = [c for c in (call_cap,) if c is not None]
        if cfg.cost_window is not None:
            caps.append(2.0 * cfg.cost_window[1])
        budget_cap = None
        if cfg.total_budget is not None:
            spent = sum(o.cost for o in self._observations)
            pending = sum(float(s.predictions.get("cost", 0.0) or 0.0)
                          for s in self._outstanding.values())
            left = cfg.total_budget - spent - pending
            # nothing left: the tiniest cap, so the cheapest candidate is suggested (the
            # caller decides whether to run it)
            budget_cap = cfg.max_budget_fraction * left if left > 0 else 1e-300
            paced = self._paced_share(left, spent + pending)
            if paced is not None and paced > budget_cap:
                budget_cap = paced
            caps.append(budget_cap)
        return (min(caps) if caps else None), budget_cap

    def _paced_share(self, left: float, spent: float) -> float | None:
        """With ``budget_pacing`` k (and ``total_trials``), when the sweep is on course to
        leave budget unspent (the runs so far, ``spent`` on them, cost less on average than
        an even share of the budget ``left`` over the runs left): k such even shares, at most
        all that is left. The runs left are ``total_trials`` less the observations and the
        outstanding suggestions (this one counted). None when not pacing, when on course to
        spend it all, or when no run or budget is left: a short sweep of a small budget keeps
        the ``max_budget_fraction`` cap while its runs spend at the budget's pace."""
        cfg = self.config
        if cfg.budget_pacing is None or cfg.total_trials is None or left <= 0:
            return None
        runs = len(self._observations) + len(self._outstanding)
        runs_left = cfg.total_trials - runs
        if runs_left < 1 or spent / max(runs, 1) * runs_left >= left:
            return None
        return min(left, cfg.budget_pacing * left / runs_left)

    def _cost_target(self, groups, front, ok, cap: float | None,
                     budget_cap: float | None = None) -> float | None:
        """The log-cost this suggestion targets (cost-stratified search), or None (the
        reference's clamping, or every run costs the same)."""
        cfg = self.config
        rule = cfg.effective_cost_target_rule
        if rule == "clamp":
            return None
        cheapest = min(self._observations[i].cost for i in ok)
        floor = None
        if cfg.cost_target_noise_floor:
            sign = cfg.better_direction_sign
            floor = noise_floor(groups, np.array([sign * self._observations[i].output
                                                  for i in ok]))
        return draw_cost_target(self.rng, cheapest, float(groups.mean_cost[front].max()),
                                cfg.cost_range_extension, cap, rule=rule,
                                max_factor=cfg.cost_extension_max_factor,
                                span_decades=cfg.cost_target_span_decades,
                                span_top=(None if cfg.total_budget is None
                                          else cfg.max_budget_fraction * cfg.total_budget),
                                window=cfg.cost_window, budget_cap=budget_cap, floor=floor)

    def _origins(self, groups, front, ok,
                 target: float | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Candidate origins (basic rows) and their draw probabilities (None: uniform). The
        search front; with a cost target, also the observed front's groups cheaper than the
        search front (its collapsed cheap end), drawn with :func:`stratified_origin_weights`."""
        idx = list(front)
        weights = None
        if target is not None and self.config.cost_target_origin == "nearby":
            near = nearby_best_group(np.log(groups.mean_cost), groups.mean_output, target)
            if near not in idx:
                idx.append(near)
            weights = np.zeros(len(idx))
            weights[: len(front)] = 0.5 / len(front)
            weights[idx.index(near)] += 0.5
        elif target is not None:
            observed = self._front(groups, ok, conservative=False, min_pareto_cost_fraction=0.0)
            cheapest = groups.mean_cost[front].min()
            idx += [g for g in observed if groups.mean_cost[g] < cheapest]
            weights = stratified_origin_weights(np.log(groups.mean_cost[idx]), len(front),
                                                target)
        return np.stack([self._obs_basic[ok[groups.first[g]]] for g in idx]), weights

    def _resample(self, groups, ok, cap: float | None = None) -> Suggestion | None:
        """Every ``resample_frequency`` successful observations, run again the least-sampled
        group (cheapest first) of the *plain* Pareto front, so that a single run that beats a
        group's mean but not its best sample gets the samples it needs to join the
        conservative front (see :mod:`carbs.pareto`). Groups whose mean cost is above ``cap``
        are left out. None when it is not time, or when every plain-front group already has a
        run outstanding (or costs too much)."""
        freq = self.config.resample_frequency
        if freq <= 0 or len(ok) - self._ok_at_last_resample < freq:
            return None
        plain = self._front(groups, ok, conservative=False)
        if cap is not None:
            plain = [g for g in plain if groups.mean_cost[g] <= cap]
        taken = self._outstanding_basic()
        sign = self.config.better_direction_sign
        for g in sorted(plain, key=lambda g: (groups.count[g], groups.mean_cost[g])):
            row = self._obs_basic[ok[groups.first[g]]]
            if not rows_in(row[None], taken)[0]:
                self._ok_at_last_resample = len(ok)
                return self._emit(row, {
                    "kind": "resample", "output": float(sign * groups.mean_output[g]),
                    "cost": float(groups.mean_cost[g]), "n_samples": int(groups.count[g])})
        return None

    def _fit_surrogates(self, groups, front, ok) -> None:
        """Fit the output, cost, Pareto and (with failures) success models."""
        sign = self.config.better_direction_sign
        x_all = np.stack(self._obs_basic)
        success = np.array([not o.is_failure for o in self._observations])
        y = np.array([sign * self._observations[i].output for i in ok])
        c = np.array([self._observations[i].cost for i in ok])
        times = self.surrogates.fit(x_all[ok], y, c, x_all, success, groups.mean_output[front],
                                    groups.mean_cost[front])
        logger.debug("surrogate fit times: %s", {k: round(v, 4) for k, v in times.items()})

    def _best_floor(self, front_costs: np.ndarray, target: float | None,
                    cap: float | None) -> float | None:
        """High-cost clamping: the Pareto model's value (warped) at the cost threshold, the
        floor of every candidate's ``best``: the suggestion's target cost when cost-stratified,
        else (the reference) a cost drawn log-uniformly over the front's range. None when
        clamping is off."""
        if not self.config.is_high_cost_clamping_on:
            return None
        sur = self.surrogates
        thr = (math.exp(target) if target is not None else
               draw_high_cost_threshold(self.rng, front_costs, cap))
        return float(sur.pareto_value(sur.cost_scaler(np.array([thr])))[0])

    def _acquisition(self, cand: np.ndarray, pred, origins: np.ndarray,
                     floor: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(score, log EI) of each candidate: log EI against the Pareto value at its predicted
        cost (at least ``floor``: high-cost clamping) + log search density + log P(success)."""
        cfg, sur = self.config, self.surrogates
        best = sur.pareto_value(pred.log_cost_scaled)
        if floor is not None:
            best = np.maximum(best, floor)
        log_ei = log_expected_improvement(pred.output_mean, pred.output_std, best,
                                          cfg.exploration_bias)
        log_dens = log_search_density(cand, origins, self._radius(),
                                      self.encoder.numeric_columns(),
                                      self.encoder.categorical_blocks())
        with np.errstate(divide="ignore"):
            score = log_ei + log_dens + np.log(np.clip(pred.p_success, 0.0, 1.0))
        return score, log_ei

    def _bo_predictions(self, pred, i: int, score: float, log_ei: float) -> dict[str, Any]:
        """The JSON-safe record of what the models predicted for candidate ``i``: a value that
        is not finite (the acquisition of a candidate suggested over the cost cap is -inf; a
        model may overflow far outside its data) is recorded as None, so that the record
        survives strict JSON (journals, state files, the trials table)."""
        warp = self.surrogates.warp
        assert warp is not None
        sign = self.config.better_direction_sign
        return {
            "kind": "bo",
            "output": _finite_or_none(sign * float(warp.inverse(pred.output_mean[i : i + 1])[0])),
            "output_warped": _finite_or_none(pred.output_mean[i]),
            "output_std_warped": _finite_or_none(pred.output_std[i]),
            "cost": _finite_or_none(pred.cost[i]),
            "p_success": _finite_or_none(pred.p_success[i]),
            "acquisition": _finite_or_none(score),
            "log_ei": _finite_or_none(log_ei),
        }


def _finite_or_none(value: Any) -> float | None:
    """``value`` as a float, or None when it is not a finite number (JSON has no NaN/inf)."""
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def _real_number(field: str, value: Any, what: str) -> float:
    """``value`` as a float when it is a real number (not a bool or a string)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise ValueError(  # noqa: TRY004  (observe() raises ValueError for every bad input)
            f"{field} must be {what}, got {value!r} ({type(value).__name__})")
    return float(value)
