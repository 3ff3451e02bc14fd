"""Box search spaces shared by every tuner: one `Dim` per hyperparameter.

All tuners see exactly the same bounds, the same scale (log or linear) and the same integer
constraints; the adapters translate a `Dim` into each library's own description.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Dim:
    """One numeric hyperparameter with closed bounds [low, high].

    Attributes:
        name: parameter name (the trial column is ``param.<name>``).
        low: lower bound (inclusive).
        high: upper bound (inclusive).
        log: search this dimension in log space (requires low > 0).
        integer: values are rounded to integers.
    """

    name: str
    low: float
    high: float
    log: bool = False
    integer: bool = False

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"Dim.name must be a non-empty string, got {self.name!r}")
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low >= self.high:
            raise ValueError(
                f"Dim {self.name!r}: need finite low < high, got low={self.low}, high={self.high}"
            )
        if self.log and self.low <= 0:
            raise ValueError(
                f"Dim {self.name!r}: log=True needs low > 0, got low={self.low}; "
                "use log=False or a positive lower bound"
            )
        if self.integer and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError(
                f"Dim {self.name!r}: integer=True needs integer bounds, got {self.low}, {self.high}"
            )

    def to_unit(self, value: float) -> float:
        """Map a value to [0, 1] in the dimension's basic (linear or log) scale."""
        if self.log:
            return (math.log(value) - math.log(self.low)) / (
                math.log(self.high) - math.log(self.low)
            )
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float | int:
        """Map u in [0, 1] back to a (clipped, rounded if integer) value."""
        u = min(max(float(u), 0.0), 1.0)
        if self.log:
            v = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            v = self.low + u * (self.high - self.low)
        return self.clip(v)

    def clip(self, value: float) -> float | int:
        """Clip into bounds and round integers."""
        v = min(max(float(value), self.low), self.high)
        if self.integer:
            return round(v)
        return v

    def center(self) -> float | int:
        """Center of the bounds in the basic space (geometric mid for log dims)."""
        return self.from_unit(0.5)


def sample_uniform(dims: tuple[Dim, ...], rng: np.random.Generator) -> dict[str, Any]:
    """Draw one configuration uniformly in each dimension's basic space (log-uniform for log)."""
    return {d.name: d.from_unit(rng.uniform()) for d in dims}


def center_config(dims: tuple[Dim, ...]) -> dict[str, Any]:
    """The center of the box in basic space."""
    return {d.name: d.center() for d in dims}


def check_config(dims: tuple[Dim, ...], config: dict[str, Any]) -> dict[str, Any]:
    """Validate a configuration against the space; return it clipped/rounded.

    Raises:
        ValueError: a parameter is missing, unknown, or not a finite number.
    """
    names = {d.name for d in dims}
    missing = names - set(config)
    extra = set(config) - names
    if missing or extra:
        raise ValueError(
            f"config keys must be exactly {sorted(names)}; missing={sorted(missing)}, "
            f"unknown={sorted(extra)}"
        )
    out: dict[str, Any] = {}
    for d in dims:
        v = config[d.name]
        try:
            fv = float(v)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"param {d.name!r} must be a number, got {v!r}") from exc
        if not math.isfinite(fv):
            raise ValueError(f"param {d.name!r} must be finite, got {v!r}")
        out[d.name] = d.clip(fv)
    return out
