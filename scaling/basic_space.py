"""A value's basic space, where :mod:`scaling` fits laws and looks for optima.

``"log"``: ``log10 x`` (x > 0); ``"logit"``: ``log10(x / (1 - x))`` (0 < x < 1); ``"linear"``:
``x``. These are CARBS's ``LogSpace`` / ``LogitSpace`` / ``LinearSpace`` before their ``scale``;
``scaling`` reads tables, so it maps values itself rather than import the optimiser's spaces.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["SPACES", "BasicSpace", "from_basic", "to_basic"]

BasicSpace = Literal["log", "linear", "logit"]
SPACES = ("log", "linear", "logit")


def to_basic(space: str, x) -> np.ndarray:
    """Values (param space) -> basic space."""
    x = np.asarray(x, dtype=float)
    if space == "log":
        return np.log10(x)
    if space == "logit":
        return np.log10(x / (1.0 - x))
    return x


def from_basic(space: str, t) -> np.ndarray:
    """Basic space -> values (param space)."""
    t = np.asarray(t, dtype=float)
    if space == "log":
        return 10.0 ** t
    if space == "logit":
        return 1.0 / (1.0 + 10.0 ** (-t))
    return t
