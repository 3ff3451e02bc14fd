"""Shared fixtures of the LM recipe tests: a session tokenizer cache and a tiny config factory."""
from __future__ import annotations

import copy

import pytest


@pytest.fixture(scope="session")
def lm_cache(tmp_path_factory) -> str:
    """Tokenizer cache shared by the LM tests (never the user's ~/.cache)."""
    return str(tmp_path_factory.mktemp("tays_cache"))


@pytest.fixture
def tiny_cfg(lm_cache):
    """Factory of a tiny, fast config dict (KJV excerpt, 512-token vocab, 2x64 model)."""

    def make(**sections):
        cfg = {
            "model": {"d_model": 64, "n_layers": 2, "n_heads": 2, "context_length": 64},
            "data": {"name": "kjv", "max_bytes": 400_000, "vocab_size": 512,
                     "val_fraction": 0.05, "val_tokens": 2048, "cache_dir": lm_cache},
            "train": {"tokens": 64 * 16 * 40, "batch_tokens": 64 * 16, "lr": 3e-3,
                      "warmup_fraction": 0.1},
            "logger": {"console": False},
        }
        for name, values in sections.items():
            cfg[name] = {**cfg[name], **values}
        return copy.deepcopy(cfg)

    return make
