"""The utilisation benchmark's replay task (what a trial charges and how long it sleeps) and its
blind-scheduler bound."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from benchmarks.sweep_utilisation import TABLE, _recorded, _write_app, replay_task, seconds_law

SCALE = 1e6  # sleeps of microseconds


@pytest.fixture(scope="module")
def recorded_rows() -> list[tuple]:
    con = sqlite3.connect(f"file:{TABLE}?mode=ro", uri=True)
    rows = con.execute('SELECT "param.model.d_model", "param.model.n_layers", '
                       '"param.train.tokens", "param.train.lr", "param.train.warmup_fraction", '
                       '"metric.flops", "metric.job_seconds", output FROM trials '
                       "WHERE status = 'ok' AND \"metric.job_seconds\" IS NOT NULL").fetchall()
    con.close()
    return rows


def _cfg(tmp_path: Path, replay: str, row: tuple) -> object:
    _write_app(tmp_path, SCALE, replay)
    cfg = OmegaConf.load(tmp_path / "config.yaml")
    d, n, tokens, lr, warmup = row[:5]
    cfg.model.d_model, cfg.model.n_layers = int(d), int(n)
    cfg.train.tokens, cfg.train.lr, cfg.train.warmup_fraction = int(tokens), lr, warmup
    return cfg


def test_flops_replay_charges_the_recipes_flops_and_sleeps_the_recorded_seconds(
        tmp_path: Path, recorded_rows: list[tuple]) -> None:
    # at a recorded trial's own configuration, the law times its own deviation is its seconds
    # (the sweep ran some configurations twice: either run's seconds and loss)
    for row in recorded_rows[::9]:
        out = replay_task(_cfg(tmp_path, "flops", row))
        assert out["cost"] == pytest.approx(row[5], rel=1e-12)
        twins = [r for r in recorded_rows if r[:5] == row[:5]]
        assert any(out["metric.seconds"] == pytest.approx(r[6] / SCALE, rel=1e-9)
                   and out["output"] == pytest.approx(r[7]) for r in twins)


def test_flops_replay_follows_size_not_learning_rate(tmp_path: Path,
                                                     recorded_rows: list[tuple]) -> None:
    row = recorded_rows[0]
    base = replay_task(_cfg(tmp_path, "flops", row))
    bigger = list(row)
    bigger[2] = 4 * int(row[2])  # four times the tokens
    out = replay_task(_cfg(tmp_path, "flops", tuple(bigger)))
    assert out["cost"] == pytest.approx(4 * base["cost"])
    _, _, _, _, _, seconds, flops = _recorded(str(TABLE))
    slope, _ = seconds_law(flops, seconds)
    assert 0.5 < slope < 1.0  # small runs carry fixed overheads: sub-linear in FLOPs
    ratio = out["metric.seconds"] / base["metric.seconds"]
    # the law's factor, times whatever timing noise the nearest recorded trial carries
    assert math.isfinite(ratio) and ratio > 1


def test_nearest_replay_charges_its_seconds(tmp_path: Path, recorded_rows: list[tuple]) -> None:
    row = recorded_rows[3]
    out = replay_task(_cfg(tmp_path, "nearest", row))
    assert out["cost"] == pytest.approx(row[6] / SCALE)
    assert np.isfinite(out["output"])


def test_a_blind_scheduler_loses_only_to_unequal_lengths() -> None:
    from benchmarks.sweep_utilisation import blind_utilisation

    assert blind_utilisation(np.array([3.0]), 8, 64, draws=5) == pytest.approx(1.0)
    assert blind_utilisation(np.array([1.0, 50.0]), 1, 16, draws=5) == pytest.approx(1.0)
    _, _, _, _, _, seconds, _ = _recorded(str(TABLE))
    two, eight = (blind_utilisation(seconds, n, 64, draws=200) for n in (2, 8))
    assert 0.5 < eight < two < 1.0
