"""The tables shipped in notebooks/data/ follow the trial contract, are the size the notebooks
need, and each is documented (command and commit) in notebooks/data/README.md. These check the
committed data, not code: marked ``data``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import carbs
import scaling

pytestmark = pytest.mark.data

DATA = Path(__file__).resolve().parents[2] / "notebooks" / "data"
CORE = ("trial_id", "sweep", "status", "output", "cost")
#: Columns a trial table may hold besides the contract's core, param.* and metric.* columns.
EXTRA = {"error", "started_at", "finished_at", "suggestion", "attempt", "job_num", "job_dir",
         "tuner", "problem", "seed", "trial_index", "cumulative_cost", "game", "overrides",
         "gpu", "arm", "factor", "budget"}


def _tables() -> dict[str, pd.DataFrame]:
    out = {}
    for path in sorted(DATA.glob("*.sqlite")):
        out[path.name] = carbs.load_trials(path)
    for path in sorted(DATA.glob("*.csv")):
        out[path.name] = pd.read_csv(path)
    trials = DATA / "tuners" / "trials.csv.gz"
    if trials.exists():
        out["tuners/trials.csv.gz"] = pd.read_csv(trials, low_memory=False)
    return out


TABLES = _tables()


def test_the_notebooks_tables_are_shipped() -> None:
    for name in ("lm_tiny.sqlite", "lm_cpu_scaling.sqlite", "extrapolation.csv",
                 "ppo_tiny.sqlite", "ppo_seeds.csv", "tuners/trials.csv.gz"):
        assert name in TABLES, f"notebooks/data/{name} is missing"
    assert (DATA / "tuners" / "summary.csv").is_file()
    assert scaling.chinchilla_epoch_path().is_file()  # the Epoch table ships with `scaling`


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_follows_the_trial_contract(name: str) -> None:
    t = TABLES[name]
    missing = [c for c in CORE if c not in t.columns]
    assert not missing, f"{name}: missing contract columns {missing}"
    other = [c for c in t.columns if c not in CORE and not c.startswith(("param.", "metric."))
             and c not in EXTRA]
    assert not other, f"{name}: columns outside the contract {other}"
    assert t["trial_id"].is_unique, name
    assert set(t["status"]) <= {"ok", "failed"}, f"{name}: unfinished trials {set(t['status'])}"
    ok = t[t["status"] == "ok"]
    assert len(ok) > 0, name
    assert np.isfinite(ok["output"].astype(float)).all(), name
    assert (ok["cost"].astype(float) > 0).all(), f"{name}: an ok trial with cost <= 0"
    assert (t["cost"].astype(float).fillna(0) >= 0).all(), name
    for col in (c for c in t.columns if c.startswith("metric.")):
        assert pd.api.types.is_numeric_dtype(t[col]) or t[col].isna().all(), \
            f"{name}: {col} is not numeric"
    if not name.startswith("tuners/"):
        assert any(c.startswith("param.") for c in t.columns), f"{name}: no param.* columns"


def test_sweep_journals_carry_their_search_space() -> None:
    for name in ("lm_tiny.sqlite", "lm_cpu_scaling.sqlite", "ppo_tiny.sqlite"):
        with carbs.Journal.open(DATA / name, read_only=True) as journal:
            meta = journal.meta
        space = meta["space"]
        params = {c[len("param."):] for c in TABLES[name] if c.startswith("param.")}
        assert params == set(space), name
        assert meta["cost_key"] and meta["direction"] in ("minimize", "maximize")


def test_lm_sweep_is_large_enough_for_laws() -> None:
    t = TABLES["lm_tiny.sqlite"]
    ok = t[t["status"] == "ok"]
    flops = ok["metric.flops"].astype(float)
    assert len(t) >= 60, f"lm_tiny: {len(t)} trials; the laws need ~60"
    assert math.log10(flops.max() / flops.min()) >= 1.9, "lm_tiny spans < 2 decades of FLOPs"
    for col in ("metric.params", "metric.tokens", "metric.flops"):
        assert ok[col].notna().all(), col


def test_cpu_scaling_sweep_has_the_regime_it_claims() -> None:
    """Byte-level tokens, >= 60 trials over >= 2 decades, no trial past ~2 passes of its 7.9M
    training bytes, N (non-embedding) over >= 1.5 decades."""
    t = TABLES["lm_cpu_scaling.sqlite"]
    ok = t[t["status"] == "ok"]
    flops, n = ok["metric.flops"].astype(float), ok["metric.params_non_embedding"].astype(float)
    assert len(t) >= 60 and math.log10(flops.max() / flops.min()) >= 2
    assert (ok["metric.vocab_size"] == 257).all()
    assert (ok["metric.tokens"] <= 2.2 * 7_922_048).all()
    assert math.log10(n.max() / n.min()) >= 1.5


def test_extrapolation_arms_spend_one_budget_and_carry_their_prediction() -> None:
    """Every arm of a budget spends the same FLOPs with one configuration over its seeds, and
    every row carries the prediction it is checked against (a table of a benchmark still
    under way may lack seeds or arms, never these)."""
    t = TABLES["extrapolation.csv"]
    assert set(t["arm"]) <= {"recommended", "best_more_tokens", "twenty_tpp"}
    assert "recommended" in set(t["arm"])
    for _, g in t.groupby("factor"):
        flops = g["metric.flops"].astype(float)
        assert flops.max() / flops.min() < 1.01, "arms at different FLOPs"
        assert g["metric.predicted_output"].nunique() == 1
        assert (g["metric.predicted_low"] <= g["metric.predicted_output"]).all()
        assert (g["metric.predicted_output"] <= g["metric.predicted_high"]).all()
        for _, a in g.groupby("arm"):
            assert a["seed"].is_unique and a["overrides"].nunique() == 1


def test_ppo_seed_runs_compare_at_one_budget() -> None:
    t = TABLES["ppo_seeds.csv"]
    assert {"baseline", "carbs"} <= set(t["sweep"])
    for _, g in t.groupby("game"):
        assert g["param.total_timesteps"].nunique() == 1, "baseline and CARBS at different budgets"
        assert (g.groupby("sweep")["param.seed"].apply(set).apply(len) >= 2).all()


def test_data_readme_names_every_file_with_its_command_and_commit() -> None:
    readme = (DATA / "README.md").read_text()
    files = [p.relative_to(DATA).as_posix() for p in DATA.rglob("*")
             if p.is_file() and p.name != "README.md" and "__pycache__" not in p.parts]
    for f in files:
        assert f"`{f}`" in readme or f"`{Path(f).name}`" in readme, f"README.md omits {f}"
    assert "commit" in readme and "python -m recipes.lm --multirun +sweep=lm_tiny" in readme
