"""The trial contract on the recipe side: :func:`run_trial` (any error -> a failed result), the
result helpers and the entry points' exit rule, shared by the recipes."""
from recipes.common.cli import exit_if_failed, is_single_run
from recipes.common.result import failure_result, finite_or_fail
from recipes.common.trial import TrialFailed, describe_error, run_trial

__all__ = ["TrialFailed", "describe_error", "exit_if_failed", "failure_result", "finite_or_fail",
           "is_single_run", "run_trial"]
