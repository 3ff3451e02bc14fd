"""CARBS: suggest / suggest(n) / observe / forget, thread-safe.

CARBS is a *local* search: it samples around the search centre and then around the Pareto
front, within a fixed ``initial_search_radius`` in basic space. It does not try to cover the
whole bounded space; set the centre and radius (or the space's ``scale``) accordingly.
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

from carbs._gp import resolve_device
from carbs.acquisition import draw_high_cost_threshold, log_expected_improvement, log_search_density
from carbs.config import CARBSConfig, Observation, ParetoGroup, Suggestion
from carbs.encoder import ParamEncoder
from carbs.pareto import group_resamples, pareto_group_indices
from carbs.spaces import Param, check_integer_reachability
from carbs.surrogate import SurrogateSet

logger = logging.getLogger("carbs")

__all__ = ["CARBS"]


class CARBS:
    """Cost-Aware Pareto-Region Bayesian Search.

    Args:
        config: the run's :class:`CARBSConfig`.
        params: the hyperparameters (:class:`Param`), each with a space and a search centre.
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
                                       config.seed, config.fit_warm_max_iter)
        self._observations: list[Observation] = []
        self._obs_basic: list[np.ndarray] = []
        self._outstanding: dict[str, Suggestion] = {}
        self._predictions: dict[str, dict] = {}
        self._obs_at_last_resample = 0
        # adaptive search radius (config.adaptive_search_radius): factor and streak counters
        self._radius_factor = 1.0
        self._front_hits = 0
        self._front_misses = 0
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
    def suggest(self) -> Suggestion: ...

    @overload
    def suggest(self, n: int) -> list[Suggestion]: ...

    def suggest(self, n: int | None = None):
        """One suggestion, or a list of ``n`` distinct ones (each later one sees the earlier
        ones as outstanding, with fantasy outputs)."""
        if n is not None and (not isinstance(n, int) or n < 1):
            raise ValueError(f"n must be a positive int, got {n!r}")
        with self._lock:
            t0 = time.perf_counter()
            state: dict[str, Any] = {}
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

        Raises ValueError naming the field for cost <= 0, unknown/missing parameter names and
        out-of-bounds values.
        """
        if isinstance(suggestion, Suggestion):
            config, sid = dict(suggestion.config), suggestion.suggestion_id
        elif isinstance(suggestion, dict):
            config, sid = dict(suggestion), suggestion_id
        else:
            raise TypeError("observe: first argument must be a Suggestion or a config dict")
        try:
            cost = float(cost)
        except (TypeError, ValueError):
            raise ValueError(f"cost must be a number > 0, got {cost!r}") from None
        if not (math.isfinite(cost) and cost > 0):
            raise ValueError(f"cost must be a finite number > 0, got {cost!r}")
        try:
            output = float(output)
        except (TypeError, ValueError):
            raise ValueError(f"output must be a number (NaN marks a failure), got {output!r}") from None
        self.encoder.validate(config)
        config = self.encoder.normalize(config)
        is_failure = bool(is_failure) or not math.isfinite(output)
        with self._lock:
            obs = Observation(config, output, cost, is_failure, sid)
            self._observations.append(obs)
            self._obs_basic.append(self.encoder.to_basic([config])[0])
            if sid is not None:
                self._outstanding.pop(sid, None)
            if self.config.adaptive_search_radius:
                self._adapt_radius(is_failure)
            logger.debug("observe: output=%s cost=%s failure=%s", output, cost, is_failure)
            return obs

    def forget(self, suggestion_id: str) -> None:
        """Drop an outstanding suggestion that will never finish."""
        with self._lock:
            if suggestion_id not in self._outstanding:
                raise ValueError(f"suggestion_id {suggestion_id!r} is not outstanding")
            del self._outstanding[suggestion_id]

    def pareto_front(self) -> list[ParetoGroup]:
        """The Pareto groups (mean output in user units, mean cost, sample count), by cost."""
        with self._lock:
            groups, front, ok = self._pareto()
            if groups is None:
                return []
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

    def save(self, path: str) -> None:
        """Write the versioned JSON state atomically (see :mod:`carbs.state`)."""
        from carbs.state import save_state

        save_state(self, path)

    @classmethod
    def load(cls, path: str) -> CARBS:
        """Load a state written by :meth:`save`; continues exactly where it stopped."""
        from carbs.state import load_state

        return load_state(path)

    @classmethod
    def warm_start(cls, config: CARBSConfig, params: Sequence[Param], from_state: str,
                   fixed_values: dict[str, Any] | None = None,
                   recenter_on_best: bool = False) -> CARBS:
        """A new optimiser seeded with an earlier sweep's observations (see :mod:`carbs.state`)."""
        from carbs.state import warm_start

        return warm_start(config, params, from_state, fixed_values, recenter_on_best)

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

    def _ok_arrays(self):
        ok = np.array([i for i, o in enumerate(self._observations) if not o.is_failure], int)
        return ok

    def _pareto(self):
        ok = self._ok_arrays()
        if len(ok) == 0:
            return None, None, ok
        x = np.stack([self._obs_basic[i] for i in ok])
        sign = self.config.better_direction_sign
        y = np.array([sign * self._observations[i].output for i in ok])
        c = np.array([self._observations[i].cost for i in ok])
        groups = group_resamples(x, y, c)
        front = pareto_group_indices(groups, self.config.min_pareto_cost_fraction,
                                     self.config.is_pareto_group_selection_conservative)
        return groups, front, ok

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
        """Gaussian steps on numeric columns, local redraws on categorical blocks."""
        r = self._radius()
        cand = origins.copy()
        num = self.encoder.numeric_columns()
        cand[:, num] += self.rng.normal(0.0, r, size=(len(cand), len(num)))
        for sl, p in self.encoder.categorical_blocks():
            k = sl.stop - sl.start
            cur = np.argmax(cand[:, sl], axis=1)
            flip = self.rng.uniform(size=len(cand)) < p
            shift = self.rng.integers(1, k, size=len(cand))
            new = np.where(flip, (cur + shift) % k, cur)
            block = np.zeros((len(cand), k))
            block[np.arange(len(cand)), new] = 1.0
            cand[:, sl] = block
        return cand

    def _outstanding_basic(self) -> np.ndarray:
        if not self._outstanding:
            return np.zeros((0, self.encoder.dim))
        return self.encoder.to_basic([s.config for s in self._outstanding.values()])

    def _suggest_random(self) -> Suggestion:
        center = self.encoder.center_basic()
        taken = self._outstanding_basic()
        for _ in range(200):
            cand, valid = self.encoder.round_basic(self._mutate(np.repeat(center[None], 64, 0)))
            cand = cand[valid & ~_rows_in(cand, taken)]
            if len(cand):
                return self._emit(cand[0], {"kind": "random"})
        raise RuntimeError("could not draw a point inside the bounds around the search centre; "
                           "check search_center, bounds and initial_search_radius")

    def _resample_choice(self, groups, front, ok) -> tuple[np.ndarray, dict] | None:
        taken = self._outstanding_basic()
        order = sorted(front, key=lambda g: (groups.count[g], groups.mean_cost[g]))
        sign = self.config.better_direction_sign
        for g in order:
            row = self._obs_basic[ok[groups.first[g]]]
            if not _rows_in(row[None], taken)[0]:
                return row, {"kind": "resample", "output": float(sign * groups.mean_output[g]),
                             "cost": float(groups.mean_cost[g]), "n_samples": int(groups.count[g])}
        return None

    def _candidates(self, origins: np.ndarray, n: int) -> np.ndarray:
        taken = self._outstanding_basic()
        got: list[np.ndarray] = []
        total = 0
        for _ in range(20):
            m = max(int(1.5 * (n - total)), 16)
            idx = self.rng.integers(0, len(origins), size=m)
            cand, valid = self.encoder.round_basic(self._mutate(origins[idx]))
            cand = cand[valid & ~_rows_in(cand, taken)]
            got.append(cand)
            total += len(cand)
            if total >= n:
                break
        return np.concatenate(got)[:n]

    def _suggest_one(self, state: dict[str, Any]) -> Suggestion:
        cfg = self.config
        groups, front, ok = self._pareto()
        if len(ok) < cfg.num_random_samples:
            return self._suggest_random()
        n_obs = len(self._observations)
        if cfg.resample_frequency > 0 and n_obs - self._obs_at_last_resample >= cfg.resample_frequency:
            choice = self._resample_choice(groups, front, ok)
            if choice is not None:
                self._obs_at_last_resample = n_obs
                return self._emit(*choice)
        sign = cfg.better_direction_sign
        origins = np.stack([self._obs_basic[ok[groups.first[g]]] for g in front])
        sur = self.surrogates
        if not state.get("fitted"):
            x_all = np.stack(self._obs_basic)
            success = np.array([not o.is_failure for o in self._observations])
            x_ok = x_all[ok]
            y = np.array([sign * self._observations[i].output for i in ok])
            c = np.array([self._observations[i].cost for i in ok])
            times = sur.fit(x_ok, y, c, x_all, success, groups.mean_output[front],
                            groups.mean_cost[front])
            logger.debug("surrogate fit times: %s", {k: round(v, 4) for k, v in times.items()})
            state["fitted"] = True
        sur.add_fantasies(self._outstanding_basic(), self.torch_generator,
                          use_mean=cfg.outstanding_suggestion_estimator == "mean")
        n_cand = cfg.num_candidates_for_suggestion_per_dim * len(self.params)
        cand = self._candidates(origins, n_cand)
        if len(cand) == 0:
            return self._suggest_random()
        pred = sur.predict(cand)
        best = sur.pareto_value(pred.log_cost_scaled)
        if cfg.is_high_cost_clamping_on:
            thr = draw_high_cost_threshold(self.rng, groups.mean_cost[front], cfg.max_suggestion_cost)
            best = np.maximum(best, sur.pareto_value(sur.cost_scaler(np.array([thr])))[0])
        log_ei = log_expected_improvement(pred.output_mean, pred.output_std, best,
                                          cfg.exploration_bias)
        log_dens = log_search_density(cand, origins, self._radius(),
                                      self.encoder.numeric_columns(),
                                      self.encoder.categorical_blocks())
        with np.errstate(divide="ignore"):
            score = log_ei + log_dens + np.log(np.clip(pred.p_success, 0.0, 1.0))
        if cfg.max_suggestion_cost is not None:
            score = np.where(pred.cost <= cfg.max_suggestion_cost, score, -np.inf)
        if np.all(~np.isfinite(score)):
            logger.warning("no candidate within max_suggestion_cost; suggesting the cheapest")
            i = int(np.argmin(pred.cost))
        else:
            i = int(np.argmax(np.where(np.isfinite(score), score, -np.inf)))
        assert sur.warp is not None
        out_pred = sign * float(sur.warp.qt.inverse_transform([[pred.output_mean[i]]])[0, 0])
        return self._emit(cand[i], {
            "kind": "bo",
            "output": out_pred,
            "output_warped": float(pred.output_mean[i]),
            "output_std_warped": float(pred.output_std[i]),
            "cost": float(pred.cost[i]),
            "p_success": float(pred.p_success[i]),
            "acquisition": float(score[i]),
            "log_ei": float(log_ei[i]),
        })


def _rows_in(rows: np.ndarray, table: np.ndarray, decimals: int = 9) -> np.ndarray:
    """For each row, whether an identical row (after rounding) is in ``table``."""
    if len(table) == 0 or len(rows) == 0:
        return np.zeros(len(rows), dtype=bool)
    a = np.round(rows, decimals)
    b = np.round(table, decimals)
    return (np.abs(a[:, None, :] - b[None, :, :]).max(axis=2) == 0).any(axis=1)
