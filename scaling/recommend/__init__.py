"""Tune as you scale: the configuration to run at a 10-100x larger budget, from a small sweep.

``recommend(table, budgets, space=None)`` / ``python -m scaling recommend SRC --budget C``.

For each budget C:

1. every tuned numeric hyperparameter gets its power law along the sweep's Pareto front (fitted
   in its own space: log, logit or linear, with bootstrap intervals); with ``laws="surface"``
   (default) its value is the optimum of a loss surface fitted to every trial
   (:mod:`~scaling.recommend.surface`), whose optimum moves as a power law of N and D (or of
   the cost);
   when the trials pin the optimum but not its trend, the optimum at the largest scale swept;
   when the loss is flat in it, the front law's value at the largest cost;
   categoricals take the choice that dominates the expensive half of the front;
2. the budget is spent exactly: with ``metric.params`` (N) and ``metric.tokens`` (D) in the
   table, the parameters that set N (learned from the trials, see
   :mod:`~scaling.recommend.sizing`) move jointly from their laws' values until N equals the allocation followed (``follow``:
   ``"chinchilla"``, the default: Approach 3, else 2, else 1, fitted on every run; or ``"front"``:
   the Pareto front's own law of N), and the tokens parameters give D = C / (6 N); the
   allocation of every approach is reported next to it. Without N / D, the parameters that set
   the cost move jointly until the cost model equals C;
3. values are rounded (integers, ``rounding_factor``) and clamped to the sweep's bounds (read
   from the journal's ``meta`` table); the size / tokens / cost parameters stay inside them too
   while the others can still spend the budget (depth pinned at its max, width grows); when
   they cannot, ``clamp="auto"`` lets them past their max (a 100x budget often needs that) and
   lists them in ``outside_search_space``;
4. the predicted objective comes from the front's law (``E + A C^-alpha`` when minimising a
   positive loss), with its bootstrap interval; ``extrapolation_decades`` says how far C lies
   beyond the front.

Bad input (fewer than 4 front points, a budget below the cheapest run, a hyperparameter
constant along the front, a sweep directory without a search space) raises
:class:`RecommendError`; the CLI prints ``error: ...`` and exits with status 2.
Fit warnings (:mod:`scaling.diagnostics`) are logged and kept in ``diagnostics``.

One concern a module:

* :mod:`~scaling.recommend.api`: :func:`recommend`, its inputs and the stages in order;
* :mod:`~scaling.recommend.result`: what a recommendation holds, ``recommendation.json``, and
  :class:`RecommendError`;
* :mod:`~scaling.recommend.space`: the sweep's search space (from its journal or a file), the
  value rules of the recommendation, and how the sweep's jobs were launched;
* :mod:`~scaling.recommend.laws`: each numeric hyperparameter's power law along the front;
* :mod:`~scaling.recommend.surface`: the loss surface over every trial, and
  :mod:`~scaling.recommend.optima`: its optima at a budget;
* :mod:`~scaling.recommend.sizing`: which parameters set N, D or the cost, and hitting a
  target; :mod:`~scaling.recommend.allocation`: the allocations of N (the front's law,
  Chinchilla's Approaches 1-3); :mod:`~scaling.recommend.budget`: spending the budget;
* :mod:`~scaling.recommend.builder`: the stages, and the configuration at a budget;
* :mod:`~scaling.recommend.table`: the summary the CLI prints;
* :mod:`~scaling.recommend.nextsweep`: the next sweep's YAML around a recommendation.

The command line (``python -m scaling recommend``) is in :mod:`scaling.cli`.
"""

from scaling.recommend.api import FOLLOW, recommend
from scaling.recommend.nextsweep import next_sweep_yaml, write_next_sweep
from scaling.recommend.result import BudgetRecommendation, Recommendation, RecommendError

__all__ = ["FOLLOW", "BudgetRecommendation", "RecommendError", "Recommendation",
           "next_sweep_yaml", "recommend", "write_next_sweep"]
