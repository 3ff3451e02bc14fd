"""Config validation: errors name the field; the Hydra yaml matches the dataclasses."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from recipes.lm import LMConfig, ModelConfig, TrainConfig, to_lm_config

CONF = str(Path(__file__).resolve().parents[3] / "conf")


@pytest.mark.parametrize("section, values, field", [
    ("model", {"d_model": 100, "n_heads": 3}, "model.n_heads"),
    ("model", {"d_model": 96, "head_dim": 40}, "model.head_dim"),
    ("model", {"d_model": 0}, "model.d_model"),
    ("model", {"position": "alibi"}, "model.position"),
    ("model", {"dropout": 1.5}, "model.dropout"),
    ("model", {"d_model": 96, "n_heads": 32}, "model.n_heads"),  # odd head width with rotary
    ("model", {"widht": 3}, "model: unknown field"),
    ("train", {"tokens": -5}, "train.tokens"),
    ("train", {"tokens": 1.5}, "train.tokens"),
    ("train", {"lr": 0}, "train.lr"),
    ("train", {"batch_tokens": 1000}, "train.batch_tokens"),
    ("train", {"cost_metric": "dollars"}, "train.cost_metric"),
    ("train", {"autoresume": True}, "train.autoresume"),
    ("data", {"name": "text_files", "paths": []}, "data.paths"),
    ("data", {"name": "wikipedia"}, "data.name"),
    ("data", {"vocab_size": 100}, "data.vocab_size"),
])
def test_bad_config_names_the_field(section, values, field):
    cfg = {"model": {"context_length": 128}, section: values} if section != "model" else {section: values}
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        to_lm_config(cfg)


def test_derived_sizes_and_float_tokens():
    cfg = to_lm_config({"model": {"d_model": 256, "head_dim": 64, "context_length": 128},
                        "train": {"tokens": 2e6, "batch_tokens": 8192}})
    assert cfg.model.n_heads == 4 and cfg.model.d_ff == 1024
    assert cfg.train.tokens == 2_000_000 and isinstance(cfg.train.tokens, int)
    assert cfg.batch_size == 64 and cfg.steps == 245  # ceil(2e6 / 8192)


def test_dataclass_and_dict_inputs_agree():
    cfg = LMConfig(model=ModelConfig(d_model=64, n_heads=2), train=TrainConfig(lr=0.01))
    assert to_lm_config(cfg) is cfg
    assert to_lm_config({"model": {"d_model": 64, "n_heads": 2}, "train": {"lr": 0.01},
                         "sweep": {"ignored": 1}}) == cfg


@pytest.mark.parametrize("overrides", [
    [],
    ["model=small", "data=text_files", "data.paths=[a.txt]", "logger=none"],
    ["model=gpt125m", "data=c4", "logger=mlflow", "train.batch_tokens=524288"],
    ["model=tiny", "model.position=t5", "model.init=t5", "model.tie_embeddings=false"],
])
def test_hydra_yaml_composes_to_valid_config(overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="lm", overrides=overrides)
    cfg.logger.file = None  # interpolates hydra:runtime, which only exists inside a Hydra run
    cfg.logger.tensorboard_dir = None
    lm = to_lm_config(cfg)
    assert lm.model.d_model % lm.model.n_heads == 0


@pytest.mark.parametrize("group, options", [
    ("model", ["tiny", "small", "gpt125m"]), ("data", ["kjv", "text_files", "c4"]),
    ("logger", ["console", "file", "tensorboard", "wandb", "mlflow", "none"]),
])
def test_every_group_option_lists_every_field(group, options):
    import dataclasses

    from omegaconf import OmegaConf

    from recipes.lm.config import DataConfig, LoggerConfig

    cls = {"model": ModelConfig, "data": DataConfig, "logger": LoggerConfig}[group]
    fields = {f.name for f in dataclasses.fields(cls)}
    for option in options:
        keys = set(OmegaConf.load(Path(CONF) / group / f"{option}.yaml").keys())
        assert keys == fields, f"conf/{group}/{option}.yaml: missing {fields - keys}, extra {keys - fields}"
