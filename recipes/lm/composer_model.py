"""The Composer wrapper of :class:`~recipes.lm.model.GPT` (loss, validation metric)."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from composer.metrics.nlp import LanguageCrossEntropy
from composer.models import ComposerModel

from recipes.lm.model import GPT

__all__ = ["ComposerGPT", "NextTokenObjective"]


class NextTokenObjective:
    """The recipe's objective, shared by its Composer models (native and Hugging Face): a batch
    is a (B, T + 1) tensor of token ids, inputs ``[:, :-1]``, targets ``[:, 1:]``; the training
    loss and the validation metric (``LanguageCrossEntropy``, nats per token) are the mean
    next-token cross-entropy over all T positions, in float32. The model class defines
    ``forward(batch)`` (the logits) and ``val_metrics``."""

    val_metrics: dict

    def loss(self, outputs: torch.Tensor, batch: torch.Tensor, *args: Any,
             **kwargs: Any) -> torch.Tensor:
        return F.cross_entropy(outputs.flatten(0, 1).float(), batch[:, 1:].flatten())

    def eval_forward(self, batch: torch.Tensor, outputs: Any | None = None) -> torch.Tensor:
        return outputs if outputs is not None else self.forward(batch)

    def get_metrics(self, is_train: bool = False) -> dict:
        return {} if is_train else self.val_metrics

    def update_metric(self, batch: torch.Tensor, outputs: torch.Tensor, metric) -> None:
        metric.update(outputs.float(), batch[:, 1:].contiguous())


class ComposerGPT(NextTokenObjective, ComposerModel):
    """The native :class:`~recipes.lm.model.GPT` with the recipe's objective."""

    def __init__(self, model: GPT):
        super().__init__()
        self.model = model
        self.val_metrics = {"LanguageCrossEntropy": LanguageCrossEntropy()}

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model(batch[:, :-1])
