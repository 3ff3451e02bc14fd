"""The search space a sweep searched, as the recommendation uses it.

The space itself is the trial contract's (:mod:`tays.searchspace`: the journal's ``meta``
spelling or a sweep YAML's ``hydra.sweeper.search_space``, parsed into :class:`tays.Param`).
Here: where a recommendation finds it (the journal of a sweep directory, a YAML / JSON file),
the value rules a recommendation applies to it (an integer grid that never rounds a log value
to zero, the grid neighbours of a value, a table's spelling of a choice), and what a Hydra
sweep directory says about how its jobs were launched (the recipe module and the fixed
overrides), for a ready command line.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tays import CategoricalSpace, Param, params_from_search_space
from tays import read_journal_meta as _read_meta

logger = logging.getLogger(__name__)

__all__ = ["HydraJob", "grid_neighbours", "hydra_job", "load_space_file", "match_choice",
           "parse_space", "python_value", "read_journal_meta", "round_value"]

_SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def parse_space(space: Mapping[str, Any]) -> dict[str, Param]:
    """A search space (journal ``meta`` or sweep-YAML spelling; keys may carry ``param.``) as
    :class:`tays.Param` objects by name. Raises a ValueError naming the entry and field."""
    if not isinstance(space, Mapping):
        raise ValueError(f"search space must be a mapping of parameter -> spec, got "  # noqa: TRY004
                         f"{type(space).__name__}")
    given = {str(k).removeprefix("param."): v for k, v in space.items()}
    ready = {n: v for n, v in given.items() if isinstance(v, Param)}
    specs = {n: v for n, v in given.items() if n not in ready}
    parsed = {p.name: p for p in params_from_search_space(specs)} if specs else {}
    return {n: ready.get(n) or parsed[n] for n in given}


# --- values --------------------------------------------------------------------------------
def round_value(param: Param, x: float) -> float:
    """``x`` on the parameter's integer grid (multiples of ``rounding_factor``) when integer; a
    log space never rounds to zero (the smallest multiple is ``rounding_factor``)."""
    sp = param.space
    v = float(sp.round(x))
    if sp.is_integer and sp.kind == "log" and v <= 0:
        v = float(sp.rounding_factor)
    return v


def grid_neighbours(param: Param, x: float) -> list[float]:
    """The integer-grid values just below and above ``x`` (``[x]`` when not integer)."""
    sp = param.space
    if not sp.is_integer:
        return [float(x)]
    r = float(sp.rounding_factor)
    lo, hi = math.floor(x / r) * r, math.ceil(x / r) * r
    vals = {v for v in (lo, hi) if not (sp.kind == "log" and v <= 0)}
    return sorted(vals) or [r]


def python_value(param: Param, x: Any) -> Any:
    """A plain Python value for configs: int for integer spaces, the matching choice for
    categoricals."""
    if isinstance(param.space, CategoricalSpace):
        return match_choice(param.space, x)
    return param.space.to_python(x)


def match_choice(space: CategoricalSpace, value: Any) -> Any:
    """The choice equal to ``value`` as a table spells it (booleans as 0/1 or 'true', numbers
    as floats); ``value`` itself when no choice matches."""
    for c in space.choices:
        if isinstance(c, bool):
            if isinstance(value, (bool, np.bool_, int, float, np.integer, np.floating)) \
                    and not pd.isna(value) and bool(value) is c and float(value) in (0.0, 1.0):
                return c
            if isinstance(value, str) and value.lower() == str(c).lower():
                return c
        elif isinstance(c, str):
            if str(value) == c:
                return c
        else:
            try:
                if float(value) == float(c):
                    return c
            except (TypeError, ValueError):
                continue
    return value


# --- reading -------------------------------------------------------------------------------
def _journal_file(path: Path) -> Path | None:
    if path.is_file():
        return path if path.suffix.lower() in _SQLITE_SUFFIXES else None
    from scaling.io import find_table_file

    try:
        found = find_table_file(path)
    except FileNotFoundError:
        return None
    return found if found.suffix.lower() in _SQLITE_SUFFIXES else None


def read_journal_meta(path: str | Path) -> dict[str, Any] | None:
    """The ``meta`` table of a sweep journal (a file, or the journal of a sweep directory) as
    ``{key: decoded JSON}`` plus ``_journal`` (the file); None when ``path`` has no SQLite
    journal or no ``meta`` table."""
    file = _journal_file(Path(path))
    meta = None if file is None else _read_meta(file)
    if meta is not None:
        meta["_journal"] = str(file)
    return meta


def load_space_file(path: str | Path) -> dict[str, Any]:
    """A search space from a file: a sweep YAML (``hydra.sweeper.search_space``), a journal's
    meta space as JSON (``{"space": {...}}`` or the bare mapping), or a bare YAML mapping."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--search-space {path}: no such file (give a conf/sweep/*.yaml or a "
                         f"JSON search space)")
    text = path.read_text()
    if path.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ValueError(f"--search-space {path}: not valid YAML ({err})") from err
    if isinstance(data, Mapping):
        sweeper = (data.get("hydra") or {}).get("sweeper") if isinstance(
            data.get("hydra"), Mapping) else None
        if isinstance(sweeper, Mapping) and "search_space" in sweeper:
            data = sweeper["search_space"]
        elif "search_space" in data:
            data = data["search_space"]
        elif "space" in data and isinstance(data["space"], Mapping):
            data = data["space"]
    if not isinstance(data, Mapping) or not data:
        raise ValueError(f"--search-space {path}: no search space found (expected "
                         f"hydra.sweeper.search_space in a sweep YAML, or a mapping of "
                         f"parameter -> spec)")
    return dict(data)


@dataclass
class HydraJob:
    """How a Hydra sweep launched its jobs: the recipe module (``hydra.help.app_name`` when it
    is a module path), the fixed task overrides, and the ``sweep`` config choice."""

    module: str | None = None
    overrides: list[str] = field(default_factory=list)
    sweep_config: str | None = None


_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def hydra_job(sweep_dir: str | Path, table: pd.DataFrame, tuned: Sequence[str]) -> HydraJob:
    """Read one job's ``.hydra/hydra.yaml`` in a sweep directory (from the table's ``job_dir``
    column, else ``<sweep_dir>/<n>/``). Overrides of ``tuned`` parameters are left out."""
    sweep_dir = Path(sweep_dir)
    candidates = []
    if "job_dir" in table.columns:
        candidates += [Path(str(p)) for p in table["job_dir"].dropna().unique()[:20]]
    if sweep_dir.is_dir():
        candidates += sorted((p for p in sweep_dir.iterdir() if p.name.isdigit()),
                             key=lambda p: int(p.name))[:20]
    for job in candidates:
        hy = job / ".hydra" / "hydra.yaml"
        if not hy.is_file():
            hy = sweep_dir / job.name / ".hydra" / "hydra.yaml"  # the sweep dir was moved
            if not hy.is_file():
                continue
        import yaml

        try:
            conf = (yaml.safe_load(hy.read_text()) or {}).get("hydra", {})
        except yaml.YAMLError:
            continue
        app = str((conf.get("help") or {}).get("app_name") or "")
        task = list((conf.get("overrides") or {}).get("task") or [])
        keep = []
        for o in task:
            key = str(o).split("=", 1)[0].lstrip("+~")
            if key not in tuned:
                keep.append(str(o))
        choice = ((conf.get("runtime") or {}).get("choices") or {}).get("sweep")
        return HydraJob(app if _MODULE.match(app) and app != "__main__" else None, keep,
                        str(choice) if choice else None)
    return HydraJob()
