"""Tokenizer round trip and cache; corpora, deterministic split, packing; the C4 streaming code
path on local JSON.gz shards with C4's schema."""
from __future__ import annotations

import gzip
import json
import os

import pytest
import torch

from recipes.lm import to_lm_config
from recipes.lm.data import (
    PackedDataset,
    StreamingPackedDataset,
    build_data,
    is_validation,
    kjv_documents,
    pack_sequences,
    text_file_documents,
)
from recipes.lm.tokenizer import Tokenizer, load_or_train_tokenizer, train_tokenizer

# Composer loads (~6 s) only in the xdist worker that runs the in-process training tests
pytestmark = pytest.mark.xdist_group("composer")

TEXT = ["In the beginning God created the heaven and the earth.",
        "And the earth was without form, and void; and darkness was upon the face of the deep."]


def test_tokenizer_train_load_round_trip(tmp_path):
    docs = kjv_documents()[:40]
    path = train_tokenizer(docs, 500, tmp_path / "tok.model")
    tok = Tokenizer(path)
    assert tok.vocab_size == 500 and tok.eos_id == 2
    for text in TEXT:
        ids = tok.encode([text])[0]
        assert len(ids) < len(text) / 2  # BPE merges, not characters
        assert tok.decode(ids) == text
    # Unseen characters survive through byte fallback.
    assert tok.decode(tok.encode(["Zürich ∑ 東京"])[0]) == "Zürich ∑ 東京"


def test_tokenizer_cache_by_corpus_and_vocab(tmp_path):
    docs = kjv_documents()[:30]
    a = load_or_train_tokenizer(docs, 400, cache_dir=tmp_path)
    mtime = os.path.getmtime(a.path)
    b = load_or_train_tokenizer(docs, 400, cache_dir=tmp_path)
    assert b.path == a.path and os.path.getmtime(b.path) == mtime  # reused, not retrained
    c = load_or_train_tokenizer(docs, 450, cache_dir=tmp_path)
    d = load_or_train_tokenizer(docs[:20], 400, cache_dir=tmp_path)
    assert len({a.path, c.path, d.path}) == 3
    given = load_or_train_tokenizer([], 999, path=str(a.path))  # a given .model is loaded as is
    assert given.vocab_size == 400
    with pytest.raises(FileNotFoundError, match="data.tokenizer"):
        Tokenizer(tmp_path / "missing.model")


def test_kjv_corpus():
    docs = kjv_documents()
    assert len(docs) == 1189  # chapters
    assert docs[0].startswith("In the beginning God created")
    assert 3.5e6 < sum(map(len, docs)) < 4.5e6


def test_split_is_deterministic_and_disjoint():
    docs = kjv_documents()
    val = [d for d in docs if is_validation(d, 0.05, seed=1)]
    assert val == [d for d in docs if is_validation(d, 0.05, seed=1)]
    assert 0.02 * len(docs) < len(val) < 0.09 * len(docs)
    assert val != [d for d in docs if is_validation(d, 0.05, seed=2)]


def test_packing():
    seqs = list(pack_sequences([[1, 2, 3], [4, 5], [6, 7, 8, 9]], 4, eos_id=0))
    assert seqs == [[1, 2, 3, 0], [4, 5, 0, 6], [7, 8, 9, 0]]


def test_text_files(tmp_path, lm_cache):
    (tmp_path / "a.txt").write_text("\n\n".join(kjv_documents()[:200]), encoding="utf-8")
    with gzip.open(tmp_path / "b.jsonl.gz", "wt", encoding="utf-8") as f:
        for doc in kjv_documents()[200:260]:
            f.write(json.dumps({"text": doc}) + "\n")
    docs = list(text_file_documents([str(tmp_path / "*.txt"), str(tmp_path / "b.jsonl.gz")]))
    assert len(docs) == 260
    cfg = to_lm_config({"model": {"context_length": 32}, "data": {
        "name": "text_files", "paths": [str(tmp_path / "*")], "vocab_size": 400,
        "val_tokens": 256, "val_fraction": 0.1, "cache_dir": lm_cache}})
    data = build_data(cfg)
    assert isinstance(data.train, PackedDataset) and data.val.shape == (8, 33)
    with pytest.raises(FileNotFoundError, match="data.paths"):
        list(text_file_documents([str(tmp_path / "nothing*.txt")]))


def _write_c4_shard(path, docs):
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for i, doc in enumerate(docs):
            f.write(json.dumps({"text": doc, "timestamp": "2019-04-25T12:57:54Z",
                                "url": f"https://example.com/{i}"}) + "\n")


