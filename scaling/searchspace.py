"""A sweep's search space as plain data, read without importing ``carbs``.

The recommendation respects the space a sweep searched: each numeric parameter's basic space
(log, linear, logit), integer rounding to multiples of ``rounding_factor``, ``min`` / ``max``
bounds, and categorical choices. Two spellings are accepted (see :func:`parse_space`):

* the journal's ``meta`` table (key ``space``), as CARBS writes it:
  ``{"train.lr": {"type": "LogSpace", "min": 1e-4, "max": 0.03, "scale": null,
  "is_integer": false, "rounding_factor": 1, "center": 0.003}, ...}``;
* a sweep YAML's ``hydra.sweeper.search_space`` (``conf/sweep/*.yaml``):
  ``{"train.lr": {"space": "log", "center": 3e-3, "min": 1e-4, "max": 0.03}, ...}``.

Also here: reading a journal's ``meta`` table with :mod:`sqlite3`, reading a search space from
a YAML / JSON file, and what a Hydra sweep directory says about how its jobs were launched
(the recipe module and the fixed overrides), for a ready command line.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scaling.basic_space import from_basic, to_basic

logger = logging.getLogger(__name__)

__all__ = ["HydraJob", "ParamSpec", "format_override", "hydra_job", "load_space_file",
           "parse_space", "read_journal_meta"]

_TYPE_NAMES = {"LogSpace": "log", "LinearSpace": "linear", "LogitSpace": "logit",
               "CategoricalSpace": "categorical"}
_KINDS = ("log", "linear", "logit", "categorical")
_SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


@dataclass(frozen=True)
class ParamSpec:
    """One searched hyperparameter (``name`` is the config path, without ``param.``)."""

    name: str
    kind: str
    """``log``, ``linear``, ``logit`` or ``categorical``."""
    min: float | None = None
    max: float | None = None
    scale: float | None = None
    integer: bool = False
    rounding_factor: int = 1
    choices: tuple = ()
    center: Any = None

    @property
    def is_categorical(self) -> bool:
        """True for a categorical (finite choices) parameter."""
        return self.kind == "categorical"

    def forward(self, x):
        """Param space -> unscaled basic space (:func:`scaling.basic_space.to_basic`)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return to_basic(self.kind, x)

    def inverse(self, t):
        """Unscaled basic space -> param space (:func:`scaling.basic_space.from_basic`)."""
        with np.errstate(over="ignore"):
            return from_basic(self.kind, t)

    def round(self, x: float) -> float:
        """Round to the integer grid (multiples of ``rounding_factor``) when integer; a log
        space never rounds to zero (the smallest multiple is ``rounding_factor``)."""
        if not self.integer:
            return float(x)
        r = float(self.rounding_factor)
        v = float(np.round(x / r) * r)
        if self.kind == "log" and v <= 0:
            v = r
        return v

    def grid_neighbours(self, x: float) -> list[float]:
        """The integer-grid values just below and above ``x`` (``[x]`` when not integer)."""
        if not self.integer:
            return [float(x)]
        r = float(self.rounding_factor)
        lo, hi = math.floor(x / r) * r, math.ceil(x / r) * r
        vals = {v for v in (lo, hi) if not (self.kind == "log" and v <= 0)}
        return sorted(vals) or [r]

    def clamp(self, x: float) -> float:
        """Clip into [min, max] (bounds that are set), keeping integer values on the grid."""
        v = float(x)
        if self.min is not None and v < self.min:
            v = float(self.min)
            if self.integer:
                r = float(self.rounding_factor)
                v = math.ceil(v / r) * r
        if self.max is not None and v > self.max:
            v = float(self.max)
            if self.integer:
                r = float(self.rounding_factor)
                v = math.floor(v / r) * r
        return v

    def contains(self, x: float) -> bool:
        """Whether ``x`` lies within the bounds."""
        return not ((self.min is not None and x < self.min)
                    or (self.max is not None and x > self.max))

    def python_value(self, x: Any) -> Any:
        """A plain Python value for configs: int for integer spaces, the matching choice for
        categoricals."""
        if self.is_categorical:
            return self.match_choice(x)
        return round(float(x)) if self.integer else float(x)

    def match_choice(self, value: Any) -> Any:
        """The choice equal to ``value`` (tables store booleans as 0/1 and numbers as floats);
        ``value`` itself when no choice matches."""
        for c in self.choices:
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


