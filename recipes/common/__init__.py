"""What the recipes share: the trial contract on the recipe side (:func:`run_trial`: any error ->
a failed result), the result helpers, the entry points' printing and exit rule, config errors
that name the field, and the devices. (The device resolver and atomic file writes are the trial
contract's, :mod:`tays`; they are re-exported here for the recipes.)"""
from recipes.common.cli import exit_if_failed, is_single_run, print_result
from recipes.common.config import config_error
from recipes.common.device import composer_device, resolve_device
from recipes.common.result import failure_result, finite_or_fail
from recipes.common.trial import TrialFailed, describe_error, run_trial
from tays import atomic_path

__all__ = ["TrialFailed", "atomic_path", "composer_device", "config_error", "describe_error",
           "exit_if_failed", "failure_result", "finite_or_fail", "is_single_run", "print_result",
           "resolve_device", "run_trial"]
