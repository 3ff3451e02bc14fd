"""What a recommendation holds: one :class:`BudgetRecommendation` per budget, the error for input
that cannot support one (``recommendation.json`` is standard JSON: :func:`tays.jsonable`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tays import jsonable

__all__ = ["BudgetRecommendation", "RecommendError"]


class RecommendError(ValueError):
    """Input that cannot support a recommendation; the message names the cause and the fix."""


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
