"""Tuner adapters: one ask/tell interface over CARBS and its peers.

The arms, each through its own library (none is re-implemented here):

=============  =====================================================================  ==========
arm            implementation                                                          sees cost
=============  =====================================================================  ==========
carbs          this project's ``carbs.CARBS``                                          yes
tpe            Optuna ``TPESampler``                                                   no
gp             Optuna ``GPSampler``                                                    no
random         uniform in each dimension's basic space (numpy)                         no
asha           Optuna ``RandomSampler`` + ``SuccessiveHalvingPruner`` (asynchronous     charged
               successive halving) on the problem's learning curve (`asha.py`)         for stops
blendsearch    FLAML ``BlendSearch`` with ``cost_attr`` = the trial's cost              yes
               (`blendsearch.py`)
hebo           HEBO 0.3.6 in its own virtual environment, over JSON lines              no
               (`hebo_arm.py`, `hebo_worker.py`; ``make bench-hebo-env``)
=============  =====================================================================  ==========

Fairness (the same information for every tuner):
- the same box (bounds, log/linear scale, integer constraints) from the problem's `Dim`s;
- the same starting point: the problem's stated default, else the box center in basic space
  (geometric mid for log dims). Every tuner evaluates it exactly as its first trial: Optuna
  samplers get it enqueued, random search returns it first, and CARBS gets it as every param's
  ``search_center`` and is told its result as a plain observed config (CARBS alone would only
  sample around its center, never at it);
- the same number of initial random samples: CARBS's ``num_random_samples`` (4) is used as
  Optuna's ``n_startup_trials`` (Optuna's default of 10 would make short runs pure random) and as
  HEBO's ``rand_sample``; BlendSearch has no such setting (it starts a local search at once);
- the same seed, the same budget, and every tuner is charged the cost it spent;
- everyone minimises the observed (noisy) output; failures are reported as failures, through
  each library's own way (Optuna: FAIL state; CARBS: ``is_failure``; BlendSearch:
  ``error=True``; HEBO: a non-finite output, which its ``observe`` drops).
CARBS and BlendSearch see each trial's cost; ASHA uses the learning curve and spends less on the
runs it stops; the others only see the output.
"""

from __future__ import annotations

import logging
import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.tuners.space import Dim, sample_uniform

logger = logging.getLogger(__name__)


class Tuner(ABC):
    """Sequential ask/tell tuner over a box of `Dim`s (minimisation)."""

    name: str = ""

    def __init__(self, dims: tuple[Dim, ...], center: dict[str, Any], seed: int) -> None:
        self.dims = dims
        self.center = dict(center)
        self.seed = int(seed)

    @abstractmethod
    def ask(self) -> dict[str, Any]:
        """Propose the next configuration (param name -> value)."""

    @abstractmethod
    def tell(self, config: dict[str, Any], output: float, cost: float, failed: bool) -> None:
        """Report the result of the configuration returned by the last `ask`."""

    #: True for tuners that watch learning curves: the runner then feeds every step of the run
    #: to `report` and stops the run when it answers True.
    uses_curves: bool = False

    def report(self, step: int, output: float) -> bool:
        """An intermediate output of the running trial; True asks the runner to stop it."""
        return False

    def close(self) -> None:
        """Release what the tuner holds (e.g. a worker process); called once a run ends."""


class RandomSearch(Tuner):
    """Uniform in each dimension's basic space (log-uniform for log dims); the center first."""

    name = "random"

    def __init__(self, dims: tuple[Dim, ...], center: dict[str, Any], seed: int) -> None:
        super().__init__(dims, center, seed)
        self._rng = np.random.default_rng([seed, 7919])
        self._n = 0

    def ask(self) -> dict[str, Any]:
        self._n += 1
        return dict(self.center) if self._n == 1 else sample_uniform(self.dims, self._rng)

    def tell(self, config: dict[str, Any], output: float, cost: float, failed: bool) -> None:
        return None


