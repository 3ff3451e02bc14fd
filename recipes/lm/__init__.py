"""GPT-style language-model recipe: our own decoder (``model``) or a Hugging Face architecture
(``hf_model``, ``model.impl=hf``), data and tokenizers (``data``, ``tokenizer``: SentencePiece;
``hf_tokenizer``: ``data.tokenizer=hf:...``), Composer training (``train``), Hugging Face
checkpoints out (``export``), configured by Hydra (``conf/lm.yaml``). Entry points:
:func:`train` and ``python -m recipes.lm``."""
from recipes.lm.config import (
    DataConfig,
    LMConfig,
    LoggerConfig,
    ModelConfig,
    TrainConfig,
    to_lm_config,
)

__all__ = [
    "GPT",
    "DataConfig",
    "DivergenceError",
    "HFTokenizer",
    "LMConfig",
    "LoggerConfig",
    "LossHistory",
    "ModelConfig",
    "Tokenizer",
    "TrainConfig",
    "build_data",
    "build_hf_model",
    "count_params",
    "flops_per_token",
    "load_hf_tokenizer",
    "load_or_train_tokenizer",
    "native_as_gpt_neox",
    "to_lm_config",
    "train",
    "training_flops",
]


def __getattr__(name: str):
    # torch, Composer, datasets and sentencepiece load lazily, so that `--help` and configuration
    # errors answer in about a second.
    if name in ("GPT", "count_params", "flops_per_token", "training_flops"):
        from recipes.lm import model
        return getattr(model, name)
    if name == "train":
        from recipes.lm.training import train
        return train
    if name == "build_data":
        from recipes.lm.data import build_data
        return build_data
    if name in ("Tokenizer", "load_or_train_tokenizer"):
        from recipes.lm import tokenizer
        return getattr(tokenizer, name)
    if name in ("HFTokenizer", "load_hf_tokenizer"):
        from recipes.lm import hf_tokenizer
        return getattr(hf_tokenizer, name)
    if name == "build_hf_model":
        from recipes.lm.hf_model import build_hf_model
        return build_hf_model
    if name == "native_as_gpt_neox":
        from recipes.lm.export import native_as_gpt_neox
        return native_as_gpt_neox
    if name in ("LossHistory", "DivergenceError"):
        from recipes.lm import callbacks
        return getattr(callbacks, name)
    raise AttributeError(f"module 'recipes.lm' has no attribute {name!r}")
