"""``scaling.recommend``: against the Chinchilla simulator's truth, the JSON contract, the search
space (rounding, clamping, categoricals), the next sweep, the sweep-directory route and every
kind of bad input. Real fits on small tables, no mocks."""

import json
import math
import sqlite3

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmarks.recommend import SPACE as SIM_SPACE  # the benchmark's space, at a small scale
from benchmarks.tuners.chinchilla_sim import ChinchillaProblem, lr_opt, warmup_opt
from scaling.cli import main as scaling_main
from scaling.recommend import RecommendError, recommend


def main(argv: list[str]) -> int:
    """``python -m scaling recommend ARGV``."""
    return scaling_main(["recommend", *argv])

# --- the simulator at a small scale -----------------------------------------------------------


def sim_table(n: int = 90, seed: int = 0) -> pd.DataFrame:
    """Trials of the simulator scattered around its optimum (what a converging sweep sees):
    sizes from 2e5 to 4e7 parameters, ~20 tokens per parameter, hyperparameters off their
    optima by a random factor."""
    rng = np.random.default_rng(seed)
    problem = ChinchillaProblem()
    rows = []
    for i in range(n):
        width = int(8 * round(10 ** rng.uniform(np.log10(64), np.log10(512)) / 8))
        depth = int(rng.integers(2, 13))
        n_params = 12 * depth * width ** 2
        tokens = float(1024 * max(round(20 * n_params * 10 ** rng.normal(0, 0.3) / 1024),
                                  9766))  # >= 1e7, the simulator's least
        cfg = {"width": width, "depth": depth, "tokens": tokens,
               "lr": float(lr_opt(n_params) * 10 ** rng.normal(0, 0.3)),
               "warmup": float(np.clip(warmup_opt(n_params) + rng.normal(0, 0.03), 0.002, 0.45)),
               "weight_decay": float(0.1 * 10 ** rng.normal(0, 0.3))}
        ev = problem.evaluate(cfg, np.random.default_rng([seed, i]))
        rows.append({"trial_id": str(i), "status": "ok", "output": ev.output, "cost": ev.cost,
                     **{f"param.{k}": v for k, v in cfg.items()},
                     **{f"metric.{k}": v for k, v in ev.metrics.items()}})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def sim():
    table = sim_table()
    c = float(table["cost"].max())
    rec = recommend(table, [10 * c, 100 * c], SIM_SPACE, n_bootstrap=50)
    return table, c, rec


def _gap(cfg: dict, budget: float) -> float:
    problem = ChinchillaProblem()
    loss, _, _ = problem.expected(cfg)
    return loss - float(problem.reference_front(np.array([budget]))[0])


def test_simulator_recommendation_is_near_the_true_optimum_and_beats_scaling_the_best(sim):
    table, _, rec = sim
    best = table.loc[table["output"].idxmin()]
    for item in rec.recommendations:
        cfg = {k: float(v) for k, v in item.params.items()}
        n = 12 * cfg["depth"] * cfg["width"] ** 2
        assert 6 * n * cfg["tokens"] == pytest.approx(item.budget, rel=1e-3)  # spends the budget
        ours = _gap(cfg, item.budget)
        # baseline: the best trial, width and depth scaled by one factor to 20 tokens/param
        s = (math.sqrt(item.budget / 120) / best["metric.params"]) ** (1 / 3)
        w, d = 8 * round(best["param.width"] * s / 8), round(best["param.depth"] * s)
        base = {k[6:]: float(best[k]) for k in best.index if k.startswith("param.")}
        base.update(width=w, depth=d, tokens=item.budget / (6 * 12 * d * w * w))
        assert ours < 0.01, (item.budget, cfg)
        assert ours < _gap(base, item.budget)
        assert item.roles["lr"] == "surface"  # the lr optimum is pinned by the trials
        assert cfg["lr"] == pytest.approx(float(lr_opt(n)), rel=0.35)
    assert rec.follow == "surface"  # the loss surface's L(N, D); Approach 3 is still reported
    assert {"surface", "approach3"} <= set(rec.recommendations[0].allocation["approaches"])
    assert rec.recommendations[1].extrapolation_decades == pytest.approx(2.0, abs=0.01)


