"""Log axes that are quick to draw and easy to read, for every PNG the project writes (the sweep
plots of ``carbs.plots``, the fits of ``scaling.plots``): plain-text labels instead of mathtext
(parsing every label was most of a plot's drawing time), every major tick labelled, no minor
ticks."""

from __future__ import annotations

import re

import numpy as np
from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullLocator

__all__ = ["light_log_axes"]

_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076"
                             "\u2077\u2078\u2079")


class _PlainLogFormatter(LogFormatterSciNotation):
    """Matplotlib's log-axis labels (same choice of ticks) as plain text, ``2×10³``."""

    def __call__(self, x, pos=None):
        label = super().__call__(x, pos)
        match = re.fullmatch(r"\$\\mathdefault\{(.*)\}\$", label)
        if match is None:
            return label
        body = match.group(1).replace("\\times", "\u00d7")
        return re.sub(r"\^\{(-?\d+)\}", lambda m: m.group(1).translate(_SUPERSCRIPT), body)


def light_log_axes(ax) -> None:
    """Plain-text log labels on ``ax``'s log axes, every major tick labelled and no minor ticks
    (bare marks, costly to draw): major ticks at the decades beyond two decades, at 1, 2 and 5
    times them from one to two decades, and at 1, 2, 3 and 5 times them from a factor 2 to one
    decade. Narrower axes keep matplotlib's ticks."""
    for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if axis.get_scale() != "log":
            continue
        lo, hi = sorted(limits)
        span = hi / lo if lo > 0 else np.inf
        every = _PlainLogFormatter(10.0, labelOnlyBase=False, minor_thresholds=(np.inf, np.inf))
        if span < 2.0:
            axis.set_major_formatter(every)
            axis.set_minor_formatter(_PlainLogFormatter(10.0, labelOnlyBase=False))
            continue
        if span <= 10.0:
            axis.set_major_locator(LogLocator(10.0, subs=(1.0, 2.0, 3.0, 5.0)))
        elif span <= 100.0:
            axis.set_major_locator(LogLocator(10.0, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(every)
        axis.set_minor_locator(NullLocator())
