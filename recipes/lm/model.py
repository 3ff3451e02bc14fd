"""A GPT-style decoder-only transformer, readable in one sitting.

Pre-norm blocks (LayerNorm without bias), causal attention through
``torch.nn.functional.scaled_dot_product_attention`` (flash attention on GPU), relative positions
either rotary (RoPE, the default) or T5's bucketed relative bias (as in the CARBS paper), GPT-2
or T5-style init, tied or untied embeddings. Parameter counts and training FLOPs are computed
right here, next to the model (:func:`count_params`, :func:`training_flops`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from recipes.lm.config import ModelConfig

__all__ = ["GPT", "count_params", "flops_per_token", "training_flops"]


# ----------------------------------------------------------------------------- positions
def rotary_tables(seq_len: int, d_head: int, base: float, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables (seq_len, d_head/2) of rotary position embeddings (Su et al. 2021)."""
    inv_freq = 1.0 / base ** (torch.arange(0, d_head, 2, device=device, dtype=torch.float32) / d_head)
    angles = torch.outer(torch.arange(seq_len, device=device, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (first half, second half) of the head dimension of x (B, H, T, D)."""
    x1, x2 = x.float().chunk(2, dim=-1)
    out = torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.to(x.dtype)


def t5_bucket(relative_position: torch.Tensor, num_buckets: int, max_distance: int) -> torch.Tensor:
    """T5's causal relative-position bucket: exact for small distances, log-spaced up to
    ``max_distance`` (Raffel et al. 2020, unidirectional variant)."""
    n = (-relative_position).clamp(min=0)  # how far back the key is
    max_exact = max(1, num_buckets // 2)
    is_small = n < max_exact
    log_ratio = torch.log(n.float().clamp(min=1) / max_exact) / math.log(max(max_distance / max_exact, 1 + 1e-6))
    large = max_exact + (log_ratio * (num_buckets - max_exact)).long()
    large = large.clamp(max=num_buckets - 1)
    return torch.where(is_small, n, large)


class T5RelativeBias(nn.Module):
    """Learned per-head bias added to attention logits, shared by all layers (as in T5)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.num_buckets, self.max_distance = cfg.rel_buckets, cfg.rel_max_distance
        self.bias = nn.Embedding(cfg.rel_buckets, cfg.n_heads)

    def forward(self, seq_len: int, dtype: torch.dtype) -> torch.Tensor:
        """Additive attention mask (1, H, T, T): bucketed bias, -inf above the diagonal."""
        pos = torch.arange(seq_len, device=self.bias.weight.device)
        rel = pos[None, :] - pos[:, None]  # key - query
        bias = self.bias(t5_bucket(rel, self.num_buckets, self.max_distance))  # (T, T, H)
        bias = bias.permute(2, 0, 1).unsqueeze(0).to(dtype)
        causal = torch.ones(seq_len, seq_len, dtype=torch.bool, device=bias.device).triu(1)
        return bias.masked_fill(causal, float("-inf"))


# ----------------------------------------------------------------------------- blocks
class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.d_head, self.dropout = cfg.n_heads, cfg.d_head, cfg.dropout
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, rope: tuple | None, bias: torch.Tensor | None) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, self.d_head).permute(2, 0, 3, 1, 4)
        if rope is not None:
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        p = self.dropout if self.training else 0.0
        if bias is None:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:  # an explicit additive mask (bias + causal -inf) rules out the flash kernel
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), dropout_p=p)
        return self.resid_drop(self.proj(y.transpose(1, 2).reshape(B, T, C)))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.proj = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model, bias=False)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model, bias=False)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, rope: tuple | None, bias: torch.Tensor | None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), rope, bias)
        return x + self.mlp(self.ln2(x))


