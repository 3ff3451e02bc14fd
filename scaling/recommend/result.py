"""What a recommendation holds: the :class:`Recommendation` (one :class:`BudgetRecommendation`
per budget, and the context behind the numbers), its ``recommendation.json``, and the error for
input that cannot support one."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from scaling.diagnostics import Diagnostic
from tays import Param, atomic_write_text, jsonable, param_to_spec

__all__ = ["BudgetRecommendation", "RecommendError", "Recommendation"]


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


@dataclass
class Recommendation:
    """What :func:`recommend` returns: one :class:`BudgetRecommendation` per budget."""

    source: str
    cost_column: str
    output_column: str
    direction: str
    follow: str
    follow_reason: str
    recommendations: list[BudgetRecommendation]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    space: dict[str, Param] | None = None
    n_front: int = 0
    front_costs: tuple[float, float] = (math.nan, math.nan)
    sweep: dict = field(default_factory=dict)
    """objective / direction / cost_key / name of the source sweep (from its journal)."""
    sweep_config: str | None = None
    fixed_overrides: list[str] = field(default_factory=list)
    command_prefix: str | None = None
    models: dict[str, str] = field(default_factory=dict)
    """target -> the learned formula (e.g. metric.params from model.d_model, model.n_layers)."""
    front: pd.DataFrame | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """recommendation.json: the contract keys plus the context behind the numbers."""
        return jsonable({
            "source": self.source, "cost_column": self.cost_column,
            "recommendations": [r.to_dict() for r in self.recommendations],
            "output_column": self.output_column, "direction": self.direction,
            "follow": self.follow, "follow_reason": self.follow_reason,
            "front": {"n_points": self.n_front, "cost_min": self.front_costs[0],
                      "cost_max": self.front_costs[1]},
            "search_space": None if self.space is None else {
                n: param_to_spec(p) for n, p in self.space.items()},
            "models": self.models,
            "diagnostics": [d.to_dict() for d in self.diagnostics], "notes": self.notes})

    def write(self, out: str | Path) -> Path:
        """Write ``out/recommendation.json`` (standard JSON: no NaN); returns its path."""
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise RecommendError(f"--out {out} is a file; give a directory")
        out.mkdir(parents=True, exist_ok=True)
        path = out / "recommendation.json"
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")
        return path

    def format_table(self) -> str:
        """The human-readable summary printed by the CLI."""
        from scaling.recommend.table import format_table

        return format_table(self)

    def next_sweep_yaml(self, **kwargs) -> str:
        """A ``conf/sweep``-style YAML around this recommendation (see
        :func:`scaling.recommend.nextsweep.next_sweep_yaml` for the arguments)."""
        from scaling.recommend.nextsweep import next_sweep_yaml

        return next_sweep_yaml(self, **kwargs)
