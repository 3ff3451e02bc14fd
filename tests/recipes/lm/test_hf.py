"""Hugging Face ``transformers`` in the LM recipe: ``hf:`` tokenizers (a local directory made here
from the shipped corpus; no download), ``model.impl=hf`` Llama and GPT-2 models trained by
Composer with FLOPs and parameters counted per architecture, Hugging Face checkpoints out (the
native model as GPT-NeoX) that reproduce the recipe's validation loss, the ``lm_tiny_hf`` sweep,
and bad input refused before training with one line naming the field."""
from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from recipes import lm
from recipes.lm import ModelConfig, count_params, flops_per_token, to_lm_config
from recipes.lm.data import build_data, kjv_documents

# Composer loads (~6 s) only in the xdist worker that runs the in-process training tests
pytestmark = pytest.mark.xdist_group("composer")

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    """A GPT-2-style byte-level BPE tokenizer (512 tokens) trained here on the KJV corpus with
    ``tokenizers`` and saved as ``transformers`` saves one."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(kjv_documents()[:200], trainers.BpeTrainer(
        vocab_size=512, special_tokens=["<|endoftext|>"], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    directory = tmp_path_factory.mktemp("hf_tokenizer")
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>").save_pretrained(
        str(directory))
    return directory


def _val_loss(model, val: torch.Tensor) -> float:
    """Mean next-token cross-entropy of a ``transformers`` model on the recipe's validation
    batches (inputs ``[:, :-1]``, targets ``[:, 1:]``)."""
    with torch.no_grad():
        logits = model.eval()(input_ids=val[:, :-1]).logits
    return float(F.cross_entropy(logits.flatten(0, 1).float(), val[:, 1:].flatten()))


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
@pytest.mark.parametrize("tie", [True, False])
def test_params_and_flops_follow_the_architecture(arch, tie):
    from recipes.lm.hf_model import build_hf_model

    cfg = ModelConfig(impl="hf", arch=arch, d_model=48, n_layers=3, n_heads=4, mlp_ratio=2.5,
                      context_length=32, tie_embeddings=tie)
    model = build_hf_model(cfg, 300)
    counts = count_params(cfg, 300)
    assert counts["total"] == sum(p.numel() for p in model.parameters())  # tied counted once
    d, f, L, V, T = 48, 120, 3, 300, 32
    if arch == "llama":  # q, k, v, o; SwiGLU's gate, up and down; two RMSNorm gains; final norm
        n = L * (4 * d * d + 3 * d * f + 2 * d) + d
        assert counts["embedding"] == V * d * (1 if tie else 2)
    else:  # with biases; two LayerNorms (gain + bias) per block and a final one
        n = L * (4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d) + 2 * d
        assert counts["embedding"] == V * d * (1 if tie else 2) + T * d  # + learned positions
    assert counts["non_embedding"] == n
    assert flops_per_token(cfg, V) == 6 * (n + V * d) + 12 * L * T * d


def _cfg(tmp_path: Path, lm_cache: str, model: dict, **data) -> dict:
    return {"model": {"d_model": 64, "n_layers": 2, "n_heads": 2, "context_length": 64, **model},
            "data": {"name": "kjv", "max_bytes": 400_000, "vocab_size": 512,
                     "val_fraction": 0.05, "val_tokens": 2048, "cache_dir": lm_cache, **data},
            "train": {"tokens": 64 * 16 * 12, "batch_tokens": 64 * 16, "lr": 3e-3,
                      "export_hf": True, "hf_dir": str(tmp_path / "hf")},
            "logger": {"console": False}}


def test_hf_llama_with_an_hf_tokenizer_exports_a_checkpoint_that_reproduces_its_loss(
        tokenizer_dir, lm_cache, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = _cfg(tmp_path, lm_cache, {"impl": "hf", "arch": "llama"},
               tokenizer=f"hf:{tokenizer_dir}")
    result = lm.train(cfg)
    assert result["status"] == "ok", result
    data = build_data(to_lm_config(cfg))  # the same validation batches
    model = AutoModelForCausalLM.from_pretrained(str(tmp_path / "hf"))
    assert type(model).__name__ == "LlamaForCausalLM"
    assert result["metric.params"] == sum(p.numel() for p in model.parameters())
    assert result["metric.vocab_size"] == 512 and data.tokenizer.eos_id == 0
    assert abs(_val_loss(model, data.val) - result["output"]) < 1e-4
    saved = AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    for text in kjv_documents()[1000:1010]:
        assert saved(text, add_special_tokens=False)["input_ids"] == data.tokenizer.encode([text])[0]


@pytest.mark.parametrize("model", [{"tie_embeddings": False, "dropout": 0.1},
                                   {"impl": "hf", "arch": "gpt2"}])
def test_native_as_gpt_neox_and_hf_gpt2_exports_reproduce_their_loss(lm_cache, tmp_path, model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = _cfg(tmp_path, lm_cache, model)  # the recipe's own SentencePiece tokenizer
    result = lm.train(cfg)
    assert result["status"] == "ok", result
    data = build_data(to_lm_config(cfg))
    hf = AutoModelForCausalLM.from_pretrained(str(tmp_path / "hf"))
    expected = "GPT2LMHeadModel" if model.get("arch") == "gpt2" else "GPTNeoXForCausalLM"
    assert type(hf).__name__ == expected
    assert abs(_val_loss(hf, data.val) - result["output"]) < 1e-4
    saved = AutoTokenizer.from_pretrained(str(tmp_path / "hf"))  # SentencePiece, converted
    for text in [*kjv_documents()[1000:1010], "  spaced  </s> <unk> Zürich"]:
        assert saved(text, add_special_tokens=False)["input_ids"] == data.tokenizer.encode([text])[0]


def test_native_to_gpt_neox_mapping_is_exact_for_a_tied_model():
    from recipes.lm.export import native_as_gpt_neox

    cfg = ModelConfig(d_model=48, n_layers=2, n_heads=3, context_length=32, mlp_ratio=3.0)
    torch.manual_seed(0)
    native = lm.GPT(cfg, 200).eval()
    with torch.no_grad():
        for p in native.parameters():  # gains off 1, so a swapped norm would show
            p.add_(0.1 * torch.randn_like(p))
    neox = native_as_gpt_neox(cfg, 200, native.state_dict()).eval()
    x = torch.randint(0, 200, (3, 32))
    with torch.no_grad():
        assert torch.allclose(neox(input_ids=x).logits, native(x), atol=1e-5)


def test_lm_tiny_hf_sweep_trains_llama_trials_and_exports_each(lm_cache, tmp_path, monkeypatch):
    """Three trials of conf/sweep/lm_tiny_hf.yaml (shrunk) through the CARBS sweeper, in this
    process as ``python -m recipes.lm --multirun +sweep=lm_tiny_hf`` runs them."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import run_and_report
    from hydra.core.global_hydra import GlobalHydra

    from carbs import load_trials
    from recipes.lm import __main__ as cli

    sweep_dir = tmp_path / "sweep"
    overrides = ["+sweep=lm_tiny_hf", f"hydra.sweep.dir={sweep_dir}",
                 "hydra.sweeper.max_trials=3", "model.context_length=32",
                 "train.batch_tokens=1024", "train.stop_after_batches=3",
                 "data.max_bytes=300000", "data.vocab_size=512", "data.val_tokens=1024",
                 f"data.cache_dir={lm_cache}"]
    root, err = logging.getLogger(), io.StringIO()
    handlers, level = root.handlers[:], root.level
    monkeypatch.chdir(tmp_path)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            hydra = Hydra.create_main_hydra_file_or_module(
                calling_file=cli.__file__, calling_module=None, config_path=cli.CONF_DIR,
                job_name="lm")
            run_and_report(lambda: hydra.multirun(config_name="lm", overrides=overrides,
                                                  task_function=cli._task,
                                                  with_log_configuration=True))
    finally:
        GlobalHydra.instance().clear()
        for handler in set(root.handlers) - set(handlers):
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
    trials = load_trials(sweep_dir)
    assert len(trials) == 3 and (trials["status"] == "ok").all(), err.getvalue()[-3000:]
    for _, row in trials.iterrows():
        model = ModelConfig(impl="hf", arch="llama", d_model=int(row["param.model.d_model"]),
                            n_layers=int(row["param.model.n_layers"]), head_dim=32,
                            mlp_ratio=8 / 3, context_length=32)
        assert row["metric.params"] == count_params(model, 512)["total"]
        assert row["metric.flops"] == flops_per_token(model, 512) * row["metric.tokens"]
    exported = sorted(sweep_dir.glob("*/hf/config.json"))
    assert len(exported) == 3
    assert {json.loads(p.read_text())["model_type"] for p in exported} == {"llama"}


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(("model", "field", "words"), [
    ({"impl": "jax"}, "model.impl", "['native', 'hf']"),
    ({"impl": "hf", "arch": "mamba"}, "model.arch", "['llama', 'gpt2']"),
    ({"impl": "hf", "d_model": 100, "n_heads": 3}, "model.n_heads", "divides d_model"),
    ({"impl": "hf", "position": "t5"}, "model.position", "impl=native"),
    ({"impl": "hf", "init": "t5"}, "model.init", "impl=native"),
    ({"position": "t5"}, "model.position", "train.export_hf=false"),  # export asked for
])
def test_a_model_hf_cannot_express_is_refused_naming_the_field(lm_cache, tmp_path, model, field,
                                                               words):
    result = lm.train(_cfg(tmp_path, lm_cache, model))
    assert result["status"] == "failed" and result["cost"] == 0.0
    assert f"ValueError: {field}" in result["error"] and words in result["error"], result
    assert "\n" not in result["error"]


