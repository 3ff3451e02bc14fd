"""Fixtures for the scaling tests: Epoch AI's Chinchilla table and synthetic sweep tables."""

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scaling.chinchilla import PAPER_FIT, ChinchillaLaw
from scaling.datasets import chinchilla_epoch_path

# A planted Chinchilla law (the paper's rounded parameters).
TRUE_LAW = asdict(PAPER_FIT)


@pytest.fixture(scope="session")
def epoch_csv() -> Path:
    """Epoch AI's Chinchilla table as shipped in scaling/data/ (Epoch's own columns)."""
    return chinchilla_epoch_path()


def planted_loss(n, d, law=TRUE_LAW):
    return ChinchillaLaw(**law).loss(n, d)


def isoflop_table(seed: int = 0, noise: float = 0.003, budgets=None, per_budget: int = 9,
                  law=TRUE_LAW) -> pd.DataFrame:
    """IsoFLOP runs: at each budget, model sizes spread evenly in log N around the optimum."""
    rng = np.random.default_rng(seed)
    budgets = np.logspace(18, 21, 7) if budgets is None else budgets
    a = law["beta"] / (law["alpha"] + law["beta"])
    g = (law["alpha"] * law["A"] / (law["beta"] * law["B"])) ** (1 / (law["alpha"] + law["beta"]))
    rows = []
    for c in budgets:
        n_opt = g * (c / 6) ** a
        for n in n_opt * np.logspace(-1, 1, per_budget):
            d = c / (6 * n)
            loss = planted_loss(n, d, law) * np.exp(noise * rng.standard_normal())
            rows.append({"status": "ok", "output": loss, "cost": c, "metric.params": n,
                         "metric.tokens": d, "metric.flops": c})
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def make_isoflop_table():
    """The :func:`isoflop_table` factory (fixtures avoid importing test helper modules)."""
    return isoflop_table


@pytest.fixture(scope="session")
def true_law():
    return dict(TRUE_LAW)
