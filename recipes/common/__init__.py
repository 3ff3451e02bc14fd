"""What the recipes share: the trial contract on the recipe side (:func:`run_trial`: any error ->
a failed result), the result helpers, the entry points' printing and exit rule, the device
resolver and atomic file writes."""
from recipes.common.cli import exit_if_failed, is_single_run, print_result
from recipes.common.device import composer_device, resolve_device
from recipes.common.files import atomic_path
from recipes.common.result import failure_result, finite_or_fail
from recipes.common.trial import TrialFailed, describe_error, run_trial

__all__ = ["TrialFailed", "atomic_path", "composer_device", "describe_error", "exit_if_failed",
           "failure_result", "finite_or_fail", "is_single_run", "print_result", "resolve_device",
           "run_trial"]
