"""AdamW with weight decay on 2-D weights only, and Chinchilla's schedule: linear warm-up, then
cosine decay to ``min_lr_ratio`` (10%) of the peak learning rate at the last step."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from recipes.lm.config import TrainConfig

__all__ = ["WarmupCosine", "build_optimizer", "param_groups"]


@dataclass
class WarmupCosine:
    """Learning-rate multiplier at optimiser step ``step`` (``torch.optim.lr_scheduler.LambdaLR``
    calls it; being a dataclass, its fields are saved in checkpoints).

    Steps ``0 .. warmup-1`` ramp linearly from ``1/warmup`` to 1; then a cosine runs from 1 at
    ``warmup`` to ``min_ratio`` at ``total - 1``.
    """

    warmup_steps: int
    total_steps: int
    min_ratio: float = 0.1

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        span = max(1, self.total_steps - 1 - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups of any model: weight decay on 2-D weights (matmuls, embeddings), none on
    gains and biases; tied weights listed once."""
    params = list({id(p): p for p in model.parameters() if p.requires_grad}.values())
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig, total_steps: int
                    ) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """``torch.optim.AdamW`` (fused on CUDA) over :func:`param_groups` and its schedule."""
    fused = next(model.parameters()).is_cuda
    opt = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr,
                            betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, fused=fused or None)
    warmup = round(cfg.warmup_fraction * total_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, WarmupCosine(warmup, total_steps, cfg.min_lr_ratio))
    return opt, sched
