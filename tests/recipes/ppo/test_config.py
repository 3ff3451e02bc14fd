"""Config validation: bad values give a clear error naming the field; PPOConfig is the Hydra
schema of ppo.yaml and every env option composes."""
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

from recipes.ppo import PROCGEN_GAMES, EnvConfig, PPOConfig

CONF_DIR = str(Path(__file__).resolve().parents[3] / "conf")


def test_defaults_are_the_papers():
    cfg = PPOConfig()
    assert (cfg.learning_rate, cfg.num_envs, cfg.num_steps, cfg.gamma, cfg.gae_lambda) == (
        5e-4, 64, 256, 0.999, 0.95)
    assert (cfg.num_minibatches, cfg.update_epochs, cfg.clip_coef, cfg.ent_coef) == (8, 3, 0.2, 0.01)
    assert (cfg.vf_coef, cfg.max_grad_norm, cfg.total_timesteps) == (0.5, 0.5, 25_000_000)
    assert cfg.env.distribution_mode == "easy" and cfg.env.num_levels == 200
    assert cfg.batch_size == 16384 and cfg.minibatch_size == 2048


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"env": {"games": ["pong"]}}, "env.games"),
        ({"env": {"games": []}}, "env.games"),
        ({"env": {"distribution_mode": "extreme"}}, "env.distribution_mode"),
        ({"env": {"num_levels": -1}}, "env.num_levels"),
        ({"num_envs": 0}, "num_envs"),
        ({"num_minibatches": 7}, "num_minibatches"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"gamma": 1.5}, "gamma"),
        ({"cost_metric": "flops"}, "cost_metric"),
        ({"objective": "val"}, "objective"),
        ({"total_timesteps": 0}, "total_timesteps"),
        ({"total_timesteps": 1.5}, "total_timesteps"),
        ({"num_envs": "many"}, "num_envs"),  # type errors come from OmegaConf
        ({"env": {"num_levels": "all"}}, "env.num_levels"),
    ],
)
def test_bad_config_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        PPOConfig.from_dict(kwargs)


def test_minibatch_error_says_how_to_fix():
    with pytest.raises(ValueError, match=r"must divide the batch num_envs \* num_steps = 1792"):
        PPOConfig(num_envs=7, num_steps=256, num_minibatches=3)


def test_unknown_field_is_named():
    with pytest.raises(ValueError, match="lr"):
        PPOConfig.from_dict({"lr": 1e-3})
    with pytest.raises(ValueError, match="env.level"):
        PPOConfig.from_dict({"env": {"level": 3}})


def test_every_input_form_is_accepted():
    cfg = PPOConfig(num_envs=8)
    assert PPOConfig.from_dict(cfg) is cfg
    from_dict = PPOConfig.from_dict({"num_envs": 8, "total_timesteps": 1e6, "env": {"games": ["maze"]}})
    assert from_dict.total_timesteps == 1_000_000 and isinstance(from_dict.total_timesteps, int)
    assert from_dict.env == EnvConfig(games=["maze"])


def test_hydra_config_composes_into_a_valid_config():
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        dc = compose(config_name="ppo", overrides=["env=coinrun_starpilot", "total_timesteps=1e6"])
    cfg = PPOConfig.from_dict(dc)
    assert cfg.env.games == ["coinrun", "starpilot"]
    assert cfg.total_timesteps == 1_000_000
    # the schema supplies every other default of the dataclass
    assert PPOConfig.from_dict(dc).to_dict() | {"total_timesteps": 25_000_000, "env": {}} == (
        PPOConfig().to_dict() | {"env": {}})


def test_hydra_rejects_bad_types_and_unknown_fields():
    for override, field in [("num_envs=many", "num_envs"), ("env.level=3", "env.level")]:
        with (initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"),
              pytest.raises(ConfigCompositionException, match=field.replace(".", r"\."))):
            compose(config_name="ppo", overrides=[override])


def test_every_env_option_composes():
    """One option per game and procgen16 (registered by recipes.ppo.config), plus conf/env/*.yaml."""
    expected = {game: [game] for game in PROCGEN_GAMES} | {"procgen16": list(PROCGEN_GAMES)}
    files = [path.stem for path in Path(CONF_DIR, "env").glob("*.yaml")]
    assert files
    for option in [*expected, *files]:
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            dc = compose(config_name="ppo", overrides=[f"env={option}"])
        env = PPOConfig.from_dict(dc).env
        assert env.games == expected.get(option, env.games)
        assert (env.distribution_mode, env.num_levels) == ("easy", 200)