class OptunaTuner(Tuner):
    """An Optuna sampler driven through `study.ask` / `study.tell`; the center is enqueued."""

    def __init__(
        self,
        dims: tuple[Dim, ...],
        center: dict[str, Any],
        seed: int,
        sampler_factory: Callable[[int], Any],
        name: str,
        pruner: Any = None,
    ) -> None:
        super().__init__(dims, center, seed)
        import optuna
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.name = name
        self._optuna = optuna
        self._dists = {
            d.name: (
                CategoricalDistribution(d.choices)
                if d.choices
                else IntDistribution(int(d.low), int(d.high), log=d.log)
                if d.integer
                else FloatDistribution(d.low, d.high, log=d.log)
            )
            for d in dims
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._study = optuna.create_study(
                direction="minimize", sampler=sampler_factory(seed), pruner=pruner
            )
        self._study.enqueue_trial(dict(center))
        self._trial: Any = None

    def ask(self) -> dict[str, Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # GPSampler: greenlet / experimental warnings
            self._trial = self._study.ask(self._dists)
        return dict(self._trial.params)

    def tell(self, config: dict[str, Any], output: float, cost: float, failed: bool) -> None:
        if self._trial is None:
            raise RuntimeError(f"{self.name}: tell() called before ask()")
        state = self._optuna.trial.TrialState
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if failed or not math.isfinite(output):
                self._study.tell(self._trial, state=state.FAIL)
            else:
                self._study.tell(self._trial, float(output))
        self._trial = None


N_STARTUP = 4  # CARBS's default num_random_samples


def _tpe(seed: int) -> Any:
    from optuna.samplers import TPESampler

    return TPESampler(seed=seed, n_startup_trials=N_STARTUP)


def _gp(seed: int) -> Any:
    from optuna.samplers import GPSampler

    return GPSampler(seed=seed, n_startup_trials=N_STARTUP)


class CarbsTuner(Tuner):
    """CARBS (ours), cost-aware; every param's search center is the shared starting point.

    The first trial is the center itself, reported through ``observe(config_dict, ...)``; then
    every configuration comes from ``CARBS.suggest``.

    Each dimension's CARBS ``scale`` is chosen so that its whole range spans `basic_range`
    units of CARBS's basic space (log10 units for log dims), i.e. the search radius covers the
    same fraction of every range.
    """

    name = "carbs"

    def __init__(
        self,
        dims: tuple[Dim, ...],
        center: dict[str, Any],
        seed: int,
        basic_range: float = 5.0,
        **config_overrides: Any,
    ) -> None:
        super().__init__(dims, center, seed)
        if not (basic_range > 0 and math.isfinite(basic_range)):
            raise ValueError(
                f"CarbsTuner: basic_range must be a positive number, got {basic_range}"
            )
        from carbs import CARBS, CARBSConfig, CategoricalSpace, LinearSpace, LogSpace, Param

        params = []
        for d in dims:
            if d.choices:
                space = CategoricalSpace(list(d.choices))
            elif d.log:
                scale = math.log10(d.high / d.low) / basic_range
                space = LogSpace(min=d.low, max=d.high, scale=scale, is_integer=d.integer)
            else:
                scale = (d.high - d.low) / basic_range
                space = LinearSpace(min=d.low, max=d.high, scale=scale, is_integer=d.integer)
            params.append(Param(d.name, space, search_center=center[d.name]))
        cfg = CARBSConfig(better_direction_sign=-1, seed=seed, **config_overrides)
        self._opt = CARBS(cfg, params)
        self._suggestion: Any = None
        self._center_pending = True

    def ask(self) -> dict[str, Any]:
        if self._center_pending:
            self._suggestion = dict(self.center)
        else:
            self._suggestion = self._opt.suggest()
        return dict(
            self._suggestion if isinstance(self._suggestion, dict) else self._suggestion.config
        )

    def tell(self, config: dict[str, Any], output: float, cost: float, failed: bool) -> None:
        if self._suggestion is None:
            raise RuntimeError("carbs: tell() called before ask()")
        failed = failed or not math.isfinite(output)
        self._opt.observe(
            self._suggestion,
            output=float("nan") if failed else float(output),
            cost=float(cost),
            is_failure=failed,
        )
        self._suggestion = None
        self._center_pending = False


TUNER_NAMES: tuple[str, ...] = ("carbs", "tpe", "gp", "random", "asha", "blendsearch", "hebo")
# Variants selectable by name but not part of "all", for diagnosing CARBS:
# carbs-wide: each range spans 2 basic units instead of 5 (the search radius covers 15 % of
#   every range instead of 6 %);
# carbs-plain: is_pareto_group_selection_conservative=False (plain Pareto front);
# carbs-adaptive: adaptive_search_radius=True (trust-region-style radius);
# carbs-clamp: is_cost_stratified=False, the reference's high-cost clamping instead of the
#   cost-stratified search (the earlier default).
_CARBS_VARIANTS: dict[str, dict[str, Any]] = {
    "carbs-wide": {"basic_range": 2.0},
    "carbs-plain": {"is_pareto_group_selection_conservative": False},
    "carbs-adaptive": {"adaptive_search_radius": True},
    "carbs-clamp": {"is_cost_stratified": False},
}
EXTRA_TUNERS: tuple[str, ...] = tuple(_CARBS_VARIANTS)


def make_tuner(name: str, dims: tuple[Dim, ...], center: dict[str, Any], seed: int) -> Tuner:
    """Build a tuner by name: one of `TUNER_NAMES` (or a ``carbs-*`` variant).

    Raises:
        ValueError: unknown name.
        benchmarks.tuners.hebo_arm.HeboUnavailable: ``hebo`` without its environment.
    """
    if name == "random":
        return RandomSearch(dims, center, seed)
    if name == "tpe":
        return OptunaTuner(dims, center, seed, _tpe, "tpe")
    if name == "gp":
        return OptunaTuner(dims, center, seed, _gp, "gp")
    if name == "carbs":
        return CarbsTuner(dims, center, seed)
    if name == "asha":
        from benchmarks.tuners.asha import AshaTuner

        return AshaTuner(dims, center, seed)
    if name == "blendsearch":
        from benchmarks.tuners.blendsearch import BlendSearchTuner

        return BlendSearchTuner(dims, center, seed)
    if name == "hebo":
        from benchmarks.tuners.hebo_arm import HeboTuner

        return HeboTuner(dims, center, seed)
    if name in _CARBS_VARIANTS:
        tuner = CarbsTuner(dims, center, seed, **_CARBS_VARIANTS[name])
        tuner.name = name
        return tuner
    raise ValueError(f"unknown tuner {name!r}; choose from {list(TUNER_NAMES + EXTRA_TUNERS)}")
