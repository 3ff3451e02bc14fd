"""Tokenizers: SentencePiece (load a ``.model`` file, or train a BPE model on the corpus and cache
it by (corpus hash, vocabulary size) so repeated runs and sweeps reuse it), or plain UTF-8 bytes
(``data.tokenizer=bytes``: 257 ids, nothing to train)."""
from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import sentencepiece as spm

from tays import atomic_path

__all__ = ["BYTES", "ByteTokenizer", "Tokenizer", "default_cache_dir", "load_or_train_tokenizer",
           "train_tokenizer"]

log = logging.getLogger(__name__)
_MAX_LINE_BYTES = 16384
BYTES = "bytes"
"""The ``data.tokenizer`` value that selects :class:`ByteTokenizer`."""


def default_cache_dir() -> Path:
    """``$TAYS_CACHE`` if set, else ``~/.cache/tune-as-you-scale``."""
    return Path(os.environ.get("TAYS_CACHE") or Path.home() / ".cache" / "tune-as-you-scale")


class Tokenizer:
    """A loaded SentencePiece model (``encode``/``decode``, ``vocab_size``, ``eos_id``)."""

    def __init__(self, path: str | os.PathLike):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"data.tokenizer: no SentencePiece model at {path}; give an "
                                    "existing .model file or leave data.tokenizer null to train one")
        self.path = path
        self.sp = spm.SentencePieceProcessor(model_file=str(path))
        eos = self.sp.eos_id()
        # A model without an EOS piece (eos_id -1) separates documents with id 0 (unk).
        self.eos_id = max(eos, 0)

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (no BOS/EOS added)."""
        return self.sp.encode(list(texts))

    def decode(self, ids: Sequence[int]) -> str:
        return self.sp.decode(list(ids))


class ByteTokenizer:
    """UTF-8 bytes as tokens: ids 0-255 are the bytes, 256 is EOS (``vocab_size`` 257).

    With so small a vocabulary the embedding is a few percent of a model's parameters, so
    small models are mostly transformer blocks (non-embedding parameters), as in large LMs.
    """

    vocab_size = 257
    eos_id = 256
    path = None

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """The UTF-8 bytes of each text (no EOS added)."""
        return [list(text.encode("utf-8")) for text in texts]

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids`` (EOS dropped, invalid UTF-8 replaced)."""
        return bytes(i for i in ids if 0 <= i < 256).decode("utf-8", "replace")


def _training_lines(texts: Iterable[str], max_bytes: int) -> tuple[list[str], str]:
    """Non-empty lines from ``texts`` up to ``max_bytes``, and the sha256 of what was taken."""
    digest, lines, total = hashlib.sha256(), [], 0
    for text in texts:
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            line = line.encode("utf-8")[:_MAX_LINE_BYTES].decode("utf-8", "ignore")
            lines.append(line)
            digest.update(line.encode("utf-8") + b"\n")
            total += len(line) + 1
            if total >= max_bytes:
                return lines, digest.hexdigest()
    return lines, digest.hexdigest()


def train_tokenizer(lines: Sequence[str], vocab_size: int, out_path: str | os.PathLike) -> Path:
    """Train a BPE SentencePiece model (byte fallback, EOS but no BOS piece) on ``lines`` and
    write it atomically to ``out_path``."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if not lines:
        raise ValueError("data: the corpus is empty, there is no text to train a tokenizer on")
    buf = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=buf, model_type="bpe",
            vocab_size=vocab_size, byte_fallback=True, character_coverage=0.9995,
            bos_id=-1, eos_id=2, unk_id=0, pad_id=-1, max_sentence_length=_MAX_LINE_BYTES,
            num_threads=1, minloglevel=2, train_extremely_large_corpus=False,
        )
    except RuntimeError as exc:
        raise ValueError(f"data.vocab_size={vocab_size}: SentencePiece could not train on this "
                         f"corpus ({exc}); try a smaller vocab_size") from exc
    with atomic_path(out_path) as tmp:  # concurrent ranks may race to write the same model
        tmp.write_bytes(buf.getvalue())
    return out_path


def load_or_train_tokenizer(texts: Iterable[str], vocab_size: int, *, path: str | None = None,
                            cache_dir: str | os.PathLike | None = None,
                            train_bytes: int = 5_000_000) -> Tokenizer | ByteTokenizer:
    """Load ``path`` if given (``"bytes"``: the :class:`ByteTokenizer`, ``vocab_size`` ignored;
    ``hf:<hub id or directory>``: a Hugging Face tokenizer, :mod:`recipes.lm.hf_tokenizer`); else
    train BPE on the first ``train_bytes`` of ``texts``, cached as
    ``<cache_dir>/tokenizers/<sha256[:16]>_v<vocab_size>.model``."""
    if path == BYTES:
        return ByteTokenizer()
    if path and path.startswith("hf:"):
        from recipes.lm.hf_tokenizer import load_hf_tokenizer

        return load_hf_tokenizer(path)
    if path:
        tok = Tokenizer(path)
        log.info("loaded tokenizer %s (vocab %d)", path, tok.vocab_size)
        return tok
    lines, digest = _training_lines(texts, train_bytes)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    model_path = cache / "tokenizers" / f"{digest[:16]}_v{vocab_size}.model"
    if model_path.is_file():
        log.info("using cached tokenizer %s", model_path)
    else:
        log.info("training a BPE tokenizer (vocab %d) on %d lines -> %s", vocab_size, len(lines), model_path)
        train_tokenizer(lines, vocab_size, model_path)
    return Tokenizer(model_path)
