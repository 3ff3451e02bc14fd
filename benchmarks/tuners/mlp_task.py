"""A small real task: an sklearn MLP on the bundled digits dataset (no download).

Parameters: hidden width, initial learning rate, L2 penalty (alpha), batch size and epochs (the
cost parameter). Training is ``MLPClassifier.partial_fit``, one epoch (one shuffled pass with
Adam) per call, exactly `epochs` epochs; the learning curve reports the validation log-loss after
every epoch. Output: validation log-loss on a fixed stratified 30 % split. Cost: epochs run x
training samples (sample-passes), deterministic, so runs are reproducible; wall seconds are
recorded as ``metric.wall_seconds`` but never used for scoring. The network initialisation and
the shuffling are drawn from the trial's RNG (benchmark seed, trial index), so the output carries
real initialisation noise yet every run is reproducible.

The optimum is unknown: reports use the best output pooled over all tuners and seeds as the
reference value and the pooled best front as the reference front.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import numpy as np

from benchmarks.tuners.base import Budget, CurvePoint, Evaluation, Problem
from benchmarks.tuners.space import Dim


@lru_cache(maxsize=1)
def _digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    return tuple(train_test_split(x, y, test_size=0.3, random_state=0, stratify=y))  # type: ignore[return-value]


class MLPDigitsProblem(Problem):
    """sklearn MLPClassifier on load_digits; cost = epochs run x training samples."""

    name = "mlp-digits"
    dims = (
        Dim("hidden", 8, 256, log=True, integer=True),
        Dim("lr", 1e-4, 1e-1, log=True),
        Dim("alpha", 1e-6, 1e-1, log=True),
        Dim("batch_size", 16, 512, log=True, integer=True),
        Dim("epochs", 2, 200, log=True, integer=True),
    )
    cost_aware = True
    optimal_value = None
    target = 0.08
    cost_unit = "sample-passes (epochs x 1257)"

    def __init__(self) -> None:
        n_train = 1257  # 70 % of the 1797 digits
        self.cost_window = (2.0 * n_train, 200.0 * n_train)
        self.budget = Budget(600.0 * n_train, 80)
        self.quick_budget = Budget(60.0 * n_train, 6)

    def _evaluate(self, config: dict[str, Any], rng: np.random.Generator) -> Evaluation:
        last = None
        for last in self._curve(config, rng):
            pass
        assert last is not None  # at least one epoch (epochs >= 2)
        return last.evaluation

    def _curve(self, config: dict[str, Any], rng: np.random.Generator) -> Iterator[CurvePoint]:
        """Train epoch by epoch; yield the validation log-loss after each (a failure ends it)."""
        from sklearn.metrics import accuracy_score, log_loss
        from sklearn.neural_network import MLPClassifier
        from threadpoolctl import threadpool_limits

        x_tr, x_va, y_tr, y_va = _digits_split()
        classes = np.unique(y_tr)
        model = MLPClassifier(
            hidden_layer_sizes=(int(config["hidden"]),),
            learning_rate_init=float(config["lr"]),
            alpha=float(config["alpha"]),
            batch_size=int(config["batch_size"]),
            # A RandomState instance (not a seed): each partial_fit call then draws a new
            # shuffle from it, as one fit() over many epochs does.
            random_state=np.random.RandomState(int(rng.integers(0, 2**31 - 1))),
        )
        t0 = time.perf_counter()
        epochs = int(config["epochs"])
        for epoch in range(1, epochs + 1):
            cost = float(epoch * len(x_tr))
            with warnings.catch_warnings(), threadpool_limits(1):
                warnings.simplefilter("ignore")  # overflow warnings of a diverging run
                try:
                    model.partial_fit(x_tr, y_tr, classes=classes)
                    proba = model.predict_proba(x_va)
                    loss = float(log_loss(y_va, np.clip(proba, 1e-12, 1.0), labels=classes))
                except (ValueError, FloatingPointError) as exc:  # e.g. diverged weights
                    failed = Evaluation(math.nan, cost, math.nan, error=f"fit failed: {exc}")
                    yield CurvePoint(epoch, failed, final=True)
                    return
            metrics = {
                "accuracy": float(accuracy_score(y_va, proba.argmax(axis=1))),
                "epochs_run": float(epoch),
                "wall_seconds": time.perf_counter() - t0,
            }
            if not math.isfinite(loss):
                failed = Evaluation(math.nan, cost, math.nan, metrics, error="non-finite loss")
                yield CurvePoint(epoch, failed, final=True)
                return
            yield CurvePoint(epoch, Evaluation(loss, cost, loss, metrics), final=epoch == epochs)
