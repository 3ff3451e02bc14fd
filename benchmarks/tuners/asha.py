"""The ``asha`` arm: asynchronous successive halving through Optuna.

Random search (Optuna's ``RandomSampler``) whose runs are stopped early by Optuna's
``SuccessiveHalvingPruner`` with its defaults (reduction factor 4, minimum resource estimated from
the first finished run, rungs at steps 1, 4, 16, 64, ...). The runner feeds the arm every step of
the problem's learning curve (``Problem.learning_curve``: per epoch on the real tasks, a
synthetic curve on the simulators); after each step the pruner decides whether the run goes on.
A stopped run is recorded with the output of its last step and charged the cost it spent up to
that step (``metric.pruned`` = 1); Optuna records it as PRUNED. Like the other arms it starts at
the common search center.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from benchmarks.tuners.adapters import OptunaTuner
from benchmarks.tuners.space import Dim


def _random(seed: int) -> Any:
    from optuna.samplers import RandomSampler

    return RandomSampler(seed=seed)


class AshaTuner(OptunaTuner):
    """Random sampling + Optuna's ``SuccessiveHalvingPruner`` on the learning curve."""

    uses_curves = True

    def __init__(self, dims: tuple[Dim, ...], center: dict[str, Any], seed: int) -> None:
        from optuna.pruners import SuccessiveHalvingPruner

        super().__init__(dims, center, seed, _random, "asha", pruner=SuccessiveHalvingPruner())
        self._pruned = False

    def ask(self) -> dict[str, Any]:
        self._pruned = False
        return super().ask()

    def report(self, step: int, output: float) -> bool:
        if self._trial is None:
            raise RuntimeError("asha: report() called before ask()")
        if not math.isfinite(output):
            return False  # the runner ends a failed run itself
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._trial.report(float(output), int(step))
            self._pruned = bool(self._trial.should_prune())
        return self._pruned

    def tell(self, config: dict[str, Any], output: float, cost: float, failed: bool) -> None:
        if self._pruned and not failed:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._study.tell(self._trial, state=self._optuna.trial.TrialState.PRUNED)
            self._trial = None
            return
        super().tell(config, output, cost, failed)
