"""A search space written as data: ``config path -> spec``, parsed into :class:`tays.Param`.

Two spellings are read, the same parameters either way:

* a sweep YAML's ``hydra.sweeper.search_space`` (``conf/sweep/*.yaml``)::

      train.lr: {space: log, center: 3.0e-3, min: 1.0e-4, max: 3.0e-2}
      model.d_model: {space: log, center: 96, min: 32, max: 384, integer: true, rounding_factor: 32}
      model.act: {space: categorical, choices: [gelu, relu], center: gelu}

* the ``space`` entry of a sweep journal's ``meta`` table, as the sweeper records it
  (``Space.to_json()`` plus the centre)::

      {"train.lr": {"type": "LogSpace", "min": 1e-4, "max": 0.03, "scale": null,
                    "is_integer": false, "rounding_factor": 1, "center": 0.003}, ...}

Fields: ``space`` (linear | log | logit | categorical), ``center`` (the search centre: a good
first guess; a categorical's defaults to its first choice), ``min``, ``max``, ``scale``
(basic-space units per log10 / linear unit), ``integer``, ``rounding_factor``, and for
categoricals ``choices`` and ``mutation_probability``. Every error is a
:class:`SearchSpaceError` whose message starts with the entry's path and names the field and
the fix; the sweep layer turns it into its own (Hydra-printed) error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tays.spaces import NUMERIC_KINDS, CategoricalSpace, LinearSpace, LogitSpace, LogSpace, Param

__all__ = ["SPEC_FIELDS", "SearchSpaceError", "param_from_spec", "param_to_spec",
           "params_from_search_space"]

_SPACES = {"linear": LinearSpace, "log": LogSpace, "logit": LogitSpace}
_KINDS = [*NUMERIC_KINDS, "categorical"]
#: The fields of one entry (sweep-YAML spelling).
SPEC_FIELDS = ("space", "center", "min", "max", "scale", "integer", "rounding_factor", "choices",
               "mutation_probability")
_ALIASES = {"search_center": "center", "is_integer": "integer", "type": "space"}
_TYPE_NAMES = {"LogSpace": "log", "LinearSpace": "linear", "LogitSpace": "logit",
               "CategoricalSpace": "categorical"}


class SearchSpaceError(ValueError):
    """A search-space entry that cannot work; the message starts with its path and names the
    field and the fix."""


def param_from_spec(path: str, spec: Any, *, prefix: str = "search_space") -> Param:
    """One search-space entry as a :class:`Param` named ``path``. Errors name
    ``<prefix>.<path>``, the field and the fix."""
    where = f"{prefix}.{path}" if prefix else str(path)
    if not isinstance(spec, Mapping):
        raise SearchSpaceError(f"{where}: must be a mapping such as "
                               "{space: log, center: 1e-3, min: 1e-5, max: 1e-1}, got "
                               f"{spec!r}")
    spec = {_ALIASES.get(k, k): v for k, v in spec.items()}
    unknown = sorted(set(spec) - set(SPEC_FIELDS))
    if unknown:
        raise SearchSpaceError(f"{where}: unknown field(s) {unknown}; known fields: "
                               f"{list(SPEC_FIELDS)}")
    kind = spec.get("space", "categorical" if "choices" in spec else None)
    kind = _TYPE_NAMES.get(kind, kind) if isinstance(kind, str) else kind
    if kind is None:
        raise SearchSpaceError(f"{where}.space: missing; use one of {_KINDS}")
    try:
        if kind == "categorical":
            return _categorical(path, spec)
        if kind not in _SPACES:
            raise SearchSpaceError(f"{where}.space={kind!r} is not a space type; use one of "
                                   f"{_KINDS}")
        if "choices" in spec or "mutation_probability" in spec:
            raise ValueError(f"choices/mutation_probability need space: categorical, not {kind}")
        if spec.get("center") is None:
            raise SearchSpaceError(f"{where}.center: missing; give a good first guess inside "
                                   "[min, max]")
        integer = spec.get("integer", False)
        if not isinstance(integer, bool):
            raise ValueError(f"integer must be true or false, got {integer!r}")  # noqa: TRY004
        space = _SPACES[kind](min=_number(spec.get("min"), "min"),
                              max=_number(spec.get("max"), "max"),
                              scale=_number(spec.get("scale"), "scale"), is_integer=integer,
                              rounding_factor=spec.get("rounding_factor", 1))
        return Param(path, space, _number(spec["center"], "center"))
    except SearchSpaceError:
        raise
    except (TypeError, ValueError) as e:
        raise SearchSpaceError(f"{where}: {e}") from None


def _categorical(path: str, spec: Mapping[str, Any]) -> Param:
    extra = sorted(k for k in spec if k in ("min", "max", "scale", "integer", "rounding_factor"))
    if extra:
        raise ValueError(f"fields {extra} do not apply to a categorical space")
    choices = spec.get("choices")
    if not isinstance(choices, Sequence) or isinstance(choices, str):
        raise ValueError("choices must be a list of values, e.g. [gelu, relu]")  # noqa: TRY004
    space = CategoricalSpace(list(choices), float(spec.get("mutation_probability", 0.2)))
    center = spec.get("center")
    return Param(path, space, space.choices[0] if center is None else center)


def _number(v: Any, name: str) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        try:  # YAML reads 1e-3 (no dot) as a string
            return float(v)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {v!r}") from None
    return float(v)


def params_from_search_space(search_space: Mapping[str, Any], *,
                             prefix: str = "search_space") -> list[Param]:
    """A whole search space (config path -> spec) as parameters, in the given order; errors
    name ``<prefix>.<path>`` and the field."""
    if not isinstance(search_space, Mapping) or not search_space:
        raise SearchSpaceError(f"{prefix} is empty: name at least one config path to tune, "
                               "e.g. train.lr: {space: log, center: 1e-3, min: 1e-5, max: 1e-1}")
    return [param_from_spec(path, spec, prefix=prefix) for path, spec in search_space.items()]


def param_to_spec(param: Param) -> dict[str, Any]:
    """A parameter back in the sweep-YAML spelling (the inverse of :func:`param_from_spec`):
    ``{space, choices, center}`` for a categorical, ``{space, min, max, scale, integer,
    rounding_factor, center}`` otherwise."""
    sp = param.space
    if isinstance(sp, CategoricalSpace):
        return {"space": sp.kind, "choices": list(sp.choices), "center": param.search_center}
    return {"space": sp.kind, "min": sp.min, "max": sp.max, "scale": sp.scale,
            "integer": sp.is_integer, "rounding_factor": sp.rounding_factor,
            "center": param.search_center}
