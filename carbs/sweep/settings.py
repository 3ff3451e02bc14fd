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
        n_jobs: 2                    # trials in flight
        schedule: async              # a freed worker gets the next suggestion (or: batch)
        final_wave: shorten          # async: late launches end with the rest (or: none)
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

The schema is declared once, as the typed dataclass :class:`CARBSSweeperConf` (its ``carbs``
section derived from :class:`carbs.CARBSConfig`): OmegaConf checks the types, ``__post_init__``
the value ranges and what spans fields. This module imports neither torch nor Hydra's runtime
(only ``hydra.errors``), so the Hydra plugin shim stays fast.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, make_dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Dict, Optional  # noqa: UP035  (OmegaConf needs typing generics)

from hydra.errors import CompactHydraException

from carbs.config import CARBSConfig
from carbs.spaces import CategoricalSpace, Param, check_integer_reachability
from tays import SearchSpaceError, format_override
from tays import param_from_spec as _param_from_spec

__all__ = [
    "CARBSOptions",
    "CARBSSweeperConf",
    "Direction",
    "FinalWave",
    "OnInterrupted",
    "Schedule",
    "SweepConfigError",
    "TrialOutput",
    "check_param_paths",
    "format_override",
    "load_settings",
    "param_from_spec",
    "params_from_search_space",
]

_SEARCH_SPACE = "hydra.sweeper.search_space"


class SweepConfigError(CompactHydraException, ValueError):
    """A sweep setting that cannot work; the message names the field and the fix. (Hydra prints
    it as one line, without a traceback.)"""


class Direction(Enum):
    """Which way the objective improves."""

    minimize = -1
    maximize = 1


#: ``async``: ``n_jobs`` trials in flight, a freed worker gets the next suggestion at once;
#: ``batch``: ``n_jobs`` suggestions per batch, the next batch after the slowest trial.
Schedule = Enum("Schedule", ["async", "batch"], module=__name__)


class FinalWave(Enum):
    """The last launches of an async sweep (:mod:`carbs.sweep.final_wave`): ``shorten`` caps
    their predicted cost so that they end with the trials in flight; ``none`` leaves them be."""

    shorten = 1
    none = 2


class OnInterrupted(Enum):
    """What a resumed sweep does with a trial the dead sweep left running."""

    retry = 1
    fail = 2


class TrialOutput(Enum):
    """Where a trial's own output (its logging, prints, warnings) goes."""

    file = 1
    console = 2


# the CARBSConfig fields a sweep sets through its own settings (direction, seed, the cost cap)
_SWEEP_LEVEL = {"better_direction_sign": "direction", "seed": "seed",
                "max_suggestion_cost": "max_suggestion_cost"}


def _omegaconf_type(hint: Any) -> Any:
    """A type OmegaConf checks: ``X | None`` (PEP 604, which OmegaConf does not read) as
    ``Optional[X]``."""
    args = typing.get_args(hint)
    if type(None) in args and len(args) == 2:
        return Optional[next(a for a in args if a is not type(None))]  # noqa: UP045
    return hint


def _carbs_options() -> type:
    """A dataclass of every :class:`carbs.CARBSConfig` field the sweep does not set itself,
    with CARBSConfig's types and defaults: the schema of ``hydra.sweeper.carbs``, derived
    from CARBSConfig so that the optimiser's options are declared once."""
    hints = typing.get_type_hints(CARBSConfig)
    specs = [(f.name, _omegaconf_type(hints[f.name]), field(default=f.default))
             for f in fields(CARBSConfig) if f.name not in _SWEEP_LEVEL]
    cls = make_dataclass("CARBSOptions", specs)
    cls.__module__ = __name__  # pickled by reference, as a class of this module
    cls.__doc__ = ("``hydra.sweeper.carbs``: any :class:`carbs.CARBSConfig` field except "
                   f"{sorted(_SWEEP_LEVEL)} (set as hydra.sweeper.direction / seed / "
                   "max_suggestion_cost).")
    return cls


CARBSOptions = _carbs_options()


