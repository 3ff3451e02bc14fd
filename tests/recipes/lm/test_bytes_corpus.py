"""Byte-level tokens (data.tokenizer=bytes) and the KJV + World English Bible corpus
(data=kjv_web): round trip, one document per chapter in both translations, a split that never
separates the two translations of a chapter."""
from __future__ import annotations

import pytest

from recipes.lm import to_lm_config
from recipes.lm.data import build_data, is_validation, kjv_web_documents, web_documents
from recipes.lm.tokenizer import ByteTokenizer, load_or_train_tokenizer


def test_byte_tokenizer_round_trip_and_eos():
    tok = load_or_train_tokenizer([], 4096, path="bytes")  # vocab_size ignored, nothing trained
    assert isinstance(tok, ByteTokenizer) and (tok.vocab_size, tok.eos_id) == (257, 256)
    text = "In the beginning, Zürich ∑ 東京"
    (ids,) = tok.encode([text])
    assert len(ids) == len(text.encode("utf-8")) and max(ids) < 256
    assert tok.decode([*ids, tok.eos_id]) == text


def test_web_and_kjv_web_documents():
    web = web_documents()
    assert len(web) == 1189 and not any("{" in d for d in web)  # translators' notes removed
    assert web[0].startswith("In the beginning God created the heavens and the earth.")
    docs = kjv_web_documents()
    assert len(docs) == 1189
    kjv_part, web_part = docs[0].split("\n\n")
    assert "the earth was without form, and void" in kjv_part  # KJV wording
    assert web_part == web[0] and "the earth was formless and empty" in web_part
    assert 7.5e6 < sum(len(d.encode("utf-8")) for d in docs) < 9e6  # about twice the KJV


def test_kjv_web_bytes_config_and_split():
    cfg = to_lm_config({"model": {"d_model": 32, "n_layers": 1, "n_heads": 1,
                                  "context_length": 64},
                        "data": {"name": "kjv_web", "tokenizer": "bytes", "vocab_size": 257,
                                 "max_bytes": 300_000, "val_fraction": 0.1, "val_tokens": 640}})
    data = build_data(cfg)
    assert data.vocab_size == 257 and data.val.shape == (10, 65)
    assert int(data.val.max()) <= 256 and int(data.train.sequences.max()) <= 256
    docs = kjv_web_documents()
    held_out = [d for d in docs if is_validation(d, 0.1, cfg.data.seed)]
    # both translations of a held-out chapter are held out together: they are one document
    assert held_out and all("\n\n" in d for d in held_out)
    with pytest.raises(ValueError, match="data.vocab_size.*data.tokenizer=bytes"):
        to_lm_config({"data": {"vocab_size": 257}})
