"""The next sweep: a ``conf/sweep``-style YAML centred on a recommendation.

The file selects the CARBS sweeper and sets ``hydra.sweeper.search_space`` in the sweeper's
format (``{space, center, min, max, scale, integer, rounding_factor, choices}``, see
``tays.searchspace``):

* ``center``: the recommended value (of the smallest budget: CARBS walks up the front from its
  centre, and ``max_suggestion_cost`` caps it at the largest budget);
* ``scale``: chosen so that CARBS's search radius (0.3 basic units by default) spans half the
  recommendation's interval in the parameter's own space (``scale = half-width / 0.3``), never
  below a quarter of the small sweep's scale, and large enough for integer neighbours to be
  reachable;
* ``min`` / ``max``: the small sweep's bounds widened to hold the recommendation and its
  interval, so that every old observation stays inside and ``CARBS.warm_start`` keeps them all;
* every parameter of the small sweep is kept (warm start needs the old parameters), with the
  same choices for categoricals.

When the source sweep's Hydra config choice is known (``+sweep=lm_tiny``), the file includes it
first, so the recipe settings of the small sweep (model family, data, fixed overrides) carry
over and only the search space and the budget change.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from tays import CategoricalSpace, LinearSpace, LogSpace, Param, Space, atomic_write_text

#: CARBS's default ``initial_search_radius`` (basic-space units).
CARBS_RADIUS = 0.3
_INTEGER_MARGIN = 1.05


def _half_width(space: Space, lo: float, hi: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = float(space.forward(lo)), float(space.forward(hi))
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.nan
    return abs(b - a) / 2.0


def _scale(space: Space, center: float, lo: float, hi: float) -> float:
    base = space.scale if space.scale else 1.0
    if space.kind == "linear" and not space.scale:
        bounded = space.min is not None and space.max is not None
        span = (space.max - space.min) if bounded else abs(center) or 1.0
        base = span / 5.0  # a linear space without a scale: its range over 5 basic units
    hw = _half_width(space, lo, hi)
    scale = hw / CARBS_RADIUS if math.isfinite(hw) and hw > 0 else base
    scale = min(max(scale, 0.25 * base), 4.0 * base)
    if space.is_integer:  # the nearest integer neighbour must lie within one radius
        r = float(space.rounding_factor)
        gaps = [abs(float(space.forward(center + d)) - float(space.forward(center)))
                for d in (-r, r) if center + d > 0 or space.kind != "log"]
        gap = min(gaps) if gaps else 0.0
        scale = max(scale, gap / CARBS_RADIUS * _INTEGER_MARGIN)
    return float(f"{scale:.4g}")


def _sig(x: float, up: bool) -> float:
    """``x`` rounded outward (up or down) to 6 significant digits."""
    if x == 0 or not math.isfinite(x):
        return float(x)
    q = 10.0 ** (math.floor(math.log10(abs(x))) - 5)
    return float(f"{(math.ceil(x / q) if up else math.floor(x / q)) * q:.6g}")


def _bound(space: Space, values: list[float], which: str) -> float | int | None:
    """The small sweep's bound, widened (outward) to hold ``values``."""
    old = space.min if which == "min" else space.max
    if old is None:
        return None
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if space.kind == "log":
        finite = [v for v in finite if v > 0]
    if space.kind == "logit":
        finite = [v for v in finite if 0 < v < 1]
    new = min([old, *finite]) if which == "min" else max([old, *finite])
    if new == old:  # the small sweep's bound already holds the recommendation: keep it
        return int(old) if space.is_integer and float(old).is_integer() else float(old)
    if space.is_integer:
        r = float(space.rounding_factor)
        new = (math.floor(new / r) if which == "min" else math.ceil(new / r)) * r
        if space.kind == "log" and new <= 0:
            new = r
        return int(new)
    return _sig(new, up=which == "max")


def search_space_entry(spec: Param, value: Any, interval: list[float] | None,
                       grows: bool = False) -> dict:
    """One ``hydra.sweeper.search_space`` entry centred on ``value``.

    The bounds are the small sweep's, widened to hold ``value``; for a parameter that
    ``grows`` with the budget (size, tokens, cost) also to hold its interval, cut to one basic
    unit (a decade in log space) either side of the value.
    """
    space = spec.space
    if isinstance(space, CategoricalSpace):
        return {"space": "categorical", "choices": list(space.choices), "center": value}
    v = float(value)
    lo, hi = (interval or [v, v])[:2]
    lo = v if lo is None or not math.isfinite(lo) else min(float(lo), v)
    hi = v if hi is None or not math.isfinite(hi) else max(float(hi), v)
    entry: dict[str, Any] = {"space": space.kind,
                             "center": round(v) if space.is_integer else float(f"{v:.6g}")}
    reach = [v]
    if grows:
        tv = float(space.forward(v))
        reach += [max(lo, float(space.inverse(tv - 1.0))),
                  min(hi, float(space.inverse(tv + 1.0)))]
    lo_b, hi_b = _bound(space, reach, "min"), _bound(space, reach, "max")
    if lo_b is not None:
        entry["min"] = lo_b
    if hi_b is not None:
        entry["max"] = hi_b
    entry["scale"] = _scale(space, v, lo, hi)
    if space.is_integer:
        entry["integer"] = True
        if space.rounding_factor != 1:
            entry["rounding_factor"] = space.rounding_factor
    return entry


