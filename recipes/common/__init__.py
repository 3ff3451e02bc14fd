"""Helpers shared by the training recipes (result dictionaries for failed runs)."""
from recipes.common.result import failure_result, finite_or_fail

__all__ = ["failure_result", "finite_or_fail"]
