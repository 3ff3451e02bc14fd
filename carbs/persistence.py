"""Persistence of the CARBS optimiser: its state as a JSON-safe dict, the state file, and warm
starts from an earlier sweep. The methods live on :class:`carbs.CARBS` (this mixin is one of its
bases) and reach the optimiser only through its public API: :meth:`carbs.CARBS.snapshot` and
:meth:`carbs.CARBS.restore` (a :class:`carbs.state.CARBSSnapshot`),
:meth:`carbs.CARBS.check_observation`, ``encoder``, ``config`` and ``params``. The file layout
and its checks are :mod:`carbs.state`.

Every record of a state is validated exactly as :meth:`carbs.CARBS.observe` validates an
observation; errors name the file (``source``), the record and the field, and a state that fails
leaves the optimiser unchanged.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from carbs.config import CARBSConfig, Observation, Suggestion
from carbs.encoder import ParamEncoder
from carbs.spaces import Param
from carbs.state import (
    FORMAT,
    SCHEMA_VERSION,
    CARBSSnapshot,
    StateFileError,
    check_state_dict,
    read_state_file,
    warm_start_observations,
    write_state_file,
)
from tays import jsonable

if TYPE_CHECKING:
    from typing_extensions import Self

logger = logging.getLogger("carbs")

__all__ = ["PersistenceMixin"]


class PersistenceMixin:
    """``state_dict`` / ``load_state_dict`` / ``from_state_dict``, ``save`` / ``load`` and
    ``warm_start`` of :class:`carbs.CARBS`."""

    def state_dict(self) -> dict[str, Any]:
        """The optimiser's whole state as a JSON-safe dict: config, params, observations,
        outstanding suggestions, predictions, RNG states and GP hyperparameters (warm starts),
        from :meth:`snapshot`. :meth:`from_state_dict` rebuilds an optimiser that makes the same
        next suggestion."""
        snap = self.snapshot()
        return jsonable({
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "config": dataclasses.asdict(snap.config),
            "params": [p.to_json() for p in snap.params],
            "observations": [dataclasses.asdict(o) for o in snap.observations],
            "outstanding": [dataclasses.asdict(s) for s in snap.outstanding],
            "predictions": snap.predictions,
            "successes_at_last_resample": snap.successes_at_last_resample,
            "search_radius": {"factor": snap.radius_factor, "hits": snap.front_hits,
                              "misses": snap.front_misses},
            "rng": {"numpy": snap.numpy_rng, "torch": snap.torch_rng},
            "hyperparameters": snap.hyperparameters,
        })

    def load_state_dict(self, d: dict[str, Any], source: str = "state") -> None:
        """Replace this optimiser's observations, outstanding suggestions, RNG states and
        warm-start hyperparameters by those of ``d`` (from :meth:`state_dict`), through
        :meth:`restore`. ``d`` must describe the same parameters. Every record is validated as
        :meth:`observe` validates it; errors name ``source``, the record and the field.
        Nothing changes on error."""
        check_state_dict(d, source)
        names = [p.get("name") if isinstance(p, dict) else None for p in d["params"]]
        if names != self.encoder.names:
            raise StateFileError(f"{source}: the state's parameters {names} differ from this "
                                 f"optimiser's {self.encoder.names}")
        observations = self._observations_of(d, source)
        seen = {o.suggestion_id for o in observations if o.suggestion_id is not None}
        rng = d["rng"]
        radius = d.get("search_radius") or {}
        snap = CARBSSnapshot(
            config=self.config, params=list(self.params), observations=observations,
            outstanding=self._outstanding_of(d, source, seen),
            predictions=dict(d.get("predictions") or {}),
            successes_at_last_resample=_successes_at_last_resample(d, observations),
            radius_factor=float(radius.get("factor", 1.0)), front_hits=int(radius.get("hits", 0)),
            front_misses=int(radius.get("misses", 0)), numpy_rng=rng.get("numpy"),
            torch_rng=rng.get("torch"), hyperparameters=d.get("hyperparameters") or {})
        try:
            self.restore(snap)
        except ValueError as e:
            raise StateFileError(f"{source}: {e}") from None

    def _observations_of(self, d: dict[str, Any], source: str) -> list[Observation]:
        """The state's observations, each checked as :meth:`observe` checks it."""
        observations: list[Observation] = []
        seen: set[str] = set()
        for i, o in enumerate(d["observations"]):
            where = f"{source}: observations[{i}]"
            rec = _record(o, where, ("config", "output", "cost"))
            try:
                config, output, cost, failed = self.check_observation(
                    rec["config"], _none_is_nan(rec["output"]), rec["cost"],
                    rec.get("is_failure", False))
            except (TypeError, ValueError) as e:
                raise StateFileError(f"{where}: {e}") from None
            sid = rec.get("suggestion_id")
            if sid is not None:
                if sid in seen:
                    raise StateFileError(f"{where}: suggestion_id {sid!r} is observed twice")
                seen.add(sid)
            observations.append(Observation(config, output, cost, failed, sid))
        return observations

    def _outstanding_of(self, d: dict[str, Any], source: str,
                        observed: set[str]) -> list[Suggestion]:
        """The state's outstanding suggestions, each config checked against the spaces."""
        outstanding: dict[str, Suggestion] = {}
        for i, o in enumerate(d["outstanding"]):
            where = f"{source}: outstanding[{i}]"
            rec = _record(o, where, ("suggestion_id", "config"))
            try:
                self.encoder.validate(rec["config"])
            except (TypeError, ValueError) as e:
                raise StateFileError(f"{where}: {e}") from None
            sid = str(rec["suggestion_id"])
            if sid in observed or sid in outstanding:
                raise StateFileError(f"{where}: suggestion_id {sid!r} appears twice")
            outstanding[sid] = Suggestion(sid, self.encoder.normalize(rec["config"]),
                                          rec.get("predictions") or {})
        return list(outstanding.values())

    @classmethod
    def from_state_dict(cls, d: dict[str, Any], source: str = "state") -> Self:
        """A new optimiser from :meth:`state_dict` output; errors name ``source`` and the field."""
        check_state_dict(d, source)
        try:
            cfg = CARBSConfig(**d["config"])
        except TypeError as e:
            raise StateFileError(f"{source}: 'config' has a field CARBSConfig does not know "
                                 f"({e})") from None
        except ValueError as e:
            raise StateFileError(f"{source}: config: {e}") from None
        params = []
        for i, p in enumerate(d["params"]):
            try:
                params.append(Param.from_json(p))
            except (TypeError, ValueError, KeyError) as e:
                raise StateFileError(f"{source}: params[{i}]: {e}") from None
        try:
            opt = cls(cfg, params)
        except ValueError as e:
            raise StateFileError(f"{source}: {e}") from None
        opt.load_state_dict(d, source)
        return opt

    def save(self, path: str | os.PathLike) -> None:
        """Write the versioned JSON state atomically (see :mod:`carbs.state`)."""
        write_state_file(path, self.state_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Self:
        """Load a state written by :meth:`save`; continues exactly where it stopped. Every
        record is validated; errors name the file, the record and the field."""
        return cls.from_state_dict(read_state_file(path), source=str(path))

    @classmethod
    def warm_start(cls, config: CARBSConfig, params: Sequence[Param],
                   from_state: str | os.PathLike | dict, fixed_values: dict[str, Any] | None = None,
                   recenter_on_best: bool = False) -> Self:
        """A new optimiser that starts from an earlier sweep's observations.

        New parameters (absent from the old state) need a value in ``fixed_values``, used for
        every old observation; a fixed value outside its new space raises. Old observations
        outside the new bounds are skipped (WARNING with the count). With ``recenter_on_best``
        the search center moves to the best successful old observation.
        """
        if isinstance(from_state, dict):
            d, source = from_state, "from_state"
        else:
            d, source = read_state_file(from_state), str(from_state)
        params = list(params)
        by_name = {p.name: p for p in params}
        for name, value in (fixed_values or {}).items():
            if name in by_name and not _in_space(by_name[name], value):
                raise ValueError(f"fixed_values[{name!r}]={value!r} is outside the new space of "
                                 f"{name!r}; every old observation would be dropped. Use a value "
                                 "inside the new bounds")
        old_obs = warm_start_observations(d, [p.name for p in params], fixed_values, source)
        if recenter_on_best:
            ok = [o for o in old_obs if not o.is_failure and isinstance(o.output, (int, float))
                  and math.isfinite(o.output)]
            ok = [o for o in ok if all(_in_space(by_name[n], o.config[n]) for n in by_name)]
            if ok:
                best = max(ok, key=lambda o: config.better_direction_sign * o.output)
                params = [Param(p.name, p.space, best.config[p.name]) for p in params]
        opt = cls(config, params)
        skipped = 0
        for o in old_obs:
            try:
                opt.observe(o.config, o.output, o.cost, is_failure=o.is_failure,
                            suggestion_id=o.suggestion_id)
            except ValueError as e:
                skipped += 1
                logger.debug("warm start: skipped an old observation: %s", e)
        if skipped:
            logger.warning("warm start: skipped %d of %d old observation(s) outside the new "
                           "spaces", skipped, len(old_obs))
        return opt


def _successes_at_last_resample(d: dict[str, Any], observations: list[Observation]) -> int:
    """The resampling counter of a state: successful observations at the last resample. States
    written before it was kept hold ``obs_at_last_resample`` (all observations) instead."""
    if "successes_at_last_resample" in d:
        return int(d["successes_at_last_resample"])
    n_obs = int(d.get("obs_at_last_resample", 0))
    return sum(not o.is_failure for o in observations[:n_obs])


def _none_is_nan(value: Any) -> Any:
    return math.nan if value is None else value


def _record(obj: Any, where: str, keys: Sequence[str]) -> dict:
    if not isinstance(obj, dict):
        raise StateFileError(f"{where}: must be a JSON object, got {type(obj).__name__}")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise StateFileError(f"{where}: missing key(s) {missing}")
    if "config" in keys and not isinstance(obj["config"], dict):
        raise StateFileError(f"{where}: 'config' must be a JSON object")
    return obj


def _in_space(param: Param, value: Any) -> bool:
    try:
        ParamEncoder([param]).validate({param.name: value})
    except (TypeError, ValueError):
        return False
    return True
