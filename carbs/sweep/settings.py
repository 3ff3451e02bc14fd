"""Settings of a CARBS sweep run through Hydra: the ``hydra.sweeper`` config schema, the search
space as YAML, and every check a sweep makes before its first trial.

A sweep YAML (``conf/sweep/*.yaml``) selects the sweeper and sets::

    hydra:
      sweeper:
        objective: output            # result key to optimise (default "output")
        direction: minimize          # or maximize
        cost: metric.flops           # result key holding the trial's cost (> 0)
        max_trials: 40               # budget: trials, and/or
        max_cost: 1e15               # ... the summed cost of all trials
        n_jobs: 2                    # suggestions per batch (= parallel workers)
        warm_start: {from: multirun/lm_tiny/<dir>}   # optional: start from an earlier sweep
        search_space:
          train.lr: {space: log, center: 3e-3, min: 1e-4, max: 0.1}
          model.d_model: {space: log, center: 128, min: 32, max: 512, integer: true,
                          rounding_factor: 32}
          model.position: {space: categorical, choices: [rotary, t5], center: rotary}

Each search-space key is the config path of the parameter; its fields are ``space`` (linear |
log | logit | categorical), ``center`` (the search centre: a good first guess), ``min``,
``max``, ``scale`` (basic-space units per log10 / linear unit), ``integer``,
``rounding_factor``, and for categoricals ``choices`` and ``mutation_probability``. Parameters
outside the search space keep their config values.

This module imports neither torch nor Hydra's runtime (only ``hydra.errors``), so the Hydra
plugin shim stays fast.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, Optional  # noqa: UP035  (OmegaConf needs typing generics)

from hydra.errors import CompactHydraException

from carbs.spaces import CategoricalSpace, Param
from tays import SearchSpaceError, format_override
from tays import param_from_spec as _param_from_spec

__all__ = [
    "CARBSSweeperConf",
    "SweepConfigError",
    "SweepSettings",
    "check_param_paths",
    "format_override",
    "param_from_spec",
    "params_from_search_space",
]

_SEARCH_SPACE = "hydra.sweeper.search_space"
_DIRECTIONS = {"minimize": -1, "minimise": -1, "min": -1, "maximize": 1, "maximise": 1, "max": 1}
_ON_INTERRUPTED = ("retry", "fail")


class SweepConfigError(CompactHydraException, ValueError):
    """A sweep setting that cannot work; the message names the field and the fix. (Hydra prints
    it as one line, without a traceback.)"""


@dataclass
class CARBSSweeperConf:
    """The ``hydra/sweeper: carbs`` schema (registered in Hydra's ConfigStore by the plugin)."""

    _target_: str = "hydra_plugins.carbs_sweeper.carbs_sweeper.CARBSSweeper"
    search_space: Dict[str, Any] = field(default_factory=dict)  # noqa: UP006
    """Config path -> {space, center, min, max, scale, integer, rounding_factor, choices}."""
    objective: str = "output"
    """Result key of the objective (the task function returns a dict)."""
    direction: str = "minimize"
    """``minimize`` or ``maximize`` the objective."""
    cost: str = "cost"
    """Result key of the trial's cost (e.g. ``metric.flops``, ``metric.wall_seconds``)."""
    max_trials: Optional[int] = None  # noqa: UP045
    """Budget: stop launching after this many trials (across resumes)."""
    max_cost: Optional[float] = None  # noqa: UP045
    """Budget: stop launching once the trials' summed cost reaches this."""
    n_jobs: int = 1
    """Suggestions per batch; the launcher runs a batch (in parallel when it can)."""
    max_suggestion_cost: Optional[float] = None  # noqa: UP045
    """Soft ceiling on a suggestion's predicted cost (CARBSConfig.max_suggestion_cost)."""
    seed: int = 0
    """Seed of the optimiser."""
    carbs: Dict[str, Any] = field(default_factory=dict)  # noqa: UP006
    """Any other CARBSConfig field (exploration_bias, resample_frequency, ...)."""
    name: Optional[str] = None  # noqa: UP045
    """Sweep name in the journal (default: the ``sweep`` group choice, else the app name)."""
    resume: bool = False
    """Resume the newest journal of this sweep among the sweep directory's siblings when the
    sweep directory itself has none (a journal in the sweep directory is always resumed)."""
    on_interrupted: str = "retry"
    """Trials left running by a dead sweep: ``retry`` (once) or ``fail``."""
    max_consecutive_failures: int = 10
    """Stop the sweep after this many failed trials in a row."""
    plot_interval_s: float = 30.0
    """Refresh the sweep's PNG plots at most this often, counted from the sweep's start (0:
    after every batch), and always at the end."""
    warm_start: Dict[str, Any] = field(default_factory=dict)  # noqa: UP006
    """Start from an earlier sweep's observations: ``{from: <sweep dir or carbs_state.json>,
    fixed_values: {new.param: value}, recenter_on_best: false}`` (``CARBS.warm_start``);
    empty: a cold start. (A mapping, not null: OmegaConf cannot merge into a null mapping.)"""


def direction_sign(direction: Any) -> int:
    """``minimize`` -> -1, ``maximize`` -> +1 (also min/max, -1/+1)."""
    if isinstance(direction, str) and direction.lower() in _DIRECTIONS:
        return _DIRECTIONS[direction.lower()]
    if direction in (-1, 1) and not isinstance(direction, bool):
        return int(direction)
    raise SweepConfigError(f"hydra.sweeper.direction={direction!r}: use 'minimize' or 'maximize'")


def param_from_spec(path: str, spec: Any) -> Param:
    """One search-space entry as a :class:`carbs.Param` (:func:`tays.param_from_spec`); errors
    name ``hydra.sweeper.search_space.<path>``, the field and the fix."""
    if not isinstance(path, str) or not path or path.startswith(("hydra.", "+", "~")):
        raise SweepConfigError(f"{_SEARCH_SPACE}.{path}: the key must be a config path such as "
                               "train.lr (not a hydra.* setting or an override prefix)")
    try:
        return _param_from_spec(path, spec, prefix=_SEARCH_SPACE)
    except SearchSpaceError as e:
        raise SweepConfigError(str(e)) from None


def params_from_search_space(search_space: Mapping[str, Any]) -> list[Param]:
    """The search space (config path -> spec) as CARBS parameters, in the given order."""
    if not isinstance(search_space, Mapping) or not search_space:
        raise SweepConfigError(f"{_SEARCH_SPACE} is empty: name at least one config path to "
                               "tune, e.g. train.lr: {space: log, center: 1e-3, min: 1e-5, max: "
                               "1e-1}")
    return [param_from_spec(path, spec) for path, spec in search_space.items()]


@dataclass
class SweepSettings:
    """Validated sweep settings (from :class:`CARBSSweeperConf` fields)."""

    params: list[Param]
    objective: str
    sign: int
    cost: str
    max_trials: int | None
    max_cost: float | None
    n_jobs: int
    carbs: dict[str, Any]
    name: str | None
    resume: bool
    on_interrupted: str
    max_consecutive_failures: int
    plot_interval_s: float
    warm_start: dict[str, Any] | None = None

    @classmethod
    def from_conf(cls, conf: Mapping[str, Any]) -> SweepSettings:
        """Check every field of the sweeper config; errors name ``hydra.sweeper.<field>``."""
        known = {f.name for f in fields(CARBSSweeperConf)}
        unknown = sorted(set(conf) - known)
        if unknown:
            raise SweepConfigError(f"hydra.sweeper: unknown field(s) {unknown}; known: "
                                   f"{sorted(known - {'_target_'})}")
        c = {f.name: f.default if f.default_factory is MISSING else f.default_factory()
             for f in fields(CARBSSweeperConf)}
        c.update(conf)
        for key in ("objective", "cost"):
            if not isinstance(c[key], str) or not c[key]:
                raise SweepConfigError(f"hydra.sweeper.{key} must name a result key, got "
                                       f"{c[key]!r}")
        max_trials, max_cost = c["max_trials"], c["max_cost"]
        if max_trials is None and max_cost is None:
            raise SweepConfigError("hydra.sweeper: set a budget: max_trials (a number of "
                                   "trials) and/or max_cost (the summed cost of all trials)")
        if max_trials is not None and (isinstance(max_trials, bool) or not isinstance(
                max_trials, int) or max_trials < 1):
            raise SweepConfigError(f"hydra.sweeper.max_trials must be an integer >= 1, got "
                                   f"{max_trials!r}")
        if max_cost is not None:
            max_cost = _budget(max_cost, "max_cost")
        n_jobs = c["n_jobs"]
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
            raise SweepConfigError(f"hydra.sweeper.n_jobs must be an integer >= 1, got {n_jobs!r}")
        if c["on_interrupted"] not in _ON_INTERRUPTED:
            raise SweepConfigError(f"hydra.sweeper.on_interrupted={c['on_interrupted']!r}: use "
                                   f"one of {list(_ON_INTERRUPTED)}")
        mcf = c["max_consecutive_failures"]
        if isinstance(mcf, bool) or not isinstance(mcf, int) or mcf < 1:
            raise SweepConfigError(f"hydra.sweeper.max_consecutive_failures must be an integer "
                                   f">= 1, got {mcf!r}")
        carbs = dict(c["carbs"] or {})
        for key in ("better_direction_sign", "max_suggestion_cost", "seed"):
            if key in carbs:
                raise SweepConfigError(f"hydra.sweeper.carbs.{key}: set it as hydra.sweeper."
                                       f"{'direction' if key == 'better_direction_sign' else key}")
        carbs["better_direction_sign"] = direction_sign(c["direction"])
        carbs["seed"] = c["seed"]
        if c["max_suggestion_cost"] is not None:
            carbs["max_suggestion_cost"] = _budget(c["max_suggestion_cost"],
                                                   "max_suggestion_cost")
        _check_carbs_fields(carbs)
        warm = _warm_start(c["warm_start"])
        return cls(params=params_from_search_space(c["search_space"]),
                   objective=c["objective"], sign=carbs["better_direction_sign"], cost=c["cost"],
                   max_trials=max_trials, max_cost=max_cost, n_jobs=n_jobs, carbs=carbs,
                   name=c["name"], resume=bool(c["resume"]), on_interrupted=c["on_interrupted"],
                   max_consecutive_failures=mcf, plot_interval_s=float(c["plot_interval_s"]),
                   warm_start=warm)

    def identity(self) -> dict[str, Any]:
        """What a resumed sweep must share with the journal it continues (JSON-safe)."""
        return {"space": {p.name: p.to_json()["space"] | {"center": p.search_center}
                          for p in self.params},
                "objective": self.objective, "direction": "maximize" if self.sign > 0
                else "minimize", "cost_key": self.cost}


def _warm_start(spec: Any) -> dict[str, Any] | None:
    """``hydra.sweeper.warm_start`` checked: the state file it names must exist."""
    if spec is None or (isinstance(spec, Mapping) and not spec):
        return None
    if not isinstance(spec, Mapping) or "from" not in spec:
        raise SweepConfigError("hydra.sweeper.warm_start must be a mapping such as {from: "
                               "multirun/lm_tiny/<dir>, fixed_values: {}, recenter_on_best: "
                               f"false}}, got {spec!r}")
    unknown = sorted(set(spec) - {"from", "fixed_values", "recenter_on_best"})
    if unknown:
        raise SweepConfigError(f"hydra.sweeper.warm_start: unknown field(s) {unknown}; known: "
                               "['fixed_values', 'from', 'recenter_on_best']")
    path = Path(str(spec["from"])).expanduser()
    if path.is_dir():
        path = path / "carbs_state.json"
    if not path.is_file():
        raise SweepConfigError(f"hydra.sweeper.warm_start.from={spec['from']!r}: no CARBS state "
                               f"at {path} (give a sweep directory holding carbs_state.json, or "
                               "the state file)")
    fixed = spec.get("fixed_values") or {}
    if not isinstance(fixed, Mapping):
        raise SweepConfigError("hydra.sweeper.warm_start.fixed_values must map new parameter "
                               f"paths to their value in the old sweep, got {fixed!r}")
    return {"from": str(path.absolute()), "fixed_values": dict(fixed),
            "recenter_on_best": bool(spec.get("recenter_on_best", False))}


def _budget(v: Any, name: str) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise SweepConfigError(f"hydra.sweeper.{name} must be a number > 0, got {v!r}") from None
    if isinstance(v, bool) or not (math.isfinite(x) and x > 0):
        raise SweepConfigError(f"hydra.sweeper.{name} must be a finite number > 0, got {v!r}")
    return x


def _check_carbs_fields(carbs: dict[str, Any]) -> None:
    from carbs.config import CARBSConfig

    known = {f.name for f in fields(CARBSConfig)}
    unknown = sorted(set(carbs) - known)
    if unknown:
        raise SweepConfigError(f"hydra.sweeper.carbs: unknown CARBSConfig field(s) {unknown}; "
                               f"known: {sorted(known)}")
    try:
        CARBSConfig(**carbs)
    except (TypeError, ValueError) as e:
        raise SweepConfigError(f"hydra.sweeper.carbs: {e}") from None


def check_param_paths(config: Any, params: Sequence[Param]) -> None:
    """Every parameter must name a value in the composed config (an OmegaConf DictConfig), of a
    type its space can produce."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    for p in params:
        where = f"hydra.sweeper.search_space.{p.name}"
        parent, _, leaf = p.name.rpartition(".")
        node = OmegaConf.select(config, parent) if parent else config
        if not isinstance(node, DictConfig) or leaf not in node:
            raise SweepConfigError(f"{where}: '{p.name}' is not a key of the composed config; "
                                   "check the spelling (see --cfg job for the config)")
        if OmegaConf.is_missing(node, leaf):
            continue
        value = node[leaf]
        if isinstance(value, (DictConfig, ListConfig)):
            raise SweepConfigError(f"{where}: '{p.name}' is a config section, not a value; tune "
                                   "a value under it (e.g. model.d_model)")
        integer = getattr(p.space, "is_integer", False)
        if (isinstance(value, int) and not isinstance(value, bool)
                and not isinstance(p.space, CategoricalSpace) and not integer):
            raise SweepConfigError(f"{where}: '{p.name}' is an integer in the config ({value}); "
                                   "add integer: true to its search space")
