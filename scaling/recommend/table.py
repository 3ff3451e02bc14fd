"""The human-readable summary of a recommendation that the CLI prints."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["format_table"]


def _fmt(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)):
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{v:.4g}" if math.isfinite(v) else "-"


def format_table(r) -> str:
    """The CLI's summary of a :class:`scaling.recommend.Recommendation`."""
    lines = [f"Recommendation from {r.source}",
             (f"front: {r.n_front} points by {r.cost_column!r}, {r.front_costs[0]:.3g} to "
              f"{r.front_costs[1]:.3g}; {'minimising' if r.direction == 'min' else 'maximising'} "
              f"{r.output_column!r}"),
             f"size follows: {r.follow} ({r.follow_reason})"]
    for item in r.recommendations:
        lo, hi = item.predicted_interval
        lines += ["", (f"budget {item.budget:.4g}: {item.extrapolation_decades:.2f} decades "
                       f"beyond the front; predicted {r.output_column} "
                       f"{item.predicted_output:.4g} [{_fmt(lo)}, {_fmt(hi)}]")]
        width = max(12, *(len(n) for n in item.params))
        lines.append(f"  {'parameter':<{width}}  {'value':>10}  {'low':>10}  {'high':>10}  "
                     f"{'law':>10}  role")
        for n, v in item.params.items():
            lo, hi = item.intervals.get(n, [math.nan, math.nan])
            law = item.laws.get(n, {}).get("value", math.nan)
            note = item.roles.get(n, "")
            if n in item.clamped:
                note += " (clamped)"
            if n in item.outside_search_space:
                note += " (outside the sweep's bounds)"
            if n in item.categorical_support:
                share = max(item.categorical_support[n].values())
                note += f" ({share:.0%} of the expensive half)"
            lines.append(f"  {n:<{width}}  {_fmt(v):>10}  {_fmt(lo):>10}  {_fmt(hi):>10}  "
                         f"{_fmt(law):>10}  {note}")
        a = item.allocation
        if a and a.get("mode") == "6ND=C":
            lines.append(f"  N = {a['N']:.4g}, D = {a['D']:.4g} ({a['tokens_per_param']:.1f} "
                         f"tokens/param): 6ND / budget = {a['budget_ratio']:.4f}, following "
                         f"{a['follows']}")
            for k, v in a["approaches"].items():
                lines.append(f"    {k:<10} N = {v['N']:.4g}, D = {v['D']:.4g} "
                             f"({v['tokens_per_param']:.1f} tokens/param)")
        elif a and a.get("mode") == "cost":
            lines.append(f"  predicted {r.cost_column} / budget = {a['budget_ratio']:.4f}")
        lines.append(f"  command: {item.command}")
    for d in r.diagnostics:
        lines.append(f"warning: {d}")
    for n in r.notes:
        lines.append(f"note: {n}")
    return "\n".join(lines)