def _field(spec: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for n in names:
        if n in spec and spec[n] is not None:
            return spec[n]
    return default


def _num(v: Any, name: str, what: str) -> float | None:
    if v is None:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"search space {name}.{what}: {v!r} is not a number") from None
    if not math.isfinite(x):
        raise ValueError(f"search space {name}.{what}: {v!r} is not finite")
    return x


def parse_space(space: Mapping[str, Any]) -> dict[str, ParamSpec]:
    """A search space (journal ``meta`` or sweep-YAML spelling; keys may carry ``param.``) as
    :class:`ParamSpec` objects by name. Raises a ValueError naming the entry and field."""
    if not isinstance(space, Mapping):
        raise ValueError(f"search space must be a mapping of parameter -> spec, got "  # noqa: TRY004
                         f"{type(space).__name__}")
    out: dict[str, ParamSpec] = {}
    for key, spec in space.items():
        name = str(key).removeprefix("param.")
        if isinstance(spec, ParamSpec):
            out[name] = spec
            continue
        if not isinstance(spec, Mapping):
            raise ValueError(f"search space {name}: expected a mapping such as "  # noqa: TRY004
                             f"{{space: log, min: 1e-4, max: 0.1}}, got {spec!r}")
        kind = _field(spec, "space", "type")
        kind = _TYPE_NAMES.get(kind, kind)
        if kind is None and "choices" in spec:
            kind = "categorical"
        if kind not in _KINDS:
            raise ValueError(f"search space {name}: unknown space {kind!r}; use one of "
                             f"{list(_KINDS)} (or a journal type {list(_TYPE_NAMES)})")
        center = _field(spec, "center", "search_center")
        if kind == "categorical":
            choices = spec.get("choices")
            if not isinstance(choices, Sequence) or isinstance(choices, str) or not choices:
                raise ValueError(f"search space {name}: a categorical needs a list of choices")
            out[name] = ParamSpec(name, kind, choices=tuple(choices), center=center)
            continue
        lo, hi = _num(spec.get("min"), name, "min"), _num(spec.get("max"), name, "max")
        if lo is not None and hi is not None and not lo < hi:
            raise ValueError(f"search space {name}: min ({lo}) must be < max ({hi})")
        if kind == "log" and lo is not None and lo <= 0:
            raise ValueError(f"search space {name}: a log space needs min > 0, got {lo}")
        integer = bool(_field(spec, "integer", "is_integer", default=False))
        rf = _field(spec, "rounding_factor", default=1)
        if int(rf) != rf or rf < 1:
            raise ValueError(f"search space {name}: rounding_factor must be a positive "
                             f"integer, got {rf!r}")
        out[name] = ParamSpec(name, kind, lo, hi, _num(spec.get("scale"), name, "scale"),
                              integer, int(rf) if integer else 1, (), center)
    return out


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
    ``{key: decoded JSON}``; None when ``path`` has no SQLite journal or no ``meta`` table."""
    file = _journal_file(Path(path))
    if file is None:
        return None
    try:
        con = sqlite3.connect(f"file:{file.resolve()}?mode=ro", uri=True, timeout=5.0)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master "
                                                "WHERE type='table'")}
            if "meta" not in tables:
                return None
            rows = con.execute("SELECT key, value FROM meta").fetchall()
        finally:
            con.close()
    except sqlite3.Error as err:
        raise ValueError(f"cannot read the meta table of {file}: {err}") from err
    meta = {}
    for key, value in rows:
        try:
            meta[key] = json.loads(value)
        except (TypeError, ValueError):
            meta[key] = value
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


_BARE = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")


def format_override(path: str, value: Any) -> str:
    """``path=value`` as a Hydra command-line override (6 significant digits for floats)."""
    if isinstance(value, (bool, np.bool_)):
        text = "true" if value else "false"
    elif isinstance(value, (int, np.integer)):
        text = str(int(value))
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise ValueError(f"{path}: cannot pass the non-finite value {value!r}")
        text = f"{float(value):.6g}"
        if re.fullmatch(r"-?\d+", text):  # keep a float a float for Hydra
            text += ".0"
    else:
        text = str(value)
        if not _BARE.match(text) or text.lower() in ("true", "false", "null"):
            text = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return f"{path}={text}"