@pytest.fixture
def c4_shards(tmp_path):
    docs = kjv_documents()
    train = [tmp_path / "c4-train.00000-of-00002.json.gz", tmp_path / "c4-train.00001-of-00002.json.gz"]
    _write_c4_shard(train[0], docs[:150])
    _write_c4_shard(train[1], docs[150:300])
    val = tmp_path / "c4-validation.00000-of-00001.json.gz"
    _write_c4_shard(val, docs[1100:1130])
    return [str(p) for p in train], [str(val)]


def test_c4_streaming_path_on_local_shards(c4_shards, lm_cache):
    train_files, val_files = c4_shards
    cfg = to_lm_config({"model": {"context_length": 32}, "data": {
        "name": "c4", "paths": train_files, "val_paths": val_files, "vocab_size": 400,
        "val_tokens": 320, "shuffle_buffer": 50, "cache_dir": lm_cache}})
    data = build_data(cfg)
    assert isinstance(data.train, StreamingPackedDataset)
    assert data.val.shape == (10, 33)
    # the validation set comes from the validation shard, verbatim at its start
    first_val_doc = kjv_documents()[1100]
    assert data.tokenizer.decode(data.val[0, :20].tolist()) in first_val_doc
    seqs = list(iter(data.train))
    assert all(s.shape == (33,) and s.dtype == torch.long for s in seqs)
    n_tokens = sum(len(t) + 1 for t in data.tokenizer.encode(kjv_documents()[:300]))
    assert len(seqs) == n_tokens // 33  # every document streamed and packed once
    data.train.set_epoch(1)  # a new epoch reshuffles the stream
    again = list(iter(data.train))
    assert len(again) == len(seqs) and not torch.equal(torch.stack(seqs), torch.stack(again))


def test_c4_local_shards_without_validation_files_use_the_hash_split(c4_shards, lm_cache):
    cfg = to_lm_config({"model": {"context_length": 32}, "data": {
        "name": "c4", "paths": c4_shards[0], "vocab_size": 400, "val_fraction": 0.1,
        "val_tokens": 320, "cache_dir": lm_cache}})
    data = build_data(cfg)
    val_text = data.tokenizer.decode(data.val.flatten().tolist())
    train_text = data.tokenizer.decode(torch.cat(list(iter(data.train))).tolist())
    held_out = [d for d in kjv_documents()[:300] if is_validation(d, 0.1, cfg.data.seed)]
    assert held_out and held_out[0][:50] in val_text
    assert all(" ".join(d.split()) not in train_text for d in held_out)


class _Documents(StreamingPackedDataset):
    """The documents one rank's DataLoader workers read (not packed, so each can be counted)."""

    def __iter__(self):
        yield from self.documents()


@pytest.mark.parametrize("n_shards", [4, 3])  # whole shards per rank; every 2nd document
def test_c4_stream_on_two_ranks_with_two_workers_each_reads_every_document_once(
        tmp_path, lm_cache, n_shards):
    from torch.utils.data import DataLoader

    docs = [f"document {i}: {text[:300]}" for i, text in enumerate(kjv_documents()[:120])]
    files = []
    for k in range(n_shards):
        files.append(str(tmp_path / f"c4-train.{k:05d}-of-{n_shards:05d}.json.gz"))
        _write_c4_shard(files[-1], docs[k::n_shards])
    cfg = to_lm_config({"model": {"context_length": 32}, "data": {
        "name": "c4", "paths": files, "val_paths": files[:1], "vocab_size": 400,
        "val_tokens": 64, "shuffle_buffer": 16, "cache_dir": lm_cache}})
    tok = load_or_train_tokenizer(docs, 400, cache_dir=lm_cache)
    read = []
    for rank in (0, 1):
        ranks_docs = list(DataLoader(_Documents(cfg, tok, False, rank=rank, world_size=2),
                                     batch_size=None, num_workers=2))
        assert 0 < len(ranks_docs) < len(docs)
        read += ranks_docs
    assert sorted(read) == sorted(docs)  # nothing lost, nothing read twice


def test_training_on_local_c4_shards(c4_shards, tiny_cfg):
    from recipes.lm import train

    train_files, val_files = c4_shards
    result = train(tiny_cfg(data={"name": "c4", "paths": train_files, "val_paths": val_files,
                                  "shuffle_buffer": 50},
                            train={"tokens": 64 * 16 * 4}))
    assert result["status"] == "ok" and result["metric.steps"] == 4
    assert result["output"] < 6.3  # ln(512) = 6.24 at init; it has started learning
