"""The GPT model: exact parameter/FLOP formulas, causality, positions, init, schedule."""
from __future__ import annotations

import itertools

import pytest
import torch

from recipes.lm import GPT, ModelConfig, count_params, flops_per_token, training_flops
from recipes.lm.hardware import peak_flops
from recipes.lm.model import t5_bucket
from recipes.lm.optim import WarmupCosine


@pytest.mark.parametrize("position", ["rotary", "t5"])
@pytest.mark.parametrize("tie", [True, False])
@pytest.mark.parametrize("init", ["gpt2", "t5"])
def test_param_count_matches_numel(position, tie, init):
    cfg = ModelConfig(d_model=48, n_layers=3, n_heads=4, mlp_ratio=2.5, position=position,
                      tie_embeddings=tie, init=init)
    model = GPT(cfg, vocab_size=300)
    assert count_params(cfg, 300)["total"] == sum(p.numel() for p in model.parameters())


def test_param_and_flop_formulas_by_hand():
    cfg = ModelConfig(d_model=64, n_layers=2, n_heads=4, mlp_ratio=4, context_length=32)
    V = 1000
    # per block: qkv 64*192 + proj 64*64 + fc 64*256 + proj 256*64 + 2 LayerNorm gains of 64
    block = 64 * 192 + 64 * 64 + 64 * 256 + 256 * 64 + 2 * 64
    non_emb = 2 * block + 64  # + final LayerNorm
    assert count_params(cfg, V) == {"total": non_emb + V * 64, "non_embedding": non_emb,
                                    "embedding": V * 64}
    # 6 * (non-embedding + output projection) + attention 12 * L * T * d
    assert flops_per_token(cfg, V) == 6 * (non_emb + V * 64) + 12 * 2 * 32 * 64
    assert training_flops(cfg, V, 10_000) == 10_000 * flops_per_token(cfg, V)


def test_flops_match_a_counted_forward_pass():
    """3x the forward FLOPs counted by torch's FlopCounterMode (math attention kernel, which
    computes the full T x T scores) equals the formula up to the LayerNorm gains, which are
    parameters (in 6N) but do no matmul."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    cfg = ModelConfig(d_model=64, n_layers=2, n_heads=4, context_length=32)
    model = GPT(cfg, vocab_size=500).eval()
    idx = torch.randint(0, 500, (2, 32))
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(idx)
    counted_per_token = 3 * counter.get_total_flops() / idx.numel()
    norm_gains = (2 * cfg.n_layers + 1) * cfg.d_model
    assert counted_per_token + 6 * norm_gains == flops_per_token(cfg, 500)


@pytest.mark.parametrize("position", ["rotary", "t5"])
def test_attention_is_causal(position):
    torch.manual_seed(0)
    cfg = ModelConfig(d_model=32, n_layers=2, n_heads=2, context_length=16, position=position)
    model = GPT(cfg, vocab_size=300).eval()
    a = torch.randint(0, 300, (1, 16))
    b = a.clone()
    b[0, 10:] = (b[0, 10:] + 7) % 300
    with torch.no_grad():
        la, lb = model(a), model(b)
    assert torch.allclose(la[0, :10], lb[0, :10], atol=1e-5)
    assert not torch.allclose(la[0, 10:], lb[0, 10:], atol=1e-3)


def test_positions_matter():
    """A permuted context changes the logits (the model is not a bag of tokens)."""
    for position in ("rotary", "t5"):
        torch.manual_seed(0)
        cfg = ModelConfig(d_model=32, n_layers=1, n_heads=2, context_length=8, position=position,
                          init="t5")
        model = GPT(cfg, vocab_size=300).eval()
        x = torch.arange(8)[None] + 3
        with torch.no_grad():
            assert not torch.allclose(model(x)[0, -1], model(x.flip(1))[0, -1], atol=1e-4)


def test_t5_buckets_are_monotone_and_bounded():
    rel = -torch.arange(0, 1000)
    buckets = t5_bucket(rel, num_buckets=32, max_distance=128)
    assert buckets[0] == 0 and buckets.max() == 31
    assert torch.all(buckets[1:] >= buckets[:-1])
    assert torch.equal(buckets[:16], torch.arange(16))  # exact for small distances


def test_weight_decay_only_on_matrices():
    model = GPT(ModelConfig(d_model=32, n_heads=2, n_layers=2), vocab_size=300)
    decay, no_decay = model.param_groups(0.1)
    assert all(p.dim() == 2 for p in decay["params"]) and decay["weight_decay"] == 0.1
    assert all(p.dim() == 1 for p in no_decay["params"]) and no_decay["weight_decay"] == 0.0
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_t5_init_scales():
    cfg = ModelConfig(d_model=256, n_heads=4, n_layers=2, init="t5", tie_embeddings=False)
    model = GPT(cfg, vocab_size=2000)
    assert model.wte.weight.std().item() == pytest.approx(1.0, rel=0.05)
    assert model.blocks[0].mlp.proj.weight.std().item() == pytest.approx(1024 ** -0.5, rel=0.05)
    q = model.blocks[0].attn.qkv.weight[:256]
    assert q.std().item() == pytest.approx((256 * 64) ** -0.5, rel=0.05)


def test_context_too_long_is_an_error():
    model = GPT(ModelConfig(d_model=32, n_heads=2, context_length=8), vocab_size=300)
    with pytest.raises(ValueError, match="context_length"):
        model(torch.zeros(1, 9, dtype=torch.long))


def test_warmup_cosine_schedule():
    s = WarmupCosine(warmup_steps=10, total_steps=111, min_ratio=0.1)
    assert s(0) == pytest.approx(0.1) and s(9) == pytest.approx(1.0)
    assert s(10) == pytest.approx(1.0) and s(110) == pytest.approx(0.1)
    assert s(60) == pytest.approx(0.55)  # cosine midpoint
    values = [s(i) for i in range(10, 111)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_peak_flops_table():
    assert peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert peak_flops("NVIDIA H100 PCIe") == 756e12
    assert peak_flops("NVIDIA A100-SXM4-80GB") == 312e12
    assert peak_flops("NVIDIA A10") == 125e12
    assert peak_flops("Some CPU") is None
    assert peak_flops("NVIDIA H200") == 989e12
    assert peak_flops("NVIDIA H200 NVL") == 835e12  # not the SXM part's peak
    assert peak_flops("NVIDIA L40") == 181e12  # not the L4's
    assert peak_flops("NVIDIA L40S") == 362e12 and peak_flops("NVIDIA L4") == 121e12
