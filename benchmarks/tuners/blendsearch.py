"""The ``blendsearch`` arm: FLAML's ``BlendSearch`` (economical hyperparameter optimisation).

BlendSearch mixes a global search (Optuna TPE through FLAML's own wrapper) with FLAML's local
search (CFO / FLOW2), and prioritises its search threads by the expected cost of an improvement.
It gets the cost signal through ``cost_attr="cost"``: every result it is told carries the trial's
cost (the problem's cost unit, as CARBS sees it). It is not told which parameters drive the cost
(no ``low_cost_partial_config``), as CARBS is not; it starts at the common search center
(``points_to_evaluate``). Integer dimensions map to ``randint`` / ``lograndint`` with the upper
bound made inclusive. A failed trial is reported with ``error=True``.

``BlendSearch.suggest`` may return None (a converged local search, a duplicate); the arm then
asks again with a new trial id, up to `MAX_EMPTY_SUGGESTIONS` times.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

from benchmarks.tuners.adapters import Tuner
from benchmarks.tuners.space import Dim, check_config

MAX_EMPTY_SUGGESTIONS = 100


def flaml_space(dims: tuple[Dim, ...]) -> dict[str, Any]:
    """The box as FLAML tune domains (integer upper bounds are exclusive there)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "flaml.automl is not available"
        from flaml import tune

    space = {}
    for d in dims:
        if d.integer:
            fn = tune.lograndint if d.log else tune.randint
            space[d.name] = fn(int(d.low), int(d.high) + 1)
        else:
            space[d.name] = (tune.loguniform if d.log else tune.uniform)(d.low, d.high)
    return space


class BlendSearchTuner(Tuner):
    """FLAML ``BlendSearch`` driven through ``suggest`` / ``on_trial_complete``."""

    name = "blendsearch"

    def __init__(self, dims: tuple[Dim, ...], center: dict[str, Any], seed: int) -> None:
        super().__init__(dims, center, seed)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        logging.getLogger("flaml").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from flaml.tune.searcher.blendsearch import BlendSearch

            self._search = BlendSearch(
                metric="output",
                mode="min",
                space=flaml_space(dims),
                points_to_evaluate=[dict(center)],
                seed=int(seed),
                cost_attr="cost",
            )
        self._n = 0
        self._trial_id: str | None = None
        self._raw: dict[str, Any] = {}

    def ask(self) -> dict[str, Any]:
        for _ in range(MAX_EMPTY_SUGGESTIONS):
            self._n += 1
            trial_id = f"t{self._n}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                config = self._search.suggest(trial_id)
            if config is not None:
                self._trial_id, self._raw = trial_id, dict(config)
                return check_config(self.dims, {d.name: config[d.name] for d in self.dims})
        raise RuntimeError(
            f"blendsearch: no suggestion in {MAX_EMPTY_SUGGESTIONS} calls (search exhausted)"
        )

    def tell(self, config: dict[str, Any], output: float, cost: float, failed: bool) -> None:
        if self._trial_id is None:
            raise RuntimeError("blendsearch: tell() called before ask()")
        failed = failed or not math.isfinite(output)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if failed:
                self._search.on_trial_complete(self._trial_id, None, error=True)
            else:
                result = {"output": float(output), "cost": float(cost), "config": self._raw}
                self._search.on_trial_complete(self._trial_id, result)
        self._trial_id = None
