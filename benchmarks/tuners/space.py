"""Box search spaces shared by every tuner: one `Dim` per hyperparameter.

All tuners see exactly the same bounds, the same scale (log or linear) and the same integer
constraints; the adapters translate a `Dim` into each library's own description.

A categorical `Dim` (``Dim.categorical(name, choices)``) is also an integer dimension over the
choice indices 0..k-1, so a tuner without categoricals can still search it (as an ordinal);
``check_config`` takes either a choice or its index and returns the choice.
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
        choices: the categories of a categorical dimension (then low = 0, high = k - 1,
            integer; build it with `Dim.categorical`); empty for a numeric one.
    """

    name: str
    low: float
    high: float
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] = ()

    @classmethod
    def categorical(cls, name: str, choices: tuple[Any, ...] | list[Any]) -> Dim:
        """A categorical dimension over ``choices`` (at least 2, distinct)."""
        choices = tuple(choices)
        if len(choices) < 2 or len(set(choices)) != len(choices):
            raise ValueError(f"Dim {name!r}: need at least 2 distinct choices, got {choices!r}")
        return cls(name, 0, len(choices) - 1, integer=True, choices=choices)

    @property
    def is_categorical(self) -> bool:
        """True for a categorical dimension."""
        return bool(self.choices)

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
        if self.choices and (self.log or (self.low, self.high) != (0, len(self.choices) - 1)):
            raise ValueError(f"Dim {self.name!r}: build a categorical with Dim.categorical")

    def to_unit(self, value: Any) -> float:
        """Map a value to [0, 1] in the dimension's basic (linear or log) scale (a choice: its
        index over k - 1)."""
        if self.choices:
            return self.choices.index(value) / (len(self.choices) - 1)
        if self.log:
            return (math.log(value) - math.log(self.low)) / (
                math.log(self.high) - math.log(self.low)
            )
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> Any:
        """Map u in [0, 1] back to a (clipped, rounded if integer) value (a choice: each takes
        an equal share of [0, 1])."""
        u = min(max(float(u), 0.0), 1.0)
        if self.choices:
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
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

    def center(self) -> Any:
        """Center of the bounds in the basic space (geometric mid for log dims; the first
        choice of a categorical)."""
        return self.choices[0] if self.choices else self.from_unit(0.5)


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
        if d.choices and _is_choice(d, v):
            out[d.name] = v
            continue
        try:
            fv = float(v)
        except (TypeError, ValueError) as exc:
            what = f"one of {list(d.choices)} (or its index)" if d.choices else "a number"
            raise ValueError(f"param {d.name!r} must be {what}, got {v!r}") from exc
        if not math.isfinite(fv):
            raise ValueError(f"param {d.name!r} must be finite, got {v!r}")
        out[d.name] = d.choices[d.clip(fv)] if d.choices else d.clip(fv)
    return out


def _is_choice(dim: Dim, value: Any) -> bool:
    """True when ``value`` is one of a categorical's choices (not a number standing for an
    index, unless the choices are numbers themselves)."""
    try:
        return value in dim.choices
    except TypeError:  # unhashable / incomparable values are not choices
        return False
