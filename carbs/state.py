"""Versioned JSON state: save / load / warm start. No pickle; loading never executes code.

The state holds the schema version, the config, the parameters and their spaces, every
observation, the outstanding suggestions, the RNG states (numpy bit generator state and the
torch generator's byte state as a list) and the GP hyperparameters used as warm starts, so a
loaded optimiser continues exactly: it makes the same next suggestion as the original.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from carbs.config import CARBSConfig, Observation, Suggestion
from carbs.spaces import Param

if TYPE_CHECKING:
    from carbs.optimizer import CARBS

logger = logging.getLogger("carbs")

__all__ = [
    "SCHEMA_VERSION",
    "load_state",
    "optimizer_from_dict",
    "save_state",
    "state_to_dict",
    "warm_start",
]

SCHEMA_VERSION = 1
_FORMAT = "carbs-state"


def _jsonable(x: Any) -> Any:
    """Recursively turn numpy scalars into Python values and non-finite floats into None."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _float(v: Any) -> float:
    return float("nan") if v is None else float(v)


def state_to_dict(opt: CARBS) -> dict[str, Any]:
    """The optimiser's full state as a JSON-safe dict."""
    with opt._lock:
        return _jsonable({
            "format": _FORMAT,
            "schema_version": SCHEMA_VERSION,
            "config": dataclasses.asdict(opt.config),
            "params": [p.to_json() for p in opt.params],
            "observations": [dataclasses.asdict(o) for o in opt._observations],
            "outstanding": [dataclasses.asdict(s) for s in opt._outstanding.values()],
            "predictions": opt._predictions,
            "obs_at_last_resample": opt._obs_at_last_resample,
            "search_radius": {"factor": opt._radius_factor, "hits": opt._front_hits,
                              "misses": opt._front_misses},
            "rng": {
                "numpy": opt.rng.bit_generator.state,
                "torch": opt.torch_generator.get_state().tolist(),
            },
            "hyperparameters": opt.surrogates.hyperparameters(),
        })


def optimizer_from_dict(d: dict[str, Any]) -> CARBS:
    """Rebuild an optimiser from :func:`state_to_dict` output."""
    from carbs.optimizer import CARBS

    if not isinstance(d, dict) or d.get("format") != _FORMAT:
        raise ValueError("not a CARBS state: the JSON lacks format='carbs-state'")
    version = d.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(
            f"state schema_version {version!r} is not supported (this carbs reads version "
            f"{SCHEMA_VERSION}); upgrade carbs or re-create the state"
        )
    cfg = CARBSConfig(**d["config"])
    params = [Param.from_json(p) for p in d["params"]]
    opt = CARBS(cfg, params)
    for o in d["observations"]:
        obs = Observation(o["config"], _float(o["output"]), float(o["cost"]),
                          bool(o["is_failure"]), o.get("suggestion_id"))
        opt._observations.append(obs)
        opt._obs_basic.append(opt.encoder.to_basic([obs.config])[0])
    for s in d["outstanding"]:
        opt._outstanding[s["suggestion_id"]] = Suggestion(s["suggestion_id"], s["config"],
                                                          s.get("predictions") or {})
    opt._predictions = dict(d.get("predictions") or {})
    opt._obs_at_last_resample = int(d.get("obs_at_last_resample", 0))
    radius = d.get("search_radius") or {}
    opt._radius_factor = float(radius.get("factor", 1.0))
    opt._front_hits = int(radius.get("hits", 0))
    opt._front_misses = int(radius.get("misses", 0))
    opt.rng.bit_generator.state = d["rng"]["numpy"]
    opt.torch_generator.set_state(torch.tensor(d["rng"]["torch"], dtype=torch.uint8))
    opt.surrogates.set_hyperparameters(d.get("hyperparameters") or {})
    return opt


def save_state(opt: CARBS, path: str | os.PathLike) -> None:
    """Write the state as JSON atomically (temporary file in the same folder + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(state_to_dict(opt), indent=1, allow_nan=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    logger.debug("saved CARBS state to %s", path)


def load_state(path: str | os.PathLike) -> CARBS:
    """Load a state saved by :func:`save_state`."""
    with open(path) as f:
        return optimizer_from_dict(json.load(f))


def warm_start(config: CARBSConfig, params: list[Param], from_state: str | os.PathLike | dict,
               fixed_values: dict[str, Any] | None = None,
               recenter_on_best: bool = False) -> CARBS:
    """A new optimiser that starts from an earlier sweep's observations.

    New parameters (absent from the old state) need a value in ``fixed_values``, used for every
    old observation. Old observations outside the new bounds are skipped (WARNING). With
    ``recenter_on_best`` the search centre moves to the best successful old observation.
    """
    from carbs.optimizer import CARBS

    if isinstance(from_state, dict):
        d = from_state
    else:
        with open(from_state) as f:
            d = json.load(f)
    old_names = [p["name"] for p in d.get("params", [])]
    new_names = [p.name for p in params]
    fixed = dict(fixed_values or {})
    unknown_fixed = sorted(set(fixed) - set(new_names))
    if unknown_fixed:
        raise ValueError(f"fixed_values names {unknown_fixed} are not among the new params")
    dropped = sorted(set(old_names) - set(new_names))
    if dropped:
        raise ValueError(
            f"the old state has parameter(s) {dropped} that the new params lack; add them as "
            "Params (e.g. with the value they had as search_center)"
        )
    missing = sorted(set(new_names) - set(old_names) - set(fixed))
    if missing:
        raise ValueError(
            f"new parameter(s) {missing} have no value for the old observations; pass them in "
            "fixed_values={name: value}"
        )
    old_obs = [
        Observation({**o["config"], **{k: v for k, v in fixed.items() if k not in o["config"]}},
                    _float(o["output"]), float(o["cost"]), bool(o["is_failure"]),
                    o.get("suggestion_id"))
        for o in d.get("observations", [])
    ]
    if recenter_on_best:
        ok = [o for o in old_obs if not o.is_failure and math.isfinite(o.output)]
        if ok:
            best = max(ok, key=lambda o: config.better_direction_sign * o.output)
            params = [Param(p.name, p.space, best.config[p.name]) for p in params]
    opt = CARBS(config, params)
    skipped = 0
    for o in old_obs:
        try:
            opt.observe(o.config, o.output, o.cost, is_failure=o.is_failure,
                        suggestion_id=o.suggestion_id)
        except ValueError as e:
            skipped += 1
            logger.debug("warm start: skipped an old observation: %s", e)
    if skipped:
        logger.warning("warm start: skipped %d old observation(s) outside the new spaces", skipped)
    return opt