def test_json_contract_through_the_cli(sim, tmp_path, capsys):
    table, c, _ = sim
    src = tmp_path / "sweep.csv"
    table.to_csv(src, index=False)
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"hydra": {"sweeper": {"search_space": SIM_SPACE}}}))
    code = main([str(src), "--budget", "10x", "--budget", f"{100 * c:.6g}", "--out",
                 str(tmp_path / "out"), "--search-space", str(space), "--bootstrap", "30",
                 "--command-prefix", "python -m sim", "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "command: python -m sim " in printed and " width=" in printed

    def no_nan(token):
        raise AssertionError(f"non-standard JSON constant {token}")

    d = json.loads((tmp_path / "out" / "recommendation.json").read_text(),
                   parse_constant=no_nan)
    assert d["source"].endswith("sweep.csv") and d["cost_column"] == "cost"
    assert len(d["recommendations"]) == 2
    for r in d["recommendations"]:
        assert set(r) >= {"budget", "params", "intervals", "predicted_output",
                          "predicted_interval", "extrapolation_decades", "command"}
        assert set(r["params"]) == set(SIM_SPACE)  # names without the param. prefix
        for name, (lo, hi) in r["intervals"].items():
            assert lo <= r["params"][name] <= hi
        lo, hi = r["predicted_interval"]
        assert lo <= r["predicted_output"] <= hi
        assert r["command"].startswith("python -m sim ")
        assert isinstance(r["params"]["width"], int) and r["params"]["width"] % 8 == 0
    assert d["recommendations"][0]["budget"] == pytest.approx(10 * c)


# --- small tables without N / D -----------------------------------------------------------------
def law_table(n: int = 48, seed: int = 1, act: bool = True) -> pd.DataFrame:
    """A cost-only sweep: cost = 1e6 x tokens, lr optimum 3e-3 (C / 1e12)^-0.1, an activation
    choice (gelu better at large cost, relu at small), output = front + lr parabola + noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        tokens = 4096 * int(10 ** rng.uniform(3, 6) / 4096 + 1)
        cost = 1e6 * tokens
        lr_star = 3e-3 * (cost / 1e12) ** -0.1
        lr = lr_star * 10 ** rng.normal(0, 0.35)
        a = "gelu" if (rng.random() < 0.8) == (cost > 3e10) else "relu"
        penalty = 0.02 * (a == "relu") * (cost > 3e10) + 0.02 * (a == "gelu") * (cost <= 3e10)
        out = 2.0 + 300.0 * cost ** -0.2 + 0.2 * np.log10(lr / lr_star) ** 2 + penalty \
            + rng.normal(0, 0.003)
        row = {"trial_id": str(i), "status": "ok", "output": out, "cost": cost,
               "param.train.tokens": tokens, "param.train.lr": lr}
        if act:
            row["param.model.act"] = a
        rows.append(row)
    return pd.DataFrame(rows)


LAW_SPACE = {  # the journal's spelling
    "train.tokens": {"type": "LogSpace", "min": 4096.0, "max": 1.1e6, "scale": None,
                     "is_integer": True, "rounding_factor": 4096, "center": 65536},
    "train.lr": {"type": "LogSpace", "min": 1e-4, "max": 0.05, "scale": None,
                 "is_integer": False, "rounding_factor": 1, "center": 3e-3},
    "model.act": {"type": "CategoricalSpace", "choices": ["relu", "gelu"],
                  "mutation_probability": 0.2, "center": "relu"},
}


def test_rounding_clamping_and_categoricals_from_the_search_space():
    table = law_table()
    space = {**LAW_SPACE, "train.lr": {**LAW_SPACE["train.lr"], "max": 1.5e-3, "center": 1e-3}}
    rec = recommend(table, ["30x"], space, n_bootstrap=50)
    item = rec.recommendations[0]
    # tokens spend the budget (cost = 1e6 tokens), on the 4096 grid, beyond the sweep's max
    assert item.params["train.tokens"] % 4096 == 0
    assert 1e6 * item.params["train.tokens"] == pytest.approx(item.budget, rel=0.01)
    assert item.roles["train.tokens"] == "cost"
    assert "train.tokens" in item.outside_search_space
    # the lr optimum at 30x lies above the space's max (1.5e-3): clamped, and said so
    assert item.params["train.lr"] == 1.5e-3
    assert item.clamped["train.lr"] > 1.5e-3
    assert any(d.code == "clamped" and "train.lr" in d.message for d in rec.diagnostics)
    # the expensive half of the front is dominated by gelu
    assert item.params["model.act"] == "gelu"
    assert item.categorical_support["model.act"]["gelu"] > 0.5
    assert item.roles["model.act"] == "categorical"
    none = recommend(table, ["30x"], space, n_bootstrap=0, clamp="none")
    assert none.recommendations[0].params["train.lr"] > 1.5e-3


def test_boolean_choices_stored_as_numbers_come_back_as_booleans():
    table = law_table(act=False)
    table["param.model.bias"] = (table["cost"] > 3e10).astype(int)  # 0/1 as SQLite stores them
    space = {**{k: v for k, v in LAW_SPACE.items() if k != "model.act"},
             "model.bias": {"type": "CategoricalSpace", "choices": [False, True]}}
    item = recommend(table, ["10x"], space, n_bootstrap=0).recommendations[0]
    assert item.params["model.bias"] is True


def test_next_sweep_yaml_parses_and_warm_starts_from_the_small_sweep(tmp_path):
    from carbs import CARBS, CARBSConfig
    from carbs.sweep.settings import load_settings, params_from_search_space

    table = law_table()
    rec = recommend(table, ["10x", "100x"], LAW_SPACE, n_bootstrap=50)
    text = rec.next_sweep_yaml(max_trials=8)
    assert text.startswith("# @package _global_\n")
    conf = yaml.safe_load(text)
    assert {"override /hydra/sweeper": "carbs"} in conf["defaults"]
    sweeper = conf["hydra"]["sweeper"]
    settings = load_settings(sweeper)  # the sweeper's own checks
    params = params_from_search_space(sweeper["search_space"])
    item = rec.recommendations[0]
    by_name = {p.name: p for p in params}
    assert by_name["train.tokens"].search_center == item.params["train.tokens"]
    assert by_name["model.act"].search_center == item.params["model.act"]
    assert sweeper["max_suggestion_cost"] >= rec.recommendations[1].budget
    # scale from the interval: a radius of 0.3 basic units spans half the lr interval
    lo, hi = item.intervals["train.lr"]
    expected = (math.log10(hi) - math.log10(lo)) / 2 / 0.3
    assert sweeper["search_space"]["train.lr"]["scale"] == pytest.approx(
        min(max(expected, 0.25), 4.0), rel=1e-3)
    # warm start: every old trial lies inside the new space, so none is dropped
    old_params = params_from_search_space({  # LAW_SPACE in the sweep-YAML spelling
        "train.tokens": {"space": "log", "center": 65536, "min": 4096, "max": 1.1e6,
                         "integer": True, "rounding_factor": 4096},
        "train.lr": {"space": "log", "center": 3e-3, "min": 1e-4, "max": 0.05},
        "model.act": {"space": "categorical", "choices": ["relu", "gelu"], "center": "relu"}})
    old = CARBS(CARBSConfig(better_direction_sign=-1), old_params)
    for _, row in table.iterrows():
        old.observe({p.name: row[f"param.{p.name}"] for p in old_params}, row["output"],
                    row["cost"])
    new = CARBS.warm_start(settings.carbs_config(), params, from_state=old.state_dict())
    assert len(new.observations) == len(table)


def test_constant_hyperparameter_along_the_front_is_an_error_until_fixed(capsys, tmp_path):
    table = law_table(act=False)
    table["param.train.wd"] = 0.1
    worse = table.copy()  # off-front trials that tried another weight decay
    worse["output"] += 1.0
    worse["param.train.wd"] = 0.3
    worse["trial_id"] += "w"
    both = pd.concat([table, worse], ignore_index=True)
    with pytest.raises(RecommendError, match=r"constant along the Pareto front.*train\.wd = 0\.1"
                                             r".*--fix train\.wd"):
        recommend(both, ["10x"], n_bootstrap=0)
    rec = recommend(both, ["10x"], fixed={"train.wd": None}, n_bootstrap=0)
    assert rec.recommendations[0].params["train.wd"] == 0.1
    assert rec.recommendations[0].roles["train.wd"] == "fixed"
    src = tmp_path / "t.csv"
    both.to_csv(src, index=False)
    assert main([str(src), "--budget", "10x", "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("error: hyperparameter(s) constant")
    assert main([str(src), "--budget", "10x", "--fix", "train.wd", "--bootstrap", "0",
                 "--quiet"]) == 0


def test_too_few_front_points(capsys, tmp_path):
    table = law_table(n=12, act=False)
    table["output"] = np.log10(table["cost"])  # dearer is worse: the front is one point
    with pytest.raises(RecommendError, match=r"Pareto front .* only 1 point"):
        recommend(table, ["10x"])
    src = tmp_path / "t.csv"
    table.to_csv(src, index=False)
    assert main([str(src), "--budget", "10x", "--quiet"]) == 2
    assert "error: " in capsys.readouterr().err


def test_budget_below_the_cheapest_run():
    table = law_table(act=False)
    with pytest.raises(RecommendError, match="below the sweep's cheapest run"):
        recommend(table, [float(table["cost"].min()) / 10])
    with pytest.raises(RecommendError, match="not a number"):
        recommend(table, ["lots"])


def test_sweep_directory_without_a_search_space(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    law_table(act=False).to_csv(sweep / "trials.csv", index=False)
    with pytest.raises(RecommendError, match="without a search space"):
        recommend(sweep, ["10x"])
    journal = tmp_path / "j" / "journal.sqlite"  # a journal without a meta table
    journal.parent.mkdir()
    with sqlite3.connect(journal) as con:
        law_table(act=False).to_sql("trials", con, index=False)
    assert main([str(journal.parent), "--budget", "10x", "--quiet"]) == 2
    assert "without a search space" in capsys.readouterr().err


def test_sweep_directory_gives_space_and_a_runnable_lm_command(tmp_path):
    """A sweep directory as Hydra + the CARBS sweeper write it: the journal's meta space, and
    the job's .hydra/hydra.yaml naming the recipe and the fixed overrides."""
    from hydra import compose, initialize_config_dir

    from carbs.sweep.journal import Journal
    from recipes.lm.config import to_lm_config

    rng = np.random.default_rng(3)
    space = {"model.d_model": {"type": "LogSpace", "min": 32.0, "max": 384.0, "scale": None,
                               "is_integer": True, "rounding_factor": 32, "center": 96},
             "train.tokens": {"type": "LogSpace", "min": 32768.0, "max": 4194304.0,
                              "scale": None, "is_integer": True, "rounding_factor": 4096,
                              "center": 122880},
             "train.lr": {"type": "LogSpace", "min": 1e-4, "max": 0.03, "scale": None,
                          "is_integer": False, "rounding_factor": 1, "center": 3e-3}}
    sweep = tmp_path / "lm_tiny"
    with Journal.create(sweep / "journal.sqlite", {"sweep": "lm_tiny", "space": space,
                                                   "objective": "output",
                                                   "direction": "minimize",
                                                   "cost_key": "metric.flops"},
                        list(space)) as j:
        for i in range(40):
            d = 32 * int(rng.integers(1, 13))
            tokens = 4096 * int(rng.integers(8, 1024))
            n = 4096 * d + 12 * 2 * d * d  # embeddings + 2 layers
            lr = 3e-3 * 10 ** rng.normal(0, 0.3)
            loss = 2 + 40 * n ** -0.3 + 300 * tokens ** -0.3 + 0.1 * np.log10(lr / 3e-3) ** 2
            j.add_running(str(i), {"model.d_model": d, "train.tokens": tokens, "train.lr": lr})
            j.finish(str(i), "ok", loss, 6 * n * tokens,
                     {"params": n, "tokens": tokens, "flops": 6 * n * tokens},
                     job_dir=str(sweep / str(i)))
    hydra_dir = sweep / "0" / ".hydra"
    hydra_dir.mkdir(parents=True)
    hydra_dir.joinpath("hydra.yaml").write_text(yaml.safe_dump({"hydra": {
        "help": {"app_name": "recipes.lm"},
        "overrides": {"task": ["+sweep=lm_tiny", "model.d_model=96", "train.tokens=122880",
                               "train.lr=0.003"]},
        "runtime": {"choices": {"sweep": "lm_tiny"}}}}))
    rec = recommend(sweep, ["10x"], n_bootstrap=30)
    item = rec.recommendations[0]
    assert rec.space is not None and rec.sweep["cost_key"] == "metric.flops"
    assert item.command.startswith("python -m recipes.lm +sweep=lm_tiny model.d_model=")
    assert item.params["model.d_model"] % 32 == 0
    assert item.allocation["budget_ratio"] == pytest.approx(1.0, abs=0.02)  # 6ND = C
    assert set(item.allocation["approaches"]) >= {"front", "approach3"}
    overrides = item.command.split()[3:]
    from pathlib import Path

    conf_dir = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(config_dir=str(conf_dir), version_base="1.3"):
        cfg = to_lm_config(compose(config_name="lm", overrides=overrides))
    assert cfg.model.d_model == item.params["model.d_model"]
    assert cfg.train.tokens == item.params["train.tokens"]
    text = rec.next_sweep_yaml()
    assert yaml.safe_load(text)["defaults"][0] == "/sweep/lm_tiny"


def test_python_m_scaling_recommend_subcommand(tmp_path, capsys):
    src = tmp_path / "t.csv"
    law_table(act=False).to_csv(src, index=False)
    assert scaling_main(["recommend", str(src), "--budget", "10x", "--bootstrap", "0",
                         "--quiet", "--out", str(tmp_path / "o")]) == 0
    assert "command: train.tokens=" in capsys.readouterr().out
    assert (tmp_path / "o" / "recommendation.json").is_file()
    assert scaling_main(["recommend", str(src), "--budget", "1"]) == 2
    assert "below the sweep's cheapest run" in capsys.readouterr().err
