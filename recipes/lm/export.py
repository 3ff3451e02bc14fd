"""Hugging Face checkpoints out: the final model of a run as ``save_pretrained`` writes it, plus
its tokenizer, so ``AutoModelForCausalLM.from_pretrained(dir)`` and
``AutoTokenizer.from_pretrained(dir)`` load it.

``model.impl=hf`` models are saved as themselves. The native model is saved as the equivalent
GPT-NeoX model (``GPTNeoXForCausalLM`` with sequential residuals, rotary on the whole head, zero
biases): the same function, logits equal to float rounding. Neither layout the recipe builds
itself fits: GPT-2 has learned absolute positions where the native model is rotary, and Llama has
RMSNorm and a SwiGLU MLP where it has LayerNorm and a GELU MLP. Not exportable, said before
training: ``model.position=t5`` (no Hugging Face decoder has T5's bucketed relative bias) and
``model.init=t5`` with tied embeddings (its logits are scaled by ``d_model ** -0.5``, which no
layout expresses). The tokenizer is saved too: a Hugging Face one as it is, the recipe's
SentencePiece model as an equivalent fast tokenizer (same ids for the same text).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from recipes.lm.config import LMConfig, ModelConfig

__all__ = ["export_dir", "export_hf", "export_problem", "hf_tokenizer_of", "native_as_gpt_neox"]

log = logging.getLogger("recipes.lm.training")


def export_problem(cfg: ModelConfig) -> str | None:
    """Why ``cfg``'s model has no Hugging Face equivalent (None: it has one)."""
    if cfg.impl == "hf":
        return None
    if cfg.position == "t5":
        return ("model.position=t5: no Hugging Face decoder has T5's bucketed relative "
                "attention bias; train with position=rotary to export, or train.export_hf=false")
    if cfg.init == "t5" and cfg.tie_embeddings:
        return ("model.init=t5 with tie_embeddings scales the logits by d_model^-0.5, which no "
                "Hugging Face layout expresses; untie the embeddings or train.export_hf=false")
    return None


def export_dir(cfg: LMConfig) -> Path | None:
    """Where this run's export goes, or None when it exports nothing; checked before training.

    Raises:
        ValueError: naming the field, when an export is asked for (``train.export_hf=true``)
            but the model has no Hugging Face equivalent or there is no directory for it.
    """
    from recipes.common import is_single_run

    t = cfg.train
    if t.export_hf is False or (t.export_hf is None and not is_single_run()):
        return None
    why = export_problem(cfg.model)
    if why is not None:
        if t.export_hf:
            raise ValueError(why)
        log.warning("no Hugging Face export of this run: %s", why)
        return None
    if t.hf_dir:
        return Path(t.hf_dir)
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir) / "hf"
    except ValueError:  # not a Hydra run
        raise ValueError("train.hf_dir: set the directory of the Hugging Face export (no Hydra "
                         "run directory to put it in)") from None


def _neox_config(cfg: ModelConfig, vocab_size: int, eos_id: int | None):
    from transformers import GPTNeoXConfig

    return GPTNeoXConfig(
        vocab_size=vocab_size, hidden_size=cfg.d_model, num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads, intermediate_size=cfg.d_ff, hidden_act="gelu",
        max_position_embeddings=cfg.context_length, layer_norm_eps=1e-5,
        use_parallel_residual=False, attention_bias=False, tie_word_embeddings=cfg.tie_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": cfg.rotary_base,
                         "partial_rotary_factor": 1.0},
        attention_dropout=cfg.dropout, hidden_dropout=cfg.dropout, initializer_range=0.02,
        bos_token_id=eos_id, eos_token_id=eos_id, use_cache=True)


