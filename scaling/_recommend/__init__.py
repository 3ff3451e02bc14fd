"""The machinery behind :func:`scaling.recommend.recommend` (private; see that module), one
concern a module:

* :mod:`~scaling._recommend.result`: what a recommendation holds, the error for input that
  cannot support one;
* :mod:`~scaling._recommend.laws`: each numeric hyperparameter's power law along the front;
* :mod:`~scaling._recommend.allocation`: the allocations of N (the front's law, Chinchilla's
  Approaches 1-3) and the one the size follows;
* :mod:`~scaling._recommend.budget`: the models of what spends the budget, and spending it;
* :mod:`~scaling._recommend.optima`: the optima of the loss surface fitted to every trial;
* :mod:`~scaling._recommend.builder`: the stages in order, and the configuration at a budget;
* :mod:`~scaling._recommend.table`: the summary the CLI prints.
"""

from scaling._recommend.builder import Builder
from scaling._recommend.result import BudgetRecommendation, RecommendError
from scaling._recommend.table import format_table

__all__ = ["BudgetRecommendation", "Builder", "RecommendError", "format_table"]
