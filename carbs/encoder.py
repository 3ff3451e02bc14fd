"""Whole configurations (dicts) <-> rows of basic space, vectorised; config validation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from carbs.spaces import CategoricalSpace, Param, Space

__all__ = ["ParamEncoder"]


class ParamEncoder:
    """Maps whole configurations (dicts) to basic-space rows and back, vectorised."""

    def __init__(self, params: Sequence[Param]):
        params = list(params)
        if not params:
            raise ValueError("params: at least one Param is required")
        names = [p.name for p in params]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"params: duplicate names {dup}; every Param needs a unique name")
        self.params = params
        self.names = names
        self.slices: list[slice] = []
        start = 0
        for p in params:
            self.slices.append(slice(start, start + p.space.basic_dim))
            start += p.space.basic_dim
        self.dim = start

    # --- validation -------------------------------------------------------------------------
    def validate(self, config: dict) -> None:
        """Raise ``ValueError`` naming the field for unknown/missing names or out-of-bounds values."""
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict of parameter values, got {type(config).__name__}")
        unknown = sorted(set(config) - set(self.names))
        if unknown:
            raise ValueError(f"config has unknown parameter(s) {unknown}; known: {self.names}")
        missing = [n for n in self.names if n not in config]
        if missing:
            raise ValueError(f"config is missing parameter(s) {missing}; give a value for each")
        for p in self.params:
            v = config[p.name]
            if isinstance(p.space, CategoricalSpace):
                if not p.space.contains(v):
                    raise ValueError(
                        f"config[{p.name!r}]={v!r} is not one of the choices {list(p.space.choices)}"
                    )
                continue
            try:
                fv = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"config[{p.name!r}]={v!r} must be a number") from None
            if isinstance(v, (bool, np.bool_, str)):  # observe() raises ValueError for bad input
                raise ValueError(f"config[{p.name!r}]={v!r} must be a number, not "  # noqa: TRY004
                                 f"{type(v).__name__}")
            if not bool(p.space.contains(fv)):
                raise ValueError(
                    f"config[{p.name!r}]={v!r} is out of bounds [{p.space.min}, {p.space.max}] "
                    "(or outside the space's domain)"
                )
            if p.space.is_integer:
                grid = float(p.space.round(fv))
                if abs(grid - fv) > 1e-9 * max(1.0, abs(fv)):
                    r = p.space.rounding_factor
                    what = "an integer" if r == 1 else f"a multiple of rounding_factor {r}"
                    raise ValueError(f"config[{p.name!r}]={v!r} must be {what} (integer space); "
                                     f"the nearest allowed value is {p.space.to_python(grid)}")

    def normalize(self, config: dict) -> dict:
        """Plain Python values in parameter order (canonical choice objects, ints for integral
        values of integer spaces). Call :meth:`validate` first."""
        out = {}
        for p in self.params:
            v = config[p.name]
            if isinstance(p.space, CategoricalSpace):
                out[p.name] = p.space.choices[p.space.index(v)]
            else:
                fv = float(v)
                out[p.name] = p.space.to_python(p.space.round(fv)) if p.space.is_integer else fv
        return out

    # --- mapping ----------------------------------------------------------------------------
    def to_basic(self, configs: Sequence[dict]) -> np.ndarray:
        """Configs to an (n, dim) float64 array in basic space."""
        out = np.zeros((len(configs), self.dim), dtype=np.float64)
        for p, sl in zip(self.params, self.slices):
            if isinstance(p.space, CategoricalSpace):
                for i, c in enumerate(configs):
                    out[i, sl.start + p.space.index(c[p.name])] = 1.0
            else:
                vals = np.array([float(c[p.name]) for c in configs], dtype=np.float64)
                out[:, sl.start] = p.space.to_basic(vals)
        return out

    def round_basic(self, basic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Round rows to representable values (integers, exact one-hot) and flag in-bounds rows.

        Returns (rounded basic array, boolean mask of valid rows).
        """
        basic = np.array(basic, dtype=np.float64, copy=True)
        valid = np.all(np.isfinite(basic), axis=1)
        for p, sl in zip(self.params, self.slices):
            if isinstance(p.space, CategoricalSpace):
                block = basic[:, sl]
                idx = np.argmax(block, axis=1)
                block[:] = 0.0
                block[np.arange(len(block)), idx] = 1.0
                basic[:, sl] = block
            else:
                x = p.space.from_basic(basic[:, sl.start])
                valid &= p.space.contains(x)
                basic[:, sl.start] = p.space.to_basic(x)
        basic[~valid] = 0.0
        return basic, valid

    def from_basic(self, basic: np.ndarray) -> list[dict]:
        """Rows of basic space to configs (plain Python values, integers rounded)."""
        basic = np.atleast_2d(basic)
        cols = {}
        for p, sl in zip(self.params, self.slices):
            if isinstance(p.space, CategoricalSpace):
                idx = np.argmax(basic[:, sl], axis=1)
                cols[p.name] = [p.space.choices[i] for i in idx]
            else:
                x = p.space.from_basic(basic[:, sl.start])
                if p.space.min is not None:  # guard float round-off at the bounds
                    x = np.maximum(x, p.space.min)
                if p.space.max is not None:
                    x = np.minimum(x, p.space.max)
                cols[p.name] = [p.space.to_python(v) for v in x]
        return [{n: cols[n][i] for n in self.names} for i in range(basic.shape[0])]

    def center_basic(self) -> np.ndarray:
        """The search center in basic space, shape (dim,)."""
        return self.to_basic([{p.name: p.search_center for p in self.params}])[0]

    def categorical_blocks(self) -> list[tuple[slice, float]]:
        """(slice, mutation_probability) for each categorical parameter."""
        return [
            (sl, p.space.mutation_probability)
            for p, sl in zip(self.params, self.slices)
            if isinstance(p.space, CategoricalSpace)
        ]

    def numeric_columns(self) -> np.ndarray:
        """Indices of the numeric basic columns."""
        return np.array(
            [sl.start for p, sl in zip(self.params, self.slices) if isinstance(p.space, Space)],
            dtype=np.int64,
        )
