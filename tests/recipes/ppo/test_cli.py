"""``python -m recipes.ppo`` (Hydra) trains once on two games and prints the result as JSON."""
import json
import os
import subprocess
import sys
from pathlib import Path

from recipes.ppo import PROCGEN_GAMES

ROOT = Path(__file__).resolve().parents[3]


def _run(args, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "recipes.ppo", *args], check=False, cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)


def test_cli_trains_once_and_prints_json(tmp_path):
    proc = _run(["env=coinrun_starpilot", "env.games=[starpilot,fruitbot]",
                 "total_timesteps=256", "num_envs=4", "num_steps=64", "num_minibatches=2",
                 "update_epochs=1", "width_multiplier=0.25", "eval_episodes=2",
                 "eval_num_envs=2", "torch_threads=1", "env_threads=1",
                 f"hydra.run.dir={tmp_path}/out"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["cost"] == 512.0  # 256 steps on each of two games
    assert {"metric.return_test.starpilot", "metric.return_test.fruitbot"} <= set(result)
    assert isinstance(result["output"], float)


def test_cli_help(tmp_path):
    proc = _run(["--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "total_timesteps" in proc.stdout and "env:" in proc.stdout
    for option in [*PROCGEN_GAMES, "procgen16",
                   *(path.stem for path in (ROOT / "conf" / "env").glob("*.yaml"))]:
        assert option in proc.stdout, f"--help does not list env={option}"
    for group in ("model:", "data:", "logger:"):  # only the PPO recipe's groups
        assert group not in proc.stdout
