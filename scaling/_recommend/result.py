"""What a recommendation holds: one :class:`BudgetRecommendation` per budget, the error for input
that cannot support one, and the JSON rule of ``recommendation.json``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["BudgetRecommendation", "RecommendError", "jsonable"]


class RecommendError(ValueError):
    """Input that cannot support a recommendation; the message names the cause and the fix."""


def jsonable(x: Any) -> Any:
    """``x`` as standard JSON values (RFC 8259, what ``recommendation.json`` holds): mappings
    with string keys, lists, numpy numbers as Python numbers and non-finite floats as ``null``.

    The rule of every JSON file the project writes (CARBS's state and journal records follow it
    too, with ``carbs.state.jsonable``; ``scaling`` does not import the optimiser).
    """
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


@dataclass
class BudgetRecommendation:
    """The recommendation for one budget (see ``to_dict`` for the JSON contract)."""

    budget: float
    params: dict[str, Any]
    intervals: dict[str, list[float]]
    predicted_output: float
    predicted_interval: list[float]
    extrapolation_decades: float
    command: str
    laws: dict[str, dict] = field(default_factory=dict)
    """name -> the parameter's own law at this budget: space, value, low, high, slope."""
    roles: dict[str, str] = field(default_factory=dict)
    """name -> law | size | tokens | cost | fixed | categorical | untuned."""
    allocation: dict | None = None
    clamped: dict[str, float] = field(default_factory=dict)
    """name -> the value before it was clamped into the sweep's bounds."""
    outside_search_space: dict[str, list] = field(default_factory=dict)
    """name -> the sweep's [min, max] that the (unclamped) value lies outside."""
    categorical_support: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The ``recommendations[]`` object of recommendation.json."""
        return jsonable({
            "budget": self.budget, "params": self.params, "intervals": self.intervals,
            "predicted_output": self.predicted_output,
            "predicted_interval": self.predicted_interval,
            "extrapolation_decades": self.extrapolation_decades, "command": self.command,
            "roles": self.roles, "laws": self.laws, "allocation": self.allocation,
            "clamped": self.clamped, "outside_search_space": self.outside_search_space,
            "categorical_support": self.categorical_support})
