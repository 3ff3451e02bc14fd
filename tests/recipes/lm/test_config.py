"""Config validation: errors name the field; the dataclasses are the Hydra schema of conf/lm.yaml
and the group options hold valid fields only."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

from recipes.lm import LMConfig, ModelConfig, TrainConfig, to_lm_config

CONF = str(Path(__file__).resolve().parents[3] / "conf")


@pytest.mark.parametrize("section, values, field", [
    ("model", {"d_model": 100, "n_heads": 3}, "model.n_heads"),
    ("model", {"d_model": 96, "head_dim": 40}, "model.head_dim"),
    ("model", {"d_model": 0}, "model.d_model"),
    ("model", {"position": "alibi"}, "model.position"),
    ("model", {"dropout": 1.5}, "model.dropout"),
    ("model", {"d_model": 96, "n_heads": 32}, "model.n_heads"),  # odd head width with rotary
    ("model", {"widht": 3}, "model.widht: unknown field"),
    ("model", {"d_model": "wide"}, "model.d_model"),  # a type error, found by OmegaConf
    ("train", {"compile": "maybe"}, "train.compile"),
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
    assert to_lm_config({"model": {"d_model": 64, "n_heads": 2}, "train": {"lr": 0.01}}) == cfg


def test_an_unknown_top_level_key_is_named():  # e.g. `+foo=1` on the command line
    with pytest.raises(ValueError, match=r"^foo: unknown key .*valid: model, data, train, logger"):
        to_lm_config({"train": {"lr": 0.01}, "foo": 1})


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


def test_dictconfig_input_and_scientific_counts():
    from omegaconf import OmegaConf

    cfg = to_lm_config(OmegaConf.create({"train": {"tokens": 2e6, "batch_tokens": 1.6384e4}}))
    assert cfg.train.tokens == 2_000_000 and isinstance(cfg.train.tokens, int)
    assert cfg.train.batch_tokens == 16384 and isinstance(cfg.train.batch_tokens, int)


def test_importing_the_config_module_registers_the_schema():
    """A launcher's worker process composes again: importing recipes.lm.config must suffice."""
    from hydra.core.config_store import ConfigStore

    assert ConfigStore.instance().load("base_lm.yaml").node.model.d_model == 128


@pytest.mark.parametrize("override, field", [
    ("model.d_model=wide", "model.d_model"), ("model.widht=3", "model.widht"),
    ("train.compile=maybe", "train.compile"), ("logger.console=loud", "logger.console"),
])
def test_hydra_rejects_bad_types_and_unknown_fields(override, field):
    with (initialize_config_dir(config_dir=CONF, version_base="1.3"),
          pytest.raises(ConfigCompositionException, match=field.replace(".", r"\."))):
        compose(config_name="lm", overrides=[override])


@pytest.mark.parametrize("group, schema", [("model", "ModelConfig"), ("data", "DataConfig"),
                                           ("logger", "LoggerConfig")])
def test_group_options_hold_only_schema_fields(group, schema):
    import dataclasses

    from omegaconf import OmegaConf

    from recipes.lm import config

    fields = {f.name for f in dataclasses.fields(getattr(config, schema))}
    options = sorted((Path(CONF) / group).glob("*.yaml"))
    assert options
    for path in options:
        keys = set(OmegaConf.load(path).keys())
        assert keys <= fields, f"{path}: {sorted(keys - fields)} are not {schema} fields"
