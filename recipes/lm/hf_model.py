"""Hugging Face ``transformers`` architectures trained by the recipe (``model.impl=hf``).

:func:`hf_config` maps the recipe's model fields onto a ``transformers`` config, with no
pretrained weights: ``arch=llama`` (``LlamaConfig``: RMSNorm, SwiGLU MLP of hidden width
``d_ff``, rotary positions with base ``rotary_base``, no biases) or ``arch=gpt2``
(``GPT2Config``: LayerNorm and biases, GELU MLP of width ``d_ff``, learned absolute positions
for ``context_length`` tokens); width, depth, heads, context, vocabulary, dropout and tied
embeddings come from the recipe. ``transformers`` initialises the weights (N(0, 0.02); GPT-2
also scales its residual projections by 1/sqrt(2 n_layers)). :class:`ComposerHFCausalLM` wraps
the model in Composer's ``HuggingFaceModel`` with the recipe's batches and loss, so training,
validation, FLOPs (:func:`recipes.lm.model.flops_per_token` counts each architecture) and the
result are those of the native model.
"""
from __future__ import annotations

from typing import Any

import torch
from composer.metrics.nlp import LanguageCrossEntropy
from composer.models import HuggingFaceModel

from recipes.lm.composer_model import NextTokenObjective
from recipes.lm.config import ModelConfig

__all__ = ["ComposerHFCausalLM", "build_hf_model", "hf_config"]


def hf_config(cfg: ModelConfig, vocab_size: int, eos_id: int | None = None):
    """The ``transformers`` config of ``cfg`` (``impl=hf``) for ``vocab_size`` tokens."""
    from transformers import GPT2Config, LlamaConfig

    common = {"vocab_size": vocab_size, "tie_word_embeddings": cfg.tie_embeddings,
              "bos_token_id": eos_id, "eos_token_id": eos_id, "use_cache": False}
    if cfg.arch == "llama":
        return LlamaConfig(
            hidden_size=cfg.d_model, intermediate_size=cfg.d_ff, num_hidden_layers=cfg.n_layers,
            num_attention_heads=cfg.n_heads, num_key_value_heads=cfg.n_heads,
            head_dim=cfg.d_head, max_position_embeddings=cfg.context_length,
            rope_parameters={"rope_type": "default", "rope_theta": cfg.rotary_base},
            attention_dropout=cfg.dropout, hidden_act="silu", rms_norm_eps=1e-5,
            attention_bias=False, mlp_bias=False, initializer_range=0.02, **common)
    if cfg.arch == "gpt2":
        return GPT2Config(
            n_embd=cfg.d_model, n_layer=cfg.n_layers, n_head=cfg.n_heads, n_inner=cfg.d_ff,
            n_positions=cfg.context_length, activation_function="gelu", resid_pdrop=cfg.dropout,
            embd_pdrop=cfg.dropout, attn_pdrop=cfg.dropout, layer_norm_epsilon=1e-5,
            initializer_range=0.02, **common)
    raise ValueError(f"model.arch: must be one of ['llama', 'gpt2'], got {cfg.arch!r}")


def build_hf_model(cfg: ModelConfig, vocab_size: int, eos_id: int | None = None):
    """A freshly initialised ``transformers`` causal LM (fp32, SDPA attention) of ``cfg``, with
    Composer's FSDP wrap policy (one unit per decoder block) attached."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(hf_config(cfg, vocab_size, eos_id),
                                             attn_implementation="sdpa", dtype=torch.float32)
    blocks = set(getattr(model, "_no_split_modules", None) or ())
    model.fsdp_wrap_fn = lambda module: type(module).__name__ in blocks
    return model


class ComposerHFCausalLM(NextTokenObjective, HuggingFaceModel):
    """Composer's ``HuggingFaceModel`` over a causal LM, fed the recipe's batches: a (B, T + 1)
    tensor of token ids, inputs ``[:, :-1]`` and targets ``[:, 1:]``. Loss and the validation
    metric (``LanguageCrossEntropy``, nats per token) are the mean next-token cross-entropy in
    float32 over all T positions, as :class:`~recipes.lm.composer_model.ComposerGPT` computes
    them (a ``labels=input_ids`` call of the HF model would score T - 1 positions).

    Args:
        model: the ``transformers`` model (:func:`build_hf_model`).
        tokenizer: its ``transformers`` tokenizer, saved in Composer checkpoints (optional).
    """

    def __init__(self, model: Any, tokenizer: Any = None):
        super().__init__(model, tokenizer=tokenizer, use_logits=True,
                         eval_metrics=[LanguageCrossEntropy()])

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=batch[:, :-1], use_cache=False).logits
