"""Shared small problems for the carbs tests."""

import math

import numpy as np
import pytest

from carbs import CategoricalSpace, LinearSpace, LogitSpace, LogSpace, Param


def cost_aware_4d(config: dict) -> tuple[float, float]:
    """A 4-D cost-aware problem (minimise): bigger ``size`` costs more and lowers the loss;
    the three shape parameters have an optimum at (0.6, -0.6, 0.4). Optimum at any cost C:
    loss 3 / sqrt(C)."""
    x = np.array([config["a"], config["b"], config["c"]])
    size = float(config["size"])
    loss = float(((x - np.array([0.6, -0.6, 0.4])) ** 2).sum() + 3.0 / math.sqrt(size))
    return loss, size


@pytest.fixture
def params_4d():
    return [
        Param("a", LinearSpace(min=-2, max=2), 0.0),
        Param("b", LinearSpace(min=-2, max=2), 0.0),
        Param("c", LinearSpace(min=-2, max=2), 0.0),
        Param("size", LogSpace(min=1, max=1000), 10.0),
    ]


@pytest.fixture
def mixed_params():
    return [
        Param("lr", LogSpace(min=1e-5, max=1.0, scale=0.5), search_center=1e-3),
        Param("width", LogSpace(min=16, max=4096, is_integer=True, rounding_factor=8),
              search_center=256),
        Param("warmup", LogitSpace(min=0.0, max=1.0), search_center=0.1),
        Param("wd", LinearSpace(min=0.0, max=1.0, scale=0.3), search_center=0.1),
        Param("act", CategoricalSpace(choices=["gelu", "relu", "swiglu"]), search_center="gelu"),
        Param("bias", CategoricalSpace(choices=[False, True]), search_center=False),
    ]


def mixed_objective(c: dict) -> tuple[float, float]:
    """Minimise; cost grows with width."""
    loss = (3 + 10 / math.sqrt(c["width"]) + 0.3 * (math.log10(c["lr"]) + 2.5) ** 2
            + (c["wd"] - 0.2) ** 2 + (0.1 if c["act"] == "relu" else 0.0)
            + (0.05 if c["bias"] else 0.0))
    return loss, c["width"] * (1 + c["warmup"])


@pytest.fixture
def cost_aware():
    """The 4-D cost-aware objective (config -> (loss, cost))."""
    return cost_aware_4d


@pytest.fixture
def mixed_obj():
    """The mixed-space objective (config -> (loss, cost))."""
    return mixed_objective