@torch.no_grad()
def native_as_gpt_neox(cfg: ModelConfig, vocab_size: int, state: dict[str, torch.Tensor],
                       eos_id: int | None = None):
    """The ``GPTNeoXForCausalLM`` computing what the native model with weights ``state``
    (:class:`~recipes.lm.model.GPT`'s ``state_dict``) computes.

    Per block: ``ln1``/``ln2`` -> ``input_layernorm``/``post_attention_layernorm`` (zero biases),
    ``attn.qkv`` -> ``attention.query_key_value`` with its rows regrouped from [q | k | v] (each
    all heads) to GPT-NeoX's per head [q_h | k_h | v_h], ``attn.proj`` -> ``attention.dense``,
    ``mlp.fc``/``mlp.proj`` -> ``mlp.dense_h_to_4h``/``dense_4h_to_h`` (zero biases). Both
    rotate the two halves of each head (``rotate_half``) with the same frequencies.
    """
    from transformers import GPTNeoXForCausalLM

    if (why := export_problem(cfg)) is not None:
        raise ValueError(why)
    model = GPTNeoXForCausalLM(_neox_config(cfg, vocab_size, eos_id)).float()
    for p in model.parameters():
        p.zero_()
    neox, H, dh, d = model.gpt_neox, cfg.n_heads, cfg.d_head, cfg.d_model
    neox.embed_in.weight.copy_(state["wte.weight"])
    for i, layer in enumerate(neox.layers):
        p = f"blocks.{i}."
        layer.input_layernorm.weight.copy_(state[p + "ln1.weight"])
        layer.post_attention_layernorm.weight.copy_(state[p + "ln2.weight"])
        qkv = state[p + "attn.qkv.weight"].view(3, H, dh, d).transpose(0, 1).reshape(3 * d, d)
        layer.attention.query_key_value.weight.copy_(qkv)
        layer.attention.dense.weight.copy_(state[p + "attn.proj.weight"])
        layer.mlp.dense_h_to_4h.weight.copy_(state[p + "mlp.fc.weight"])
        layer.mlp.dense_4h_to_h.weight.copy_(state[p + "mlp.proj.weight"])
    neox.final_layer_norm.weight.copy_(state["ln_f.weight"])
    if not cfg.tie_embeddings:
        model.get_output_embeddings().weight.copy_(state["lm_head.weight"])
    return model


def hf_tokenizer_of(tokenizer: Any) -> Any:
    """The ``transformers`` tokenizer to save beside the model (None: there is none)."""
    from recipes.lm.hf_tokenizer import HFTokenizer, sentencepiece_as_hf
    from recipes.lm.tokenizer import Tokenizer

    if isinstance(tokenizer, HFTokenizer):
        return tokenizer.hf
    if isinstance(tokenizer, Tokenizer):
        return sentencepiece_as_hf(tokenizer.path)
    return None


def export_hf(cfg: LMConfig, composer_model: Any, tokenizer: Any, vocab_size: int,
              directory: Path) -> None:
    """Save the trained model (and its tokenizer) in ``directory`` as a Hugging Face
    checkpoint. Every process takes part (an FSDP model is gathered); rank 0 writes."""
    from composer.checkpoint.state_dict import get_model_state_dict
    from composer.utils import dist

    state = get_model_state_dict(composer_model, sharded_state_dict=False, precision="fp32",
                                 cpu_offload=True)
    if dist.get_global_rank() == 0:
        state = {k.removeprefix("model."): v.detach().cpu() for k, v in state.items()}
        eos = getattr(tokenizer, "eos_id", None)
        if cfg.model.impl == "hf":
            from recipes.lm.hf_model import build_hf_model

            model = build_hf_model(cfg.model, vocab_size, eos)
            missing, unexpected = model.load_state_dict(state, strict=False)
            tied = {"lm_head.weight"} if cfg.model.tie_embeddings else set()
            if unexpected or set(missing) - tied:
                raise RuntimeError(f"the trained weights do not fit {type(model).__name__}: "
                                   f"missing {missing}, unexpected {unexpected}")
            model.tie_weights()
        else:
            model = native_as_gpt_neox(cfg.model, vocab_size, state, eos)
        directory.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(directory))
        hf_tok = hf_tokenizer_of(tokenizer)
        if hf_tok is not None:
            hf_tok.save_pretrained(str(directory))
        log.info("saved the final model as a Hugging Face checkpoint (%s%s) in %s",
                 type(model).__name__, "" if hf_tok is None else " with its tokenizer", directory)
    from recipes.lm.resume import fence

    fence()
