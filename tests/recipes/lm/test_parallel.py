"""The GPU and multi-GPU paths' decisions, checked on the CPU: which device each rank builds its
model on, the micro-batch defaults (training and validation), FSDP's wrap policy and mixed
precision, compilation and flash-attention checks. (What only a GPU can show, e.g. the
micro-batch Composer finds, is measured by ``benchmarks/gpu_check.py``; the checkpoint repair
on two real ranks is in ``test_cli.py``.)"""
from __future__ import annotations

import pytest
import torch

from recipes.lm import GPT, to_lm_config
from recipes.lm.data import LMData, PackedDataset
from recipes.lm.model import Block
from recipes.lm.training import (
    fsdp_parallelism,
    model_device,
    per_rank_batch,
    resolved_compile,
    val_evaluator,
)

# imports Composer: beside the other tests that do
pytestmark = pytest.mark.xdist_group("composer")


def _cfg(**train):
    return to_lm_config({"model": {"d_model": 64, "n_layers": 3, "n_heads": 2,
                                   "context_length": 64},
                         "train": {"batch_tokens": 64 * 32, **train}})


def test_each_rank_builds_its_model_on_its_own_gpu(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "5")  # what `composer -n 8` sets for the sixth process
    assert model_device("gpu") == torch.device("cuda", 5)
    assert model_device("cpu") == torch.device("cpu")


def test_a_gpu_run_searches_its_micro_batch_unless_one_is_set():
    assert per_rank_batch(_cfg(), "gpu") == (32, "auto")  # Composer halves it on CUDA OOM
    assert per_rank_batch(_cfg(), "cpu") == (32, 32)  # the search needs CUDA
    set_ = _cfg(microbatch_tokens=64 * 8)
    assert per_rank_batch(set_, "gpu") == (32, 8) == per_rank_batch(set_, "cpu")


def test_validation_runs_in_the_training_micro_batches():
    g = torch.Generator().manual_seed(0)
    data = LMData(tokenizer=None, vocab_size=50,
                  train=PackedDataset(torch.randint(0, 50, (64, 65), generator=g)),
                  val=torch.randint(0, 50, (40, 65), generator=g))
    cfg = _cfg()
    assert val_evaluator(cfg, data, 32, 8).device_eval_microbatch_size == 8
    auto = val_evaluator(cfg, data, 32, "auto")
    assert auto.auto_microbatching and auto.dataloader.dataloader.batch_size == 32


def test_fsdp_shards_per_transformer_block_and_keeps_buffers_fp32():
    from composer.distributed.mosaic_parallelism import get_mixed_precision
    from composer.utils import FSDPConfig
    from torch.distributed.fsdp.wrap import CustomPolicy

    cfg = _cfg(fsdp=True)
    assert fsdp_parallelism(cfg, "gpu", "amp_bf16", world_size=1) is None  # one process
    assert fsdp_parallelism(_cfg(), "gpu", "amp_bf16", world_size=8) is None  # DDP
    fsdp = FSDPConfig(**fsdp_parallelism(cfg, "gpu", "amp_bf16", world_size=8)["fsdp"])
    _, param, reduce, buffer = get_mixed_precision("amp_bf16", fsdp.mixed_precision)
    assert (param, reduce, buffer) == (torch.bfloat16, torch.float32, torch.float32)
    assert fsdp.use_orig_params and fsdp.auto_wrap and fsdp.sharding_strategy == "FULL_SHARD"

    # the policy Composer builds from the model's fsdp_wrap_fn, run as FSDP runs it
    gpt = GPT(cfg.model, 100)
    units = CustomPolicy(gpt.fsdp_wrap_fn)._run_policy(gpt, set(), {})
    assert [m for m in units if m is not gpt] == list(gpt.blocks)
    assert all(isinstance(m, Block) for m in gpt.blocks) and len(gpt.blocks) == 3
    assert gpt.rope_cos.dtype == torch.float32  # the buffer FSDP must not cast


def test_fsdp_on_cpus_is_refused():
    with pytest.raises(ValueError, match="train.fsdp: FSDP shards over GPUs"):
        fsdp_parallelism(_cfg(fsdp=True), "cpu", "fp32", world_size=2)


def test_compile_defaults_to_gpu_runs_only():
    assert resolved_compile(_cfg(), "gpu") and not resolved_compile(_cfg(), "cpu")
    assert not resolved_compile(_cfg(compile=False), "gpu")
    assert resolved_compile(_cfg(compile=True), "cpu")


@pytest.mark.parametrize(("model", "words"), [
    ({"d_model": 64, "n_heads": 2}, None),  # head width 32
    ({"d_model": 96, "n_heads": 8}, "head width 12"),
    ({"d_model": 1024, "n_heads": 2}, "head width 512"),
    ({"d_model": 64, "n_heads": 2, "position": "t5"}, "position=t5"),
])
def test_the_config_says_when_flash_attention_is_lost(model, words):
    why = to_lm_config({"model": model}).model.flash_attention_problem()
    assert why is None if words is None else words in why