def test_a_vocabulary_smaller_than_the_tokenizer_is_refused(tokenizer_dir, lm_cache, tmp_path):
    result = lm.train(_cfg(tmp_path, lm_cache, {"impl": "hf", "vocab_size": 300},
                           tokenizer=f"hf:{tokenizer_dir}"))
    assert result["status"] == "failed" and result["cost"] == 0.0
    assert "model.vocab_size=300 is smaller than the tokenizer's 512 tokens" in result["error"]
    assert "set model.vocab_size >= 512 or leave it null" in result["error"]


def test_a_tokenizer_directory_without_its_files_is_refused(lm_cache, tmp_path):
    empty = tmp_path / "tok"
    empty.mkdir()
    (empty / "tokenizer_config.json").write_text("{}")
    result = lm.train(_cfg(tmp_path, lm_cache, {"impl": "hf"}, tokenizer=f"hf:{empty}"))
    assert result["status"] == "failed" and result["cost"] == 0.0
    assert f"data.tokenizer=hf:{empty}: {empty} holds no tokenizer files" in result["error"]
    assert "save_pretrained" in result["error"]


def test_a_hub_tokenizer_without_network_fails_naming_model_cache_and_prefetch(
        lm_cache, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # as HF_HUB_OFFLINE=1 sets it
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))  # an empty cache
    result = lm.train(_cfg(tmp_path, lm_cache, {}, tokenizer="hf:t5-small"))
    assert result["status"] == "failed" and result["cost"] == 0.0
    error = result["error"]
    assert "data.tokenizer=hf:t5-small" in error and "'t5-small'" in error
    assert str(tmp_path / "hub") in error and "pre-fetch" in error
    assert "AutoTokenizer.from_pretrained('t5-small')" in error and "\n" not in error


def test_export_needs_a_directory_outside_hydra(lm_cache, tmp_path):
    cfg = _cfg(tmp_path, lm_cache, {})
    cfg["train"]["hf_dir"] = None
    result = lm.train(cfg)
    assert result["status"] == "failed" and "train.hf_dir" in result["error"]
    assert math.isnan(result["output"]) and not os.path.exists(tmp_path / "hf")