@dataclass
class CARBSSweeperConf:
    """The ``hydra/sweeper: carbs`` schema (registered in Hydra's ConfigStore by the plugin).

    Hydra (OmegaConf) checks each field's type when it composes the config; constructing the
    dataclass (:func:`load_settings`) runs ``__post_init__``: value ranges, the checks that
    span fields, the search space and the optimiser's options."""

    _target_: str = "hydra_plugins.carbs_sweeper.carbs_sweeper.CARBSSweeper"
    search_space: Dict[str, Any] = field(default_factory=dict)  # noqa: UP006
    """Config path -> {space, center, min, max, scale, integer, rounding_factor, choices}."""
    objective: str = "output"
    """Result key of the objective (the task function returns a dict)."""
    direction: Direction = Direction.minimize
    """``minimize`` or ``maximize`` the objective."""
    cost: str = "cost"
    """Result key of the trial's cost (e.g. ``metric.flops``, ``metric.wall_seconds``)."""
    max_trials: Optional[int] = None  # noqa: UP045
    """Budget: launch at most this many trials (across resumes; exact)."""
    max_cost: Optional[float] = None  # noqa: UP045
    """Budget: no new trial once the cost spent plus the predicted cost of the trials in flight
    reaches this (the overshoot is at most the trials in flight; the summary says by how
    much)."""
    max_trial_cost_fraction: Optional[float] = None  # noqa: UP045
    """With ``max_cost``: cap each suggestion's predicted cost at this fraction of what is left
    of the budget (``CARBS.suggest(max_suggestion_cost=...)``), so one trial cannot eat it."""
    n_jobs: int = 1
    """Trials in flight (``async``) or suggestions per batch (``batch``)."""
    schedule: Schedule = Schedule["async"]
    """``async`` (a freed worker gets the next suggestion at once) or ``batch``."""
    final_wave: FinalWave = FinalWave.shorten
    """``async``: ``shorten`` (the default) caps each launch's predicted cost so that it is
    expected to end no later than the trials in flight or the sweep's expected last launch
    (seconds per cost learnt from the finished trials), to shorten the idle tail after the last
    launch; ``none``: no such cap (a late expensive trial keeps one worker busy while the others
    idle)."""
    trial_timeout_s: Optional[float] = None  # noqa: UP045
    """A trial still running after this many seconds fails and frees its worker."""
    trial_output: TrialOutput = TrialOutput.file
    """``file``: each trial's output goes to its job folder's log, one console line per
    finished trial; ``console``: trials print to the sweep's console too."""
    max_suggestion_cost: Optional[float] = None  # noqa: UP045
    """Soft ceiling on a suggestion's predicted cost (CARBSConfig.max_suggestion_cost)."""
    seed: int = 0
    """Seed of the optimiser."""
    carbs: CARBSOptions = field(default_factory=CARBSOptions)  # type: ignore[valid-type]
    """Any other CARBSConfig field (exploration_bias, resample_frequency, ...)."""
    name: Optional[str] = None  # noqa: UP045
    """Sweep name in the journal (default: the ``sweep`` group choice, else the app name)."""
    resume: bool = False
    """Resume the newest journal of this sweep (same identity) among the sweep directory's
    siblings when the sweep directory itself has none (a journal in the sweep directory is
    always resumed)."""
    on_interrupted: OnInterrupted = OnInterrupted.retry
    """Trials left running by a dead sweep: ``retry`` (once) or ``fail``."""
    max_consecutive_failures: int = 10
    """Stop the sweep after this many failed trials in a row."""
    plot_interval_s: Optional[float] = 30.0  # noqa: UP045
    """Refresh the sweep's PNG plots at most this often, counted from the sweep's start (0:
    after every trial), and always at the end; null: no plots (a script or test that reads the
    journal; ``carbs.plot_pareto_front`` and friends draw them from ``carbs_state.json``)."""
    warm_start: Dict[str, Any] = field(default_factory=dict)  # noqa: UP006
    """Start from an earlier sweep's observations: ``{from: <sweep dir or carbs_state.json>,
    fixed_values: {new.param: value}, recenter_on_best: false}`` (``CARBS.warm_start``);
    empty: a cold start. (A mapping, not null: OmegaConf cannot merge into a null mapping.)"""

    def __post_init__(self) -> None:
        for key in ("objective", "cost"):
            if not getattr(self, key):
                raise SweepConfigError(f"hydra.sweeper.{key} must name a result key, got ''")
        if self.max_trials is None and self.max_cost is None:
            raise SweepConfigError("hydra.sweeper: set a budget: max_trials (a number of "
                                   "trials) and/or max_cost (the summed cost of all trials)")
        for key in ("max_trials", "n_jobs", "max_consecutive_failures"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise SweepConfigError(f"hydra.sweeper.{key} must be an integer >= 1, got "
                                       f"{value!r}")
        for key in ("max_cost", "max_suggestion_cost", "trial_timeout_s"):
            value = getattr(self, key)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise SweepConfigError(f"hydra.sweeper.{key} must be a finite number > 0, got "
                                       f"{value!r}")
        fraction = self.max_trial_cost_fraction
        if fraction is not None:
            if not 0 < fraction <= 1:
                raise SweepConfigError("hydra.sweeper.max_trial_cost_fraction must be in (0, 1] "
                                       f"(a share of the remaining budget), got {fraction!r}")
            if self.max_cost is None:
                raise SweepConfigError("hydra.sweeper.max_trial_cost_fraction needs "
                                       "hydra.sweeper.max_cost (a share of which budget?)")
        if self.seed < 0:
            raise SweepConfigError(f"hydra.sweeper.seed must be >= 0, got {self.seed}")
        if self.plot_interval_s is not None and not self.plot_interval_s >= 0:
            raise SweepConfigError("hydra.sweeper.plot_interval_s must be >= 0, got "
                                   f"{self.plot_interval_s!r}")
        try:
            config = self.carbs_config()
        except (TypeError, ValueError) as e:
            raise SweepConfigError(f"hydra.sweeper.carbs: {e}") from None
        self._params = _checked_params(self.search_space, config.initial_search_radius)
        self.warm_start = _warm_start(self.warm_start)

    # --- derived --------------------------------------------------------------------------
    @property
    def params(self) -> list[Param]:
        """The search space as CARBS parameters, in the given order."""
        return list(self._params)

    @property
    def sign(self) -> int:
        """-1 to minimise the objective, +1 to maximise it."""
        return self.direction.value

    @property
    def is_async(self) -> bool:
        """Steady-state scheduling (``schedule: async``)."""
        return self.schedule.name == "async"

    def carbs_config(self) -> CARBSConfig:
        """The optimiser's configuration. CARBS is told ``max_cost`` as its ``total_budget``
        and ``max_trials`` as its ``total_trials`` unless ``carbs.total_budget`` /
        ``carbs.total_trials`` is set (the sweep adds the cost and the number of warm-started
        observations, which CARBS counts against them: ``carbs.sweep.opening.tell_budget``)."""
        options = dataclasses.asdict(self.carbs)
        if options.get("total_budget") is None and self.max_cost is not None:
            options["total_budget"] = self.max_cost
        if options.get("total_trials") is None and self.max_trials is not None:
            options["total_trials"] = self.max_trials
        return CARBSConfig(better_direction_sign=self.sign, seed=self.seed,
                           max_suggestion_cost=self.max_suggestion_cost, **options)

    def carbs_options(self) -> dict[str, Any]:
        """The CARBSConfig fields as the journal records them (JSON-safe)."""
        return dataclasses.asdict(self.carbs_config())

    def identity(self, fixed_overrides: Sequence[str] | None = None,
                 config_name: str | None = None) -> dict[str, Any]:
        """What a resumed sweep must share with the journal it continues (JSON-safe): the search
        space, objective, direction and cost key, and (when given) the command line's fixed
        overrides and the app's config name."""
        out: dict[str, Any] = {
            "space": {p.name: p.to_json()["space"] | {"center": p.search_center}
                      for p in self._params},
            "objective": self.objective, "direction": self.direction.name, "cost_key": self.cost}
        if fixed_overrides is not None:
            out["fixed_overrides"] = sorted(fixed_overrides)
        if config_name is not None:
            out["config_name"] = config_name
        return out


def load_settings(conf: Any) -> CARBSSweeperConf:
    """``hydra.sweeper`` (a mapping or DictConfig) as a checked :class:`CARBSSweeperConf`: the
    types as OmegaConf checks them, then ``__post_init__``. Errors name the field."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        node = OmegaConf.merge(OmegaConf.structured(CARBSSweeperConf), conf)
        settings = OmegaConf.to_object(node)
    except OmegaConfBaseException as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        key = getattr(e, "full_key", None)
        if key and key.startswith("carbs.") and key[6:] in _SWEEP_LEVEL:
            raise SweepConfigError(f"hydra.sweeper.{key}: set it as hydra.sweeper."
                                   f"{_SWEEP_LEVEL[key[6:]]}") from None
        raise SweepConfigError(f"hydra.sweeper.{key}: {first}" if key else
                               f"hydra.sweeper: {first}") from None
    assert isinstance(settings, CARBSSweeperConf)
    return settings


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


def _checked_params(search_space: Mapping[str, Any], radius: float) -> list[Param]:
    """The parameters, each integer space checked for steps CARBS can take (an explicit
    ``scale`` too small to reach the neighbouring integers is refused)."""
    params = params_from_search_space(search_space)
    for p in params:
        try:
            check_integer_reachability([p], radius)
        except ValueError as e:
            raise SweepConfigError(f"{_SEARCH_SPACE}.{p.name}.scale: "
                                   f"{str(e).split(': ', 1)[-1]}") from None
    return params


def _warm_start(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``hydra.sweeper.warm_start`` checked: the state file it names must exist."""
    if not spec:
        return {}
    if "from" not in spec:
        raise SweepConfigError("hydra.sweeper.warm_start must be a mapping such as {from: "
                               "multirun/lm_tiny/<dir>, fixed_values: {}, recenter_on_best: "
                               f"false}}, got {dict(spec)!r}")
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
        numeric = not isinstance(p.space, CategoricalSpace)
        if numeric and isinstance(value, (str, bool)):
            kind = "a boolean" if isinstance(value, bool) else "a string"
            raise SweepConfigError(
                f"{where}: '{p.name}' is {kind} in the config ({value!r}), which a numeric "
                f"space cannot produce; use space: categorical with choices (e.g. choices: "
                f"[{value!r}, ...]) or tune a numeric field")
        integer = getattr(p.space, "is_integer", False)
        if (isinstance(value, int) and not isinstance(value, bool)
                and not isinstance(p.space, CategoricalSpace) and not integer):
            raise SweepConfigError(f"{where}: '{p.name}' is an integer in the config ({value}); "
                                   "add integer: true to its search space")
