"""The CARBS state file: versioned JSON, read and written safely. No pickle; loading never
executes code, and every record is validated before an optimiser is built from it.

This module is the file-format layer: it knows the JSON layout and :class:`CARBSSnapshot`, the
optimiser's public snapshot (:meth:`carbs.CARBS.snapshot` / :meth:`carbs.CARBS.restore`), not
the optimiser's insides. :mod:`carbs.persistence` turns a snapshot into a dict
(:meth:`carbs.CARBS.state_dict`) and back (:meth:`carbs.CARBS.from_state_dict`);
:meth:`carbs.CARBS.save` / :meth:`carbs.CARBS.load` use :func:`write_state_file` /
:func:`read_state_file` below.

Layout (schema version 1)::

    {"format": "carbs-state", "schema_version": 1,
     "config": {CARBSConfig fields}, "params": [Param.to_json()...],
     "observations": [{"config", "output", "cost", "is_failure", "suggestion_id"}...],
     "outstanding": [{"suggestion_id", "config", "predictions"}...],
     "predictions": {suggestion_id: {...}}, "successes_at_last_resample": int,
     "search_radius": {"factor", "hits", "misses"},
     "rng": {"numpy": bit generator state, "torch": [bytes]},
     "hyperparameters": {GP raw hyperparameters}}

Non-finite floats are written as ``null`` (standard JSON, :func:`tays.jsonable`) and read back
as NaN; the file is replaced atomically (:func:`tays.atomic_write_text`).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carbs.config import CARBSConfig, Observation, Suggestion
from carbs.spaces import Param
from tays import atomic_write_text, jsonable, utc_now  # re-exported for the sweep layer

logger = logging.getLogger("carbs")

__all__ = [
    "FORMAT",
    "SCHEMA_VERSION",
    "CARBSSnapshot",
    "StateFileError",
    "atomic_write_text",
    "check_state_dict",
    "jsonable",
    "read_state_file",
    "utc_now",
    "warm_start_observations",
    "write_state_file",
]

SCHEMA_VERSION = 1
FORMAT = "carbs-state"
REQUIRED_KEYS = ("config", "params", "observations", "outstanding", "rng")


class StateFileError(ValueError):
    """A state file (or dict) that cannot be loaded; the message names the file and the field."""


@dataclass
class CARBSSnapshot:
    """Everything that decides an optimiser's next suggestion, as plain values: what
    :meth:`carbs.CARBS.snapshot` returns and :meth:`carbs.CARBS.restore` takes (copies, so a
    snapshot never changes with the optimiser)."""

    config: CARBSConfig
    params: list[Param]
    observations: list[Observation]
    outstanding: list[Suggestion]
    """Suggestions handed out and not yet observed or forgotten."""
    predictions: dict[str, dict] = field(default_factory=dict)
    """suggestion_id -> what the models predicted for it (kept after it is observed)."""
    successes_at_last_resample: int = 0
    """Successful observations when CARBS last resampled a Pareto group."""
    radius_factor: float = 1.0
    """The adaptive search radius's factor and its streaks of front hits and misses."""
    front_hits: int = 0
    front_misses: int = 0
    numpy_rng: dict[str, Any] = field(default_factory=dict)
    """The numpy bit generator's state (``Generator.bit_generator.state``)."""
    torch_rng: list[int] = field(default_factory=list)
    """The torch generator's state as bytes (``Generator.get_state().tolist()``)."""
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    """The surrogates' raw GP hyperparameters (the next fit's warm start)."""


def write_state_file(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write a state dict (from :meth:`CARBS.state_dict`) as standard JSON, atomically."""
    text = json.dumps(jsonable(state), indent=1, allow_nan=False)
    atomic_write_text(path, text)
    logger.debug("saved CARBS state to %s", path)


def read_state_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read and structurally check a state file; errors name the file and what is wrong."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise StateFileError(f"{path}: no such CARBS state file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise StateFileError(f"{path}: cannot read the CARBS state file ({e})") from None
    if not text.strip():
        raise StateFileError(f"{path}: the CARBS state file is empty (a crash while writing it? "
                             "states are written atomically, so this file was made elsewhere)")
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise StateFileError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column "
                             f"{e.colno}); the file is truncated or corrupt") from None
    check_state_dict(d, source=str(path))
    return d


def check_state_dict(d: Any, source: str = "state") -> None:
    """Check the top-level layout of a state dict: format, schema version, required keys and
    their types. Record-level checks happen when the optimiser is rebuilt."""
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise StateFileError(f"{source}: not a CARBS state: the JSON lacks format='{FORMAT}'")
    version = d.get("schema_version")
    if version != SCHEMA_VERSION:
        raise StateFileError(
            f"{source}: state schema_version {version!r} is not supported (this carbs reads "
            f"version {SCHEMA_VERSION}); upgrade carbs or re-create the state"
        )
    missing = [k for k in REQUIRED_KEYS if k not in d]
    if missing:
        raise StateFileError(f"{source}: the state lacks the key(s) {missing}; the file is "
                             "incomplete or was not written by carbs")
    for key, kind in (("config", dict), ("params", list), ("observations", list),
                      ("outstanding", list), ("rng", dict)):
        if not isinstance(d[key], kind):
            raise StateFileError(f"{source}: '{key}' must be a JSON "
                                 f"{'object' if kind is dict else 'array'}, got "
                                 f"{type(d[key]).__name__}")


def _float_or_nan(v: Any) -> float:
    return math.nan if v is None else v


def warm_start_observations(d: dict[str, Any], new_names: Sequence[str],
                            fixed_values: Mapping[str, Any] | None,
                            source: str = "state") -> list[Observation]:
    """The old observations of state ``d`` as records for a new search space.

    New parameters (absent from the old state) take their value from ``fixed_values``; the
    old state may not have parameters that the new space lacks. Raises ``ValueError`` naming
    the parameters otherwise. Values are not validated here: the caller observes them.
    """
    check_state_dict(d, source)
    old_names = [p.get("name") for p in d["params"] if isinstance(p, dict)]
    fixed = dict(fixed_values or {})
    unknown_fixed = sorted(set(fixed) - set(new_names))
    if unknown_fixed:
        raise ValueError(f"fixed_values names {unknown_fixed} are not among the new params")
    dropped = sorted(set(old_names) - set(new_names))
    if dropped:
        raise ValueError(
            f"{source}: the old state has parameter(s) {dropped} that the new params lack; add "
            "them as Params (e.g. with the value they had as search_center)"
        )
    missing = sorted(set(new_names) - set(old_names) - set(fixed))
    if missing:
        raise ValueError(
            f"new parameter(s) {missing} have no value for the old observations; pass them in "
            "fixed_values={name: value}"
        )
    out = []
    for i, o in enumerate(d["observations"]):
        if not isinstance(o, dict) or not isinstance(o.get("config"), dict):
            raise StateFileError(f"{source}: observations[{i}] is not an object with a 'config'")
        config = {**o["config"], **{k: v for k, v in fixed.items() if k not in o["config"]}}
        out.append(Observation(config, _float_or_nan(o.get("output")), o.get("cost"),
                               bool(o.get("is_failure", False)), o.get("suggestion_id")))
    return out
