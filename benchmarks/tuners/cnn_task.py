"""A small real task in torch: a two-layer CNN on the bundled 8x8 digits (no download).

Parameters: width (channels of the first convolution; the second has twice as many), learning
rate and weight decay of AdamW, batch size, and epochs. Width and epochs both set the cost, as
model size and tokens do for a language model. The network:

    conv 3x3 (1 -> w) - ReLU - conv 3x3 (w -> 2w) - ReLU - max-pool 2 - linear (2w * 4 * 4 -> 10)

Output: validation cross-entropy on the same fixed stratified 30 % split as ``mlp-digits``,
reported after every epoch (the learning curve). Cost: training FLOPs, counted analytically as
3 (forward + backward) x 2 x multiply-accumulates per image x images seen:
MACs per image = 64 * 9 * w + 64 * 9 * w * 2w + 32 w * 10. Deterministic, so runs are
reproducible; wall seconds are recorded as ``metric.wall_seconds`` but never used for scoring.
Initialisation and batch order come from the trial's RNG, so outputs carry real seed noise.

The optimum is unknown: reports use the best output pooled over all tuners and seeds, and the
pooled best front as the reference front.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from benchmarks.tuners.base import Budget, CurvePoint, Evaluation, Problem
from benchmarks.tuners.mlp_task import _digits_split
from benchmarks.tuners.space import Dim

N_TRAIN = 1257  # 70 % of the 1797 digits


def macs_per_image(width: int) -> float:
    """Multiply-accumulates of one forward pass of one 8x8 image."""
    return 64 * 9 * width + 64 * 9 * width * 2 * width + 2 * width * 16 * 10


def training_flops(width: int, images: float) -> float:
    """Training FLOPs: 3 (forward + backward) x 2 FLOPs per MAC x MACs per image x images."""
    return 6.0 * macs_per_image(width) * images


def _network(width: int) -> Any:
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * width * 16, 10),
    )


class CNNDigitsProblem(Problem):
    """A torch CNN on load_digits; cost = training FLOPs (width and epochs set it)."""

    name = "cnn-digits"
    dims = (
        Dim("width", 4, 32, log=True, integer=True),
        Dim("lr", 1e-4, 1e-1, log=True),
        Dim("weight_decay", 1e-6, 1e-1, log=True),
        Dim("batch_size", 16, 256, log=True, integer=True),
        Dim("epochs", 1, 40, log=True, integer=True),
    )
    cost_aware = True
    optimal_value = None
    target = 0.06
    cost_unit = "training FLOPs"

    def __init__(self) -> None:
        # From one epoch of the narrowest net to 40 epochs of the widest; the budget is about
        # 30 runs at the search center (width 11, 6 epochs) or 40 % of the largest run.
        self.cost_window = (training_flops(4, N_TRAIN), training_flops(32, 40 * N_TRAIN))
        self.budget = Budget(1.5e11, 60)
        self.quick_budget = Budget(1.5e10, 5)

    def _evaluate(self, config: dict[str, Any], rng: np.random.Generator) -> Evaluation:
        last = None
        for last in self._curve(config, rng):
            pass
        assert last is not None
        return last.evaluation

    def _curve(self, config: dict[str, Any], rng: np.random.Generator) -> Iterator[CurvePoint]:
        """Train epoch by epoch; yield the validation loss after each (a failure ends it)."""
        import torch
        from torch.nn import functional as F

        torch.set_num_threads(1)
        x_tr, x_va, y_tr, y_va = _digits_split()
        xt = torch.as_tensor(x_tr, dtype=torch.float32).reshape(-1, 1, 8, 8)
        yt = torch.as_tensor(y_tr, dtype=torch.long)
        xv = torch.as_tensor(x_va, dtype=torch.float32).reshape(-1, 1, 8, 8)
        yv = torch.as_tensor(y_va, dtype=torch.long)
        width, batch = int(config["width"]), int(config["batch_size"])
        seed = int(rng.integers(0, 2**31 - 1))
        with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG alone
            torch.manual_seed(seed)
            net = _network(width)
        gen = torch.Generator().manual_seed(seed + 1)
        opt = torch.optim.AdamW(
            net.parameters(), lr=float(config["lr"]), weight_decay=float(config["weight_decay"])
        )
        t0 = time.perf_counter()
        epochs = int(config["epochs"])
        for epoch in range(1, epochs + 1):
            cost = training_flops(width, epoch * len(xt))
            net.train()
            for idx in torch.randperm(len(xt), generator=gen).split(batch):
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(net(xt[idx]), yt[idx]).backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                logits = net(xv)
                loss = float(F.cross_entropy(logits, yv))
                acc = float((logits.argmax(dim=1) == yv).float().mean())
            metrics = {
                "accuracy": acc,
                "epochs_run": float(epoch),
                "wall_seconds": time.perf_counter() - t0,
            }
            if not math.isfinite(loss):
                failed = Evaluation(math.nan, cost, math.nan, metrics,
                                    error="non-finite loss (diverged)")
                yield CurvePoint(epoch, failed, final=True)
                return
            yield CurvePoint(epoch, Evaluation(loss, cost, loss, metrics), final=epoch == epochs)