# ----------------------------------------------------------------------------- model
class GPT(nn.Module):
    """Decoder-only transformer language model.

    Args:
        cfg: the shape (``d_model``, ``n_layers``, heads, ``mlp_ratio``, positions, init, tying).
        vocab_size: the tokenizer's vocabulary size.
    """

    def __init__(self, cfg: ModelConfig, vocab_size: int):
        super().__init__()
        self.cfg, self.vocab_size = cfg, vocab_size
        self.wte = nn.Embedding(vocab_size, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model, bias=False)
        self.lm_head = nn.Linear(cfg.d_model, vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.wte.weight
        self.rel_bias = T5RelativeBias(cfg) if cfg.position == "t5" else None
        # T5 scales tied output logits by d_model^-0.5 (its embeddings have unit variance).
        self.logit_scale = cfg.d_model ** -0.5 if (cfg.init == "t5" and cfg.tie_embeddings) else 1.0
        if cfg.position == "rotary":
            cos, sin = rotary_tables(cfg.context_length, cfg.d_head, cfg.rotary_base)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Initialise weights: ``gpt2`` (N(0, 0.02); residual output projections
        N(0, 0.02/sqrt(2L))) or ``t5`` (Mesh-TF T5: fan-in scaled normals, unit embeddings)."""
        cfg, d = self.cfg, self.cfg.d_model
        for name, p in self.named_parameters():
            if p.dim() == 1:  # LayerNorm gains
                nn.init.ones_(p)
                continue
            if cfg.init == "gpt2":
                std = 0.02 / math.sqrt(2 * cfg.n_layers) if name.endswith("proj.weight") else 0.02
                if name == "rel_bias.bias.weight":
                    std = 0.0
            else:  # t5
                if name.endswith(("attn.qkv.weight", "attn.proj.weight", "mlp.fc.weight")) or \
                        name == "lm_head.weight":
                    std = d ** -0.5  # (q gets the extra 1/sqrt(d_head) below)
                elif name.endswith("mlp.proj.weight"):
                    std = cfg.d_ff ** -0.5
                else:  # token embedding and relative bias table
                    std = 1.0
            nn.init.normal_(p, 0.0, std) if std > 0 else nn.init.zeros_(p)
        if cfg.init == "t5":
            for blk in self.blocks:  # T5: q ~ N(0, (d_model * d_head)^-1)
                blk.attn.qkv.weight[:d].mul_(cfg.d_head ** -0.5)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, vocab) for token ids ``idx`` (B, T), T <= context_length."""
        T = idx.shape[1]
        if T > self.cfg.context_length:
            raise ValueError(f"sequence length {T} exceeds model.context_length={self.cfg.context_length}")
        x = self.drop(self.wte(idx))
        rope = (self.rope_cos[:T], self.rope_sin[:T]) if self.rel_bias is None else None
        bias = self.rel_bias(T, x.dtype) if self.rel_bias is not None else None
        for block in self.blocks:
            x = block(x, rope, bias)
        logits = self.lm_head(self.ln_f(x))
        return logits * self.logit_scale if self.logit_scale != 1.0 else logits

    def fsdp_wrap_fn(self, module: nn.Module) -> bool:
        """Composer's FSDP wrap policy: one FSDP unit per transformer block, so FULL_SHARD
        gathers one block's parameters at a time (the embeddings stay in the root unit)."""
        return isinstance(module, Block)

    def param_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups: weight decay on 2-D weights (matmuls, embeddings), none on gains/biases
        (:func:`recipes.lm.optim.param_groups`)."""
        from recipes.lm.optim import param_groups

        return param_groups(self, weight_decay)


# ----------------------------------------------------------------------------- accounting
def _block_params(cfg: ModelConfig) -> tuple[int, int]:
    """Parameters of one transformer block and of the final norm, for ``cfg``'s
    implementation (d = d_model, f = d_ff):

    - native: attention ``4 d^2`` (qkv + output), GELU MLP ``2 d f``, two LayerNorm gains ``2 d``;
      final LayerNorm ``d``.
    - hf llama: attention ``4 d^2`` (q, k, v, o), SwiGLU MLP ``3 d f`` (gate, up and down),
      two RMSNorm gains ``2 d``; final RMSNorm ``d``.
    - hf gpt2: attention ``4 d^2 + 4 d`` (with biases), GELU MLP ``2 d f + f + d``, two
      LayerNorms with biases ``4 d``; final LayerNorm ``2 d``.
    """
    d, f = cfg.d_model, cfg.d_ff
    if cfg.impl == "hf" and cfg.arch == "llama":
        return 4 * d * d + 3 * d * f + 2 * d, d
    if cfg.impl == "hf" and cfg.arch == "gpt2":
        return (4 * d * d + 4 * d) + (2 * d * f + f + d) + 4 * d, 2 * d
    return 4 * d * d + 2 * d * f + 2 * d, d


def count_params(cfg: ModelConfig, vocab_size: int) -> dict[str, int]:
    """Exact parameter counts from the config, without building the model.

    ``total`` equals ``sum(p.numel() for p in model.parameters())`` (tied weights counted once)
    of the model ``cfg`` builds: :class:`GPT`, or with ``impl=hf`` the ``transformers`` model
    (:mod:`recipes.lm.hf_model`). ``non_embedding`` leaves out the token embedding, the untied
    output matrix and the position tables (the T5 relative bias, GPT-2's learned positions),
    i.e. Kaplan et al.'s N. Blocks: :func:`_block_params`.
    """
    V, d = vocab_size, cfg.d_model
    per_block, final_norm = _block_params(cfg)
    non_embedding = cfg.n_layers * per_block + final_norm
    embedding = V * d * (1 if cfg.tie_embeddings else 2)
    if cfg.impl == "hf":
        position = cfg.context_length * d if cfg.arch == "gpt2" else 0
    else:
        position = cfg.rel_buckets * cfg.n_heads if cfg.position == "t5" else 0
    return {"total": non_embedding + embedding + position, "non_embedding": non_embedding,
            "embedding": embedding + position}


def flops_per_token(cfg: ModelConfig, vocab_size: int) -> int:
    """Training FLOPs per token (forward + backward = 3x forward, 2 FLOPs per multiply-add).

    ``6 * (N + V d) + 12 * L * T * d``, with N the non-embedding parameters of ``cfg``'s
    architecture (:func:`count_params`: a SwiGLU MLP's three matrices for ``impl=hf
    arch=llama``), ``V d`` the output projection (the embedding lookup itself is free), and the
    attention term ``12 L T d``: per layer the forward pass does ``QK^T`` and ``AV``, each
    ``2 T d`` FLOPs per token, counted over the full ``T x T`` score matrix as in PaLM
    (Chowdhery et al. 2022, App. B) and Chinchilla; the causal half is not subtracted. Norms,
    softmax, activations, biases and position tables are not counted beyond their share of N.
    """
    n_matmul = count_params(cfg, vocab_size)["non_embedding"] + vocab_size * cfg.d_model
    return 6 * n_matmul + 12 * cfg.n_layers * cfg.context_length * cfg.d_model


def training_flops(cfg: ModelConfig, vocab_size: int, tokens: int) -> int:
    """Training FLOPs for ``tokens`` tokens: ``6 N D`` plus the attention term (see
    :func:`flops_per_token`)."""
    return flops_per_token(cfg, vocab_size) * int(tokens)
