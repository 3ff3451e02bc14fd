"""Parameter spaces and the mapping between *param space* and the unbounded *basic space*.

Param space is what the user sees (a learning rate of 3e-4, a width of 256). Basic space is
where CARBS searches, where its Gaussian processes live, and where :mod:`scaling` fits laws:

- :class:`LinearSpace` (kind ``"linear"``): ``x / scale``
- :class:`LogSpace` (kind ``"log"``): ``log10(x) / scale``
- :class:`LogitSpace` (kind ``"logit"``): ``log10(p / (1 - p)) / scale``
- :class:`CategoricalSpace` (kind ``"categorical"``): a one-hot block (one basic column per
  choice). CARBS mutates a categorical locally: the category of the origin is kept with
  probability ``1 - mutation_probability`` and otherwise redrawn uniformly among the others.

:func:`forward` / :func:`inverse` are the transforms before the ``scale`` (by kind name), the
one definition both the optimiser's spaces and the scaling fits use. Integer spaces round in
param space (to multiples of ``rounding_factor``) and map back.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "NUMERIC_KINDS",
    "AnySpace",
    "CategoricalSpace",
    "LinearSpace",
    "LogSpace",
    "LogitSpace",
    "Param",
    "Space",
    "forward",
    "inverse",
    "space_from_json",
]

#: The numeric spaces by kind name, in the order error messages list them.
NUMERIC_KINDS = ("log", "linear", "logit")


def forward(kind: str, x: Any) -> np.ndarray:
    """Param-space value(s) -> basic space before the scale: ``log10 x`` (``"log"``),
    ``log10(x / (1 - x))`` (``"logit"``) or ``x`` (``"linear"``)."""
    x = np.asarray(x, dtype=np.float64)
    if kind == "log":
        return np.log10(x)
    if kind == "logit":
        return np.log10(x / (1.0 - x))
    if kind == "linear":
        return x
    raise ValueError(f"unknown space kind {kind!r}; use one of {list(NUMERIC_KINDS)}")


def inverse(kind: str, t: Any) -> np.ndarray:
    """Basic space before the scale -> param space (the inverse of :func:`forward`)."""
    t = np.asarray(t, dtype=np.float64)
    if kind == "log":
        return np.power(10.0, t)
    if kind == "logit":
        return 1.0 / (1.0 + np.power(10.0, -t))
    if kind == "linear":
        return t
    raise ValueError(f"unknown space kind {kind!r}; use one of {list(NUMERIC_KINDS)}")


@dataclass(frozen=True)
class Space:
    """Base class of numeric spaces. ``None`` bounds mean unbounded; ``scale=None`` means 1.0
    (CARBS may pick an integer-safe scale instead, see ``carbs.spaces``)."""

    min: float | None = None
    max: float | None = None
    scale: float | None = None
    is_integer: bool = False
    rounding_factor: int = 1

    kind: ClassVar[str] = "linear"

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.scale is not None and not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"{name}: scale must be a positive finite number, got {self.scale}")
        if self.min is not None and self.max is not None and not self.min < self.max:
            raise ValueError(
                f"{name}: min ({self.min}) must be < max ({self.max}); swap or widen the bounds"
            )
        if self.is_integer:
            if int(self.rounding_factor) != self.rounding_factor or self.rounding_factor < 1:
                raise ValueError(
                    f"{name}: rounding_factor must be a positive integer, got {self.rounding_factor}"
                )
        elif self.rounding_factor != 1:
            raise ValueError(f"{name}: rounding_factor needs is_integer=True")

    # --- properties -------------------------------------------------------------------------
    @property
    def effective_scale(self) -> float:
        """The scale in use (1.0 when left at its default)."""
        return 1.0 if self.scale is None else float(self.scale)

    @property
    def basic_dim(self) -> int:
        """Number of basic-space columns (1 for numeric spaces)."""
        return 1

    # --- mapping (vectorised over numpy arrays) ---------------------------------------------
    def forward(self, x: Any) -> np.ndarray:
        """Param-space value(s) -> basic space before the scale (:func:`forward`)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return forward(self.kind, x)

    def inverse(self, t: Any) -> np.ndarray:
        """Basic space before the scale -> param space, not rounded (:func:`inverse`)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return inverse(self.kind, t)

    def to_basic(self, x: Any) -> np.ndarray:
        """Param-space value(s) to basic space."""
        return self.forward(x) / self.effective_scale

    def from_basic(self, b: Any) -> np.ndarray:
        """Basic-space value(s) to param space, rounded when the space is integer."""
        return self.round(self.inverse(np.asarray(b, dtype=np.float64) * self.effective_scale))

    def round(self, x: Any) -> np.ndarray:
        """Round to the integer grid (multiples of ``rounding_factor``) when integer."""
        x = np.asarray(x, dtype=np.float64)
        if not self.is_integer:
            return x
        r = float(self.rounding_factor)
        return np.round(x / r) * r

    def clamp(self, x: float) -> float:
        """``x`` clipped into [min, max] (the bounds that are set); an integer space's bound is
        moved onto its grid, inwards."""
        v = float(x)
        r = float(self.rounding_factor)
        if self.min is not None and v < self.min:
            v = math.ceil(self.min / r) * r if self.is_integer else float(self.min)
        if self.max is not None and v > self.max:
            v = math.floor(self.max / r) * r if self.is_integer else float(self.max)
        return v

    def contains(self, x: Any) -> np.ndarray:
        """Whether value(s) lie within the bounds (and the space's domain)."""
        x = np.asarray(x, dtype=np.float64)
        ok = np.isfinite(x) & self._in_domain(x)
        if self.min is not None:
            ok &= x >= self.min
        if self.max is not None:
            ok &= x <= self.max
        return ok

    def _in_domain(self, x: np.ndarray) -> np.ndarray:
        return np.ones_like(x, dtype=bool)

    def to_python(self, x: float) -> int | float:
        """A plain Python value for configs (int for integer spaces)."""
        return round(float(x)) if self.is_integer else float(x)

    def neighbour_gap(self, center: float) -> float:
        """Basic-space distance from ``center`` to its nearest neighbouring integer value."""
        r = float(self.rounding_factor)
        gaps = []
        b0 = float(self.to_basic(center))
        for nb in (center - r, center + r):
            if self.contains(nb):
                gaps.append(abs(float(self.to_basic(nb)) - b0))
        return min(gaps) if gaps else 0.0

    def to_json(self) -> dict:
        """JSON-safe description (type and fields)."""
        return {"type": type(self).__name__, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class LinearSpace(Space):
    """Real or integer values mapped linearly: basic = x / scale."""

    kind: ClassVar[str] = "linear"


@dataclass(frozen=True)
class LogSpace(Space):
    """Positive values mapped by basic = log10(x) / scale. ``min`` must be > 0 when given."""

    kind: ClassVar[str] = "log"

    def __post_init__(self) -> None:
        super().__post_init__()
        for fname in ("min", "max"):
            v = getattr(self, fname)
            if v is not None and not v > 0:
                raise ValueError(
                    f"LogSpace: {fname} must be > 0 (log of {v} is undefined); use a positive "
                    f"{fname} such as 1e-8, or a LinearSpace"
                )

    def _in_domain(self, x: np.ndarray) -> np.ndarray:
        return x > 0


@dataclass(frozen=True)
class LogitSpace(Space):
    """Probabilities in (0, 1) mapped by basic = log10(p / (1 - p)) / scale."""

    kind: ClassVar[str] = "logit"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.is_integer:
            raise ValueError("LogitSpace: is_integer is not supported (values lie in (0, 1))")
        for fname in ("min", "max"):
            v = getattr(self, fname)
            if v is not None and not 0.0 <= v <= 1.0:
                raise ValueError(
                    f"LogitSpace: {fname}={v} is outside (0, 1); logit spaces hold probabilities, "
                    "use a LinearSpace or LogSpace for other ranges"
                )

    def _in_domain(self, x: np.ndarray) -> np.ndarray:
        return (x > 0) & (x < 1)


@dataclass(frozen=True)
class CategoricalSpace:
    """A finite set of choices (strings, numbers or booleans: ``choices=[False, True]``).

    Encoded one-hot in basic space; candidates keep the origin's choice with probability
    ``1 - mutation_probability`` and otherwise redraw it uniformly among the other choices.
    """

    choices: Sequence[Any] = field(default_factory=list)
    mutation_probability: float = 0.2

    is_integer: ClassVar[bool] = False
    kind: ClassVar[str] = "categorical"

    def __post_init__(self) -> None:
        if isinstance(self.choices, (str, bytes)) or not isinstance(self.choices,
                                                                     (Sequence, np.ndarray)):
            unordered = isinstance(self.choices, (set, frozenset))
            raise ValueError(  # noqa: TRY004  (every invalid space is a ValueError)
                f"CategoricalSpace: choices must be a list of values such as ['gelu', 'relu'], "
                f"not {type(self.choices).__name__} {self.choices!r}"
                + (" (a set has no order, so the encoding would change between runs)"
                   if unordered else ""))
        choices = self.choices.tolist() if isinstance(self.choices, np.ndarray) \
            else list(self.choices)
        if len(choices) < 2:
            raise ValueError(f"CategoricalSpace: choices needs at least 2 values, got {choices}")
        for c in choices:
            if not isinstance(c, (str, bool, int, float)) or c is None:
                raise ValueError(
                    f"CategoricalSpace: choice {c!r} must be a str, bool, int or float (JSON-safe)"
                )
        if len({(type(c).__name__, c) for c in choices}) != len(choices):
            raise ValueError(f"CategoricalSpace: choices contain duplicates: {choices}")
        if not 0.0 < self.mutation_probability < 1.0:
            raise ValueError(
                "CategoricalSpace: mutation_probability must be in (0, 1), "
                f"got {self.mutation_probability}"
            )
        object.__setattr__(self, "choices", tuple(choices))

    @property
    def basic_dim(self) -> int:
        """One basic column per choice (one-hot)."""
        return len(self.choices)

    def index(self, value: Any) -> int:
        """Index of ``value`` in choices (exact type match, so True is not 1); -1 if absent."""
        for i, c in enumerate(self.choices):
            if type(c) is type(value) and c == value:
                return i
            if isinstance(c, str) and isinstance(value, str) and c == value:  # numpy str_
                return i
            if isinstance(c, bool) and isinstance(value, np.bool_) and bool(value) is c:
                return i
        # tolerate numpy scalars and int/float equality for numeric choices
        for i, c in enumerate(self.choices):
            if not isinstance(c, (str, bool)) and not isinstance(value, (str, bool)):
                try:
                    if float(c) == float(value):
                        return i
                except (TypeError, ValueError):
                    pass
        return -1

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one of the choices."""
        return self.index(value) >= 0

    def to_json(self) -> dict:
        """JSON-safe description."""
        return {
            "type": "CategoricalSpace",
            "choices": list(self.choices),
            "mutation_probability": self.mutation_probability,
        }


AnySpace = Space | CategoricalSpace

_SPACE_TYPES = {c.__name__: c for c in (LinearSpace, LogSpace, LogitSpace, CategoricalSpace)}


def space_from_json(d: dict) -> AnySpace:
    """Rebuild a space from :meth:`to_json` output (only known types; no code execution)."""
    d = dict(d)
    tname = d.pop("type", None)
    if tname not in _SPACE_TYPES:
        raise ValueError(f"unknown space type {tname!r}; expected one of {sorted(_SPACE_TYPES)}")
    return _SPACE_TYPES[tname](**d)


@dataclass(frozen=True)
class Param:
    """A named hyperparameter: its space and its search center (a good first guess)."""

    name: str
    space: AnySpace
    search_center: Any

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Param: name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.space, (Space, CategoricalSpace)):
            raise TypeError(f"Param {self.name!r}: space must be a carbs space, got {self.space!r}")
        if isinstance(self.space, CategoricalSpace):
            if not self.space.contains(self.search_center):
                raise ValueError(
                    f"Param {self.name!r}: search_center {self.search_center!r} is not one of the "
                    f"choices {list(self.space.choices)}; pick one of them"
                )
            idx = self.space.index(self.search_center)
            object.__setattr__(self, "search_center", self.space.choices[idx])
            return
        try:
            c = float(self.search_center)
        except (TypeError, ValueError):
            raise ValueError(
                f"Param {self.name!r}: search_center must be a number, got {self.search_center!r}"
            ) from None
        rounded = float(self.space.round(c))
        if not bool(self.space.contains(rounded)):
            raise ValueError(
                f"Param {self.name!r}: search_center {self.search_center} is outside the space "
                f"bounds [{self.space.min}, {self.space.max}] (or its domain); move the center "
                "inside or widen min/max"
            )
        object.__setattr__(self, "search_center", self.space.to_python(rounded))

    def to_json(self) -> dict:
        """JSON-safe description."""
        return {"name": self.name, "space": self.space.to_json(), "search_center": self.search_center}

    @staticmethod
    def from_json(d: dict) -> Param:
        """Rebuild from :meth:`to_json` output."""
        return Param(d["name"], space_from_json(d["space"]), d["search_center"])
