"""GPT-style language-model recipe: our own decoder (``model``), data and SentencePiece
tokenizer (``data``, ``tokenizer``), Composer training (``train``), configured by Hydra
(``conf/lm.yaml``). Entry points: :func:`train` and ``python -m recipes.lm``."""
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
    "LMConfig",
    "LoggerConfig",
    "LossHistory",
    "ModelConfig",
    "Tokenizer",
    "TrainConfig",
    "build_data",
    "count_params",
    "flops_per_token",
    "load_or_train_tokenizer",
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
    if name in ("LossHistory", "DivergenceError"):
        from recipes.lm import callbacks
        return getattr(callbacks, name)
    raise AttributeError(f"module 'recipes.lm' has no attribute {name!r}")
