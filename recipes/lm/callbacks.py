"""Composer callbacks of the recipe: divergence detection, a per-step loss record and the
run's wall clock (kept across resumes)."""
from __future__ import annotations

import math
import time
from typing import Any

import torch
from composer.core import Callback, State
from composer.loggers import Logger
from composer.utils import dist

__all__ = ["DivergenceDetector", "DivergenceError", "LossHistory", "RunClock", "SteadyClock",
           "StreamEpoch"]


class DivergenceError(RuntimeError):
    """Raised inside training when the loss is NaN/inf (or above a configured ceiling)."""


def _loss_value(state: State) -> float:
    loss = state.loss
    if isinstance(loss, dict):
        loss = sum(loss.values())
    if isinstance(loss, (list, tuple)):
        loss = sum(loss)
    return float(loss.detach().float()) if isinstance(loss, torch.Tensor) else float(loss)


class DivergenceDetector(Callback):
    """Ends training with :class:`DivergenceError` as soon as the training loss is not finite
    (or exceeds ``max_loss``). Checked every ``every`` batches (1 = every batch). With several
    processes the verdict is all-reduced, so every rank stops at the same batch (no rank is left
    waiting in a collective)."""

    def __init__(self, max_loss: float | None = None, every: int = 1):
        self.max_loss, self.every = max_loss, max(1, every)

    def batch_end(self, state: State, logger: Logger) -> None:
        step = int(state.timestamp.batch)
        if step % self.every:
            return
        loss = _loss_value(state)
        bad = not math.isfinite(loss) or (self.max_loss is not None and loss > self.max_loss)
        if dist.get_world_size() > 1:
            flag = state.device.tensor_to_device(torch.tensor([float(bad)]))
            dist.all_reduce(flag, reduce_operation="MAX")
            bad = bool(flag.item() > 0)
        if bad:
            raise DivergenceError(f"training diverged at batch {step}: loss={loss}")


class LossHistory(Callback):
    """Records ``(batch, training loss)`` after every batch in :attr:`losses`."""

    def __init__(self) -> None:
        self.losses: list[tuple[int, float]] = []

    def batch_end(self, state: State, logger: Logger) -> None:
        self.losses.append((int(state.timestamp.batch), _loss_value(state)))


class StreamEpoch(Callback):
    """Tells a streaming dataset which epoch starts (so it reshuffles); Composer itself only
    calls ``set_epoch`` on distributed samplers."""

    def epoch_start(self, state: State, logger: Logger) -> None:
        dataset = getattr(state.dataloader, "dataset", None)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(int(state.timestamp.epoch))


class RunClock(Callback):
    """Wall-clock seconds of training over the whole run, resumes included.

    The clock starts at ``fit_start``; its ``state_dict`` (saved in every Composer checkpoint)
    holds the seconds trained so far, and a resumed run loads them as :attr:`prior_seconds`, so
    a run's reported time is counted whole (up to its last checkpoint, plus this process).
    """

    def __init__(self) -> None:
        self.prior_seconds = 0.0
        """Seconds trained by earlier processes of this run (from the checkpoint)."""
        self._start: float | None = None

    def fit_start(self, state: State, logger: Logger) -> None:
        self._start = time.perf_counter()

    def start(self) -> None:
        """Start the clock now (for work outside ``fit``, e.g. evaluating a finished run)."""
        self._start = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Seconds of this process since the clock started (0 before)."""
        return 0.0 if self._start is None else time.perf_counter() - self._start

    @property
    def total_seconds(self) -> float:
        """The whole run: earlier processes plus this one."""
        return self.prior_seconds + self.seconds

    def state_dict(self) -> dict[str, Any]:
        return {"wall_seconds": self.total_seconds}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.prior_seconds = float(state.get("wall_seconds", 0.0))


class SteadyClock(Callback):
    """Training speed in steady state: the batches and wall seconds from the end of batch
    ``warmup`` of this process (compilation, CUDA autotuning, the micro-batch search and the data pipeline's
    start happen before it) to the last batch, evaluation time left out.

    ``metric.mfu`` counts the whole run (start-up, compilation and evaluation included), which is
    the cost a sweep pays; this is the speed the hardware reaches, reported beside it. On CUDA
    the window's ends synchronise the device (two waits per run, not one per step).
    """

    def __init__(self, warmup: int) -> None:
        self.warmup = max(1, warmup)
        self.batches = 0
        """Batches in the window (0: the run ended before its window did)."""
        self.seconds = 0.0
        """Their wall seconds, evaluation left out."""
        self._start = 0
        self._t0: float | None = None
        self._eval_t0: float | None = None
        self._eval_seconds = 0.0

    def fit_start(self, state: State, logger: Logger) -> None:
        self._start = int(state.timestamp.batch) + self.warmup  # a resumed run warms up too

    @staticmethod
    def _now(state: State) -> float:
        if state.device.name == "gpu":
            torch.cuda.synchronize()
        return time.perf_counter()

    def batch_end(self, state: State, logger: Logger) -> None:
        step = int(state.timestamp.batch)
        if step == self._start:
            self._t0, self._eval_seconds = self._now(state), 0.0
        elif self._t0 is not None and step == int(state.max_duration.value):
            self.seconds = self._now(state) - self._t0 - self._eval_seconds
            self.batches = step - self._start

    def eval_start(self, state: State, logger: Logger) -> None:
        self._eval_t0 = self._now(state) if self._t0 is not None else None

    def eval_end(self, state: State, logger: Logger) -> None:
        if self._eval_t0 is not None:
            self._eval_seconds += self._now(state) - self._eval_t0
            self._eval_t0 = None
