"""Training through composer.Trainer: learning, result contract, divergence, resume."""
from __future__ import annotations

import math

import pytest
import torch

from recipes import lm
from recipes.lm import build_data, to_lm_config

# Composer loads (~6 s) only in the xdist worker that runs the in-process training tests
pytestmark = pytest.mark.xdist_group("composer")


def _unigram_entropy(tokens: torch.Tensor) -> float:
    """Entropy (nats) of the corpus' unigram token distribution: the loss of the best model
    that ignores context."""
    counts = torch.bincount(tokens.flatten()).double()
    p = counts[counts > 0] / counts.sum()
    return float(-(p * p.log()).sum())


def test_tiny_model_learns_below_unigram_entropy(tiny_cfg):
    cfg = tiny_cfg(train={"tokens": 64 * 16 * 120, "lr": 1e-2})
    history = lm.LossHistory()
    result = lm.train(cfg, callbacks=[history])
    data = build_data(to_lm_config(cfg))
    unigram = _unigram_entropy(data.train.sequences)
    assert result["status"] == "ok", result
    # Context helps a lot: far below the unigram entropy (and below the loss at init, ~ln V).
    assert result["output"] < unigram - 0.8, (result["output"], unigram)
    assert history.losses[0][1] == pytest.approx(math.log(512), abs=0.3)
    assert len(history.losses) == 120
    # the result contract
    for key in ("metric.params", "metric.params_non_embedding", "metric.tokens", "metric.flops",
                "metric.wall_seconds", "metric.tokens_per_second", "metric.mfu"):
        assert key in result
    assert result["metric.tokens"] == 120 * 64 * 16
    assert result["cost"] == result["metric.flops"] == result["metric.flops_per_token"] * 120 * 1024
    assert math.isnan(result["metric.mfu"])  # CPU: no peak FLOPs to compare with
    assert math.isnan(result["metric.mfu_steady"]) and result["metric.tokens_per_second_steady"] > 0
    assert result["metric.microbatch_size"] == 16  # a CPU run: the whole batch at once


def test_cost_metric_and_t5_positions(tiny_cfg):
    result = lm.train(tiny_cfg(model={"position": "t5", "init": "t5", "tie_embeddings": False},
                            train={"tokens": 64 * 16 * 5, "cost_metric": "tokens",
                                   "eval_interval": 2}))
    assert result["status"] == "ok" and math.isfinite(result["output"])
    assert result["cost"] == 5 * 1024


def test_divergent_learning_rate_is_a_failure_result(tiny_cfg):
    result = lm.train(tiny_cfg(train={"lr": 1e6, "warmup_fraction": 0.0, "grad_clip": None}))
    assert result["status"] == "failed" and math.isnan(result["output"])
    assert "diverged" in result["error"]
    assert 0 < result["cost"] < 40 * 1024 * result["metric.flops_per_token"]  # spent, stopped early


def test_an_error_inside_training_is_a_failure_result(tiny_cfg):
    # a batch larger than the whole training split fails while setting up the Trainer
    result = lm.train(tiny_cfg(train={"batch_tokens": 64 * 20_000}))
    assert result["status"] == "failed" and "train.batch_tokens" in result["error"]
    assert result["cost"] == 0.0


def test_resume_from_checkpoint_continues_the_same_trajectory(tiny_cfg, tmp_path):
    """Uninterrupted vs stopped at half + resumed: identical per-step losses (with dropout, so
    RNG state and data position must both be restored)."""
    base = {"tokens": 64 * 16 * 12, "lr": 3e-3, "seed": 3}
    full = lm.LossHistory()
    r_full = lm.train(tiny_cfg(model={"dropout": 0.1}, train=base), callbacks=[full])

    first, second = lm.LossHistory(), lm.LossHistory()
    ckpt = tmp_path / "ckpt"
    r1 = lm.train(tiny_cfg(model={"dropout": 0.1}, train={
        **base, "save_folder": str(ckpt), "save_interval": "6ba", "stop_after_batches": 6}),
        callbacks=[first])
    assert r1["status"] == "ok" and r1["metric.steps"] == 6
    saved = sorted(p.name for p in ckpt.iterdir())
    assert "ep0-ba6-rank0.pt" in saved
    r2 = lm.train(tiny_cfg(model={"dropout": 0.1}, train={
        **base, "load_path": str(ckpt / "ep0-ba6-rank0.pt")}), callbacks=[second])
    # the result counts the whole run, not only the steps after the resume
    assert r2["status"] == "ok" and r2["metric.resumed_from_step"] == 6
    for key in ("metric.steps", "metric.tokens", "metric.flops", "cost"):
        assert r2[key] == r_full[key], key
    assert r2["metric.wall_seconds"] > r2["metric.resumed_wall_seconds"] > 0

    resumed = first.losses + second.losses
    assert [b for b, _ in resumed] == list(range(1, 13))
    assert [loss for _, loss in resumed] == pytest.approx([loss for _, loss in full.losses], abs=1e-5)
    assert r2["output"] == pytest.approx(r_full["output"], abs=1e-5)
