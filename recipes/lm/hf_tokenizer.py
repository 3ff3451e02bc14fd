"""Hugging Face tokenizers for the LM recipe: ``data.tokenizer=hf:<hub id or directory>``.

A hub id (``hf:t5-small``, ``hf:gpt2``) is read from the Hugging Face cache first, so a
pre-fetched tokenizer works without network; it is downloaded when it is not there. When neither
works, the error is one line naming the model, the cache directory and how to pre-fetch it. A
directory is a saved tokenizer (``tokenizer.save_pretrained(dir)``): it needs no network.

:class:`HFTokenizer` has the interface of :class:`recipes.lm.tokenizer.Tokenizer` (batched
``encode``, ``decode``, ``vocab_size``, ``eos_id``) over a fast (Rust) tokenizer;
:func:`sentencepiece_as_hf` turns the recipe's own SentencePiece model into an equivalent Hugging
Face tokenizer, for checkpoints exported with their tokenizer.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["HF_PREFIX", "HFTokenizer", "load_hf_tokenizer", "sentencepiece_as_hf"]

log = logging.getLogger(__name__)

HF_PREFIX = "hf:"
# what AutoTokenizer can build a tokenizer from (besides tokenizer.json)
_VOCABULARY_FILES = ("tokenizer.model", "spiece.model", "sentencepiece.bpe.model", "vocab.json",
                     "vocab.txt", "tokenizer.tiktoken")


class HFTokenizer:
    """A ``transformers`` tokenizer with the recipe's tokenizer interface.

    Args:
        hf: the loaded ``PreTrainedTokenizerBase``.
        source: what ``data.tokenizer`` named (shown in logs and errors).
    """

    def __init__(self, hf: Any, source: str):
        self.hf, self.source, self.path = hf, source, source
        eos = hf.eos_token_id
        if eos is None:  # e.g. BERT-style vocabularies: documents are joined with id 0, as the
            log.warning("tokenizer %s has no EOS token: documents are joined with id 0", source)
        self.eos_id = 0 if eos is None else int(eos)

    @property
    def vocab_size(self) -> int:
        """Every id the tokenizer can produce, added special tokens included (``len(hf)``;
        T5's 100 sentinel tokens are beyond its ``vocab_size`` of 32,000)."""
        return len(self.hf)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, no special tokens added (one batched call)."""
        return self.hf(list(texts), add_special_tokens=False, return_attention_mask=False,
                       verbose=False)["input_ids"]

    def decode(self, ids: Sequence[int]) -> str:
        return self.hf.decode(list(ids))

    def save(self, directory: str | os.PathLike) -> None:
        """``save_pretrained`` into ``directory``."""
        self.hf.save_pretrained(str(directory))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".strip()


def _from_directory(directory: Path, spec: str) -> Any:
    from transformers import AutoTokenizer

    if not directory.is_dir():
        raise FileNotFoundError(f"data.tokenizer={spec}: {directory} is not a directory; give a "
                                "saved tokenizer's directory or a Hugging Face hub id")
    names = {p.name for p in directory.iterdir()}
    if "tokenizer.json" not in names and not names & set(_VOCABULARY_FILES):
        raise ValueError(
            f"data.tokenizer={spec}: {directory} holds no tokenizer files (tokenizer.json, or "
            "tokenizer_config.json with a vocabulary such as spiece.model or vocab.json + "
            "merges.txt); write them with tokenizer.save_pretrained(directory)")
    try:
        return AutoTokenizer.from_pretrained(str(directory), use_fast=True)
    except Exception as exc:  # any loading error: one line naming the field
        raise ValueError(f"data.tokenizer={spec}: transformers cannot load the tokenizer in "
                         f"{directory} ({_one_line(exc)}); save it again with "
                         "tokenizer.save_pretrained(directory)") from exc


def _hub_unreachable(endpoint: str) -> str | None:
    """Why the hub cannot be reached (None: it answers), found in seconds: the download client
    retries a missing network for about a minute before it gives up."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(endpoint)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=5):
            return None
    except OSError as exc:
        return f"{url.hostname} unreachable: {_one_line(exc)}"


def _from_hub(name: str, spec: str) -> Any:
    from huggingface_hub import constants
    from transformers import AutoTokenizer

    try:  # a pre-fetched tokenizer: no network, no waiting for one
        return AutoTokenizer.from_pretrained(name, use_fast=True, local_files_only=True)
    except Exception as cached_error:  # noqa: BLE001
        error: BaseException | str = cached_error
    if constants.HF_HUB_OFFLINE:
        error = "HF_HUB_OFFLINE is set"
    elif (why := _hub_unreachable(constants.ENDPOINT)) is not None:
        error = why
    else:
        try:
            return AutoTokenizer.from_pretrained(name, use_fast=True)
        except Exception as exc:  # noqa: BLE001
            error = exc
    reason = error if isinstance(error, str) else _one_line(error)
    raise ValueError(
        f"data.tokenizer={spec}: the Hugging Face tokenizer {name!r} is not in the cache "
        f"{constants.HF_HUB_CACHE} and could not be downloaded ({reason}); pre-fetch it where "
        "there is network with python -c \"from transformers import AutoTokenizer; "
        f"AutoTokenizer.from_pretrained('{name}')\" (the same HF_HOME), or save it to a "
        "directory and give data.tokenizer=hf:<directory>") from None


def load_hf_tokenizer(spec: str) -> HFTokenizer:
    """The tokenizer ``data.tokenizer`` names as ``hf:<hub id or directory>``: a directory when
    the path exists (or is written as one: ``/``, ``./``, ``~``), else a hub id."""
    target = spec.removeprefix(HF_PREFIX).strip()
    if not target:
        raise ValueError(f"data.tokenizer={spec!r}: name a tokenizer after hf:, e.g. hf:t5-small "
                         "or hf:/path/to/saved_tokenizer")
    path = Path(os.path.expanduser(target))
    if path.exists() or target.startswith(("/", ".", "~")):
        hf = _from_directory(path, spec)
    else:
        hf = _from_hub(target, spec)
    if not getattr(hf, "is_fast", False):
        log.warning("tokenizer %s has no fast (Rust) version: encoding the corpus will be slow",
                    spec)
    tok = HFTokenizer(hf, spec)
    log.info("loaded Hugging Face tokenizer %s (%s, %d tokens, EOS id %d)", spec,
             type(hf).__name__, tok.vocab_size, tok.eos_id)
    return tok


def sentencepiece_as_hf(model_file: str | os.PathLike) -> Any:
    """A Hugging Face fast tokenizer equivalent to a SentencePiece model: the same ids for the
    same text (its normaliser, whitespace handling, BPE merges by piece score and byte
    fallback), EOS ``</s>`` and ``<unk>`` as its special tokens, which text cannot produce
    (SentencePiece encodes a literal ``</s>`` in text as ordinary pieces too)."""
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import SentencePieceExtractor, SpmConverter

    extractor = SentencePieceExtractor(str(model_file))
    vocab = extractor.extract(None)["vocab"]
    backend = SpmConverter.build_tokenizer_from_spm_proto(proto=extractor.proto, vocab=vocab,
                                                          legacy=True)
    pieces = {p.piece for p in extractor.proto.pieces}
    special = {k: v for k, v in (("eos_token", "</s>"), ("unk_token", "<unk>")) if v in pieces}
    return PreTrainedTokenizerFast(tokenizer_object=backend, split_special_tokens=True,
                                   **special)
