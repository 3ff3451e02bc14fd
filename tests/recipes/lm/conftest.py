"""Shared fixtures of the LM recipe tests: a session tokenizer cache and a tiny config factory."""
from __future__ import annotations

import copy
import zipfile
from pathlib import Path

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


def _truncate(path: Path) -> None:
    """A run killed while writing the checkpoint: the file ends half way."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _drop_last_record(path: Path) -> None:
    """A write interrupted after the zip directory was flushed: a whole-looking archive that
    lacks a tensor record (torch.load: "failed locating file")."""
    with zipfile.ZipFile(path) as src:
        entries = [(info, src.read(info)) for info in src.infolist()]
    records = [info.filename for info, _ in entries if "/data/" in info.filename]
    last = max(records, key=lambda name: int(name.rsplit("/", 1)[1]))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as dst:
        for info, blob in entries:
            if info.filename != last:
                dst.writestr(info, blob)


@pytest.fixture(scope="session")
def damage_checkpoint():
    """Ways a killed run leaves its last checkpoint: ``truncate`` (caught before loading) and
    ``drop_last_record`` (caught only when Composer loads it)."""
    return {"truncate": _truncate, "drop_last_record": _drop_last_record}
