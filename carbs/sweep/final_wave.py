"""The final wave of an asynchronous sweep: its last launches capped so that they end with the
trials in flight, which shortens the drain (the idle tail after the last launch).

Once the budget is spent, the workers fall idle one by one as the last trials end; a long
trial launched late keeps one worker busy and the others idle. ``hydra.sweeper.final_wave:
shorten`` (the default; ``none`` turns it off) caps the predicted cost of each launch so that it
is expected to end no later than the latest of: the expected ends of the trials in flight, and
the sweep's expected last launch (now + (launches left - 1) x the finished trials' mean seconds
/ ``n_jobs``). Early in a sweep the horizon is far and the cap does not bind; over its last
``n_jobs`` launches it is the trials in flight that bound it (the final wave).

Cost is not seconds in general (FLOPs, tokens, ...): the sweep learns seconds per unit of
CARBS's predicted cost from its own finished trials (the median of seconds / predicted cost of
the successful ones, seconds from launch to result; the caller passes the pairs), predicts each
in-flight trial's end as its launch time + its predicted cost x seconds per cost, and caps the
new suggestion at (latest predicted end - now) / seconds per cost. No cap before
:data:`MIN_FINISHED` successful trials have finished, nor when the estimate is not a finite
positive number. The cap holds at the :data:`CAP_QUANTILE` quantile of a candidate's predicted
cost. A cap below anything CARBS can suggest makes it suggest its cheapest candidate.
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Sequence

__all__ = ["CAP_QUANTILE", "MIN_FINISHED", "final_wave_cap", "launches_left", "seconds_per_cost"]

#: successful trials needed before seconds per cost is estimated
MIN_FINISHED = 3

#: a capped launch's cost is held under the cap at this quantile of CARBS's cost prediction,
#: not its median (``CARBS.suggest(cap_quantile=)``): under a cap, the candidates the cost model
#: under-predicts look cheapest for their size and win, and one of them running 5x longer than
#: predicted is the whole drain
CAP_QUANTILE = 0.9

# the smallest cap CARBS takes (it must be > 0): every candidate is above it, so the cheapest
# one is suggested
_TINY = sys.float_info.min


def seconds_per_cost(finished: Sequence[tuple[float, float]],
                     min_finished: int = MIN_FINISHED) -> float | None:
    """The median seconds per unit of cost of finished trials, given as (seconds, cost) pairs
    (pairs that are not finite and positive are left out); None with fewer than
    ``min_finished`` usable pairs."""
    ratios = [s / c for s, c in finished
              if math.isfinite(s) and math.isfinite(c) and s > 0 and c > 0]
    if len(ratios) < max(min_finished, 1):
        return None
    ratio = statistics.median(ratios)
    return ratio if math.isfinite(ratio) and ratio > 0 else None


def final_wave_cap(now: float, inflight: Sequence[tuple[float, float]],
                   finished: Sequence[tuple[float, float]], launches_left: float = 1,
                   n_jobs: int = 1, min_finished: int = MIN_FINISHED) -> float | None:
    """The predicted-cost cap of a launch at time ``now``.

    Args:
        now: the launch time (seconds, the clock of the launch times).
        inflight: (launch time, predicted cost) of each trial in flight.
        finished: (seconds from launch to result, cost) of each successful finished trial.
        launches_left: launches the sweep will still make, this one included (an estimate
            with a cost budget).
        n_jobs: trials in flight.
        min_finished: no cap with fewer finished trials than this.

    Returns:
        (horizon - now) / seconds per cost, where the horizon is the latest of the predicted
        ends of the trials in flight and the expected time of the sweep's last launch (now +
        (launches_left - 1) x the finished trials' mean seconds / n_jobs); at least the smallest
        positive float (every trial in flight is expected to have ended: the cheapest
        candidate). None without enough finished trials, when a trial in flight has no
        usable predicted cost, or when the estimate is not finite.
    """
    spc = seconds_per_cost(finished, min_finished)
    if spc is None:
        return None
    ends = [launched + cost * spc for launched, cost in inflight
            if math.isfinite(launched) and math.isfinite(cost) and cost >= 0]
    if len(ends) < len(inflight):  # a trial in flight whose end cannot be predicted
        return None
    seconds = [s for s, c in finished if math.isfinite(s) and s > 0]
    last_launch = now + max(launches_left - 1, 0) * statistics.fmean(seconds) / max(n_jobs, 1)
    # nothing in flight (trials that ended together free every worker at once): the
    # horizon is the expected last launch alone
    cap = (max([*ends, last_launch]) - now) / spc
    if math.isnan(cap) or cap == math.inf:
        return None
    return max(cap, _TINY)


def launches_left(trials_left: int | None = None, cost_left: float | None = None,
                  inflight_costs: Sequence[float] = ()) -> float | None:
    """Launches the sweep will still make, this one included: with a trial budget, the trials
    left; with a cost budget, what is left over the in-flight trials' mean predicted cost (the
    lower of the two); None when neither is known."""
    costs = [c for c in inflight_costs if math.isfinite(c) and c > 0]
    left = [float(trials_left)] if trials_left is not None else []
    if cost_left is not None and costs:
        left.append(max(cost_left, 0.0) / statistics.fmean(costs))
    return min(left) if left else None