def next_sweep_yaml(rec, budget_index: int = 0, max_trials: int = 32,
                    name: str | None = None) -> str:
    """The YAML text of the next sweep around ``rec.recommendations[budget_index]``."""
    import yaml

    if not rec.recommendations:
        raise ValueError("the recommendation has no budget")
    item = rec.recommendations[budget_index]
    specs = rec.space or {}
    space = {}
    for n, v in item.params.items():
        spec = specs.get(n)
        if spec is None:  # no search space: infer one from the value (documented as such)
            if isinstance(v, (bool, str)):
                continue
            space_type = LogSpace if float(v) > 0 else LinearSpace
            spec = Param(n, space_type(is_integer=isinstance(v, int)), v)
        grows = item.roles.get(n) in ("size", "tokens", "cost")
        space[n] = search_space_entry(spec, v, item.intervals.get(n), grows)
    top = max(r.budget for r in rec.recommendations)
    sweep_name = name or f"{rec.sweep.get('sweep') or 'sweep'}_next"
    direction = "maximize" if rec.direction == "max" else "minimize"
    sweeper = {"objective": rec.sweep.get("objective") or "output", "direction": direction,
               "cost": rec.sweep.get("cost_key") or rec.cost_column,
               "max_trials": int(max_trials), "max_cost": None,
               "max_suggestion_cost": _sig(top, up=True), "search_space": space}
    source_dir = _sweep_dir_with_state(rec.source)
    if source_dir is not None:  # the sweeper warm-starts CARBS from the small sweep's state
        sweeper["warm_start"] = {"from": str(source_dir)}
    body = {"hydra": {"sweep": {"dir": f"multirun/{sweep_name}/${{now:%Y-%m-%d_%H-%M-%S}}"},
                      "sweeper": sweeper}}
    defaults = ([f"/sweep/{rec.sweep_config}"] if rec.sweep_config else []) + [
        {"override /hydra/sweeper": "carbs"}]
    head = [
        "# @package _global_",
        (f"# Next CARBS sweep, centred on the recommendation for budget {item.budget:.4g} "
         f"(written by `python -m scaling recommend`)"),
        f"# from {rec.source}; size follows {rec.follow}; suggestions capped at {top:.4g}.",
        ("# Centre = the recommended values; scale = the interval's half-width over CARBS's "
         "search radius (0.3);"),
        ("# min/max = the small sweep's bounds widened to the recommendation, so a warm start "
         "keeps every old trial."),
    ]
    if rec.sweep_config:
        head.append(f"# Includes the small sweep's config (sweep/{rec.sweep_config}) for its "
                    f"recipe settings; this file overrides its search space and budget.")
    text = "\n".join(head) + "\n" + yaml.safe_dump({"defaults": defaults}, sort_keys=False,
                                                   default_flow_style=False)
    text += yaml.safe_dump(body, sort_keys=False, default_flow_style=None, width=100)
    return text


def _sweep_dir_with_state(source: Any) -> Path | None:
    """The sweep directory of ``source`` (a journal file or directory) when it holds the CARBS
    state a warm start needs."""
    if not source:
        return None
    p = Path(str(source))
    d = p if p.is_dir() else p.parent
    return d.absolute() if (d / "carbs_state.json").is_file() else None


def write_next_sweep(rec, path: str | Path, budget_index: int = 0, max_trials: int = 32
                     ) -> tuple[Path, str]:
    """Write the next sweep's YAML to ``path``; returns the path and how to run it."""
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise ValueError(f"--next-sweep {path}: give a .yaml path, e.g. conf/sweep/"
                         f"{rec.sweep.get('sweep') or 'my_sweep'}_next.yaml")
    atomic_write_text(path, next_sweep_yaml(rec, budget_index, max_trials, name=path.stem))
    module = None
    if rec.command_prefix and rec.command_prefix.startswith("python -m "):
        module = rec.command_prefix.split()[2]
    extra = [o for o in rec.fixed_overrides if not o.lstrip("+").startswith("sweep=")]
    run = f"python -m {module or '<recipe>'} --multirun +sweep={path.stem}"
    if path.parent.name == "sweep" and path.parent.parent.name != "conf":
        run += f" --config-dir {path.parent.parent}"
    elif path.parent.name != "sweep":
        run = (f"(move it to conf/sweep/{path.name}, then) " + run)
    run = " ".join([run, *extra])
    source_dir = _sweep_dir_with_state(rec.source)
    how = f"next sweep: {run}\n" + (
        f"it warm-starts CARBS from the small sweep's observations ({source_dir})"
        if source_dir is not None else
        "warm start: add +hydra.sweeper.warm_start.from=<the small sweep's directory>")
    return path, how
