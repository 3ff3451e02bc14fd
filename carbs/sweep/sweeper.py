"""The Hydra Sweeper: CARBS proposes, any Hydra launcher runs, the journal records.

    python -m recipes.lm --multirun +sweep=lm_tiny                    # conf/sweep/lm_tiny.yaml
    python -m recipes.lm --multirun +sweep=lm_tiny hydra/launcher=joblib hydra.sweeper.n_jobs=2
    python -m recipes.lm --multirun +sweep=lm_tiny hydra.sweep.dir=multirun/lm_tiny/<old>  # resume

Select it with ``defaults: [override /hydra/sweeper: carbs]`` (the sweep YAMLs do) and set the
search space and budget under ``hydra.sweeper`` (schema and checks: :mod:`carbs.sweep.settings`).
By default the sweep keeps ``n_jobs`` trials in flight and hands a freed worker the next
suggestion at once (``schedule: async``; ``batch``: ``n_jobs`` suggestions per batch); the
configured launcher (basic, joblib, submitit, ray ...) runs each trial as an ordinary Hydra job
with the parameters as overrides (:mod:`carbs.sweep.loop`, :mod:`carbs.sweep.launchers`).

The sweep directory holds ``journal.sqlite`` (every trial; :mod:`carbs.sweep.journal`),
``carbs_state.json`` (the optimiser, checkpointed after each observation), ``sweep.log``, the
job folders (``<num>/``, each with its trial's log), ``.carbs/lock`` (the owner,
:mod:`carbs.sweep.lock`), ``.carbs/workers/`` and ``.carbs/results/`` (each job's own records,
:mod:`carbs.sweep.records`) and the plots ``pareto.png``, ``params_vs_cost.png``,
``convergence.png`` (refreshed every ``plot_interval_s`` and at the end; none when it is null).

Resume: run the same command with ``hydra.sweep.dir=<existing dir>`` (or with
``hydra.sweeper.resume=true``, which picks the newest journal of the same sweep, same identity,
among the sweep directory's siblings). Finished trials are kept; trials the dead sweep left
running are ingested when their worker finished them, waited for while their worker still
runs, else relaunched once (``on_interrupted: retry``) or marked failed (``fail``); the budget
counts both runs.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from carbs.sweep.launchers import kind_of
from carbs.sweep.settings import CARBSSweeperConf, SweepConfigError, load_settings
from carbs.sweep.task import TrialTask

logger = logging.getLogger("carbs.sweep")

__all__ = ["CARBSSweeper"]


class CARBSSweeper(Sweeper):
    """Hydra Sweeper driving a CARBS search (its fields:
    :class:`carbs.sweep.settings.CARBSSweeperConf`)."""

    def __init__(self, **conf: Any) -> None:
        conf.pop("_target_", None)
        self._conf = conf
        self.settings: CARBSSweeperConf | None = None
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None
        self.sweep_dir: Path | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        """Check the settings (types by OmegaConf, the rest by the dataclass)."""
        self.settings = load_settings(self._conf)
        self.hydra_context, self.config, self.task_function = hydra_context, config, task_function
        self.name = self.settings.name or _default_name(config)

    def sweep(self, arguments: list[str]) -> Any:
        """Run the sweep; returns the trials as a DataFrame (the journal's contents)."""
        from carbs.sweep.progress import sweep_logging

        assert self.config is not None
        with sweep_logging(self.config):
            return self._sweep(arguments)

    def _sweep(self, arguments: list[str]) -> Any:
        from carbs.sweep.loop import SweepRun

        s, config = self.settings, self.config
        assert s is not None and config is not None and self.task_function is not None
        fixed = check_arguments(arguments, s)
        config_name = OmegaConf.select(config, "hydra.job.config_name")
        identity = s.identity(fixed, config_name)
        self.sweep_dir = _resolve_sweep_dir(config, s, self.name, identity)
        with read_write(config.hydra.sweep), open_dict(config.hydra.sweep):
            config.hydra.sweep.dir = str(self.sweep_dir)  # launchers create and use this one
        task = TrialTask(self.task_function, str(self.sweep_dir), timeout_s=s.trial_timeout_s,
                         output=s.trial_output.name)
        run = SweepRun(settings=s, name=self.name, config=config, sweep_dir=self.sweep_dir,
                       fixed_overrides=fixed, task=task, new_launcher=self._launcher,
                       kind=kind_of(self._launcher(task), s.n_jobs), result_keys=task.result_keys,
                       compose=self._compose, config_name=config_name)
        return run.run()

    def _launcher(self, task: TrialTask) -> Any:
        """A launcher instance (the configured ``hydra/launcher``) running ``task``."""
        return Plugins.instance().instantiate_launcher(
            hydra_context=self.hydra_context, task_function=task, config=self.config)

    def _compose(self, overrides: list[str]) -> None:
        """Compose one job's config as the launcher will (raises on a composition error)."""
        assert self.hydra_context is not None and self.config is not None
        self.hydra_context.config_loader.load_sweep_config(master_config=self.config,
                                                           sweep_overrides=list(overrides))


def _default_name(config: DictConfig) -> str:
    choices = OmegaConf.select(config, "hydra.runtime.choices") or {}
    return str(choices.get("sweep") or OmegaConf.select(config, "hydra.job.name") or "sweep")


def _resolve_sweep_dir(config: DictConfig, settings: CARBSSweeperConf, name: str,
                       identity: dict[str, Any]) -> Path:
    """The sweep directory: ``hydra.sweep.dir``, or with ``resume=true`` and no journal there,
    the newest sibling directory holding a journal of the same sweep (same name and identity;
    siblings of another experiment are skipped)."""
    from carbs.sweep.identity import identity_diff
    from carbs.sweep.journal import JOURNAL_FILE, Journal, JournalError

    sweep_dir = Path(str(config.hydra.sweep.dir)).absolute()
    if not settings.resume or (sweep_dir / JOURNAL_FILE).exists():
        return sweep_dir
    found = []
    for path in sweep_dir.parent.glob(f"*/{JOURNAL_FILE}"):
        try:
            with Journal.open(path, read_only=True) as j:
                meta = j.meta
        except (JournalError, sqlite3.DatabaseError):
            continue
        if meta.get("sweep") != name:
            continue
        diff = identity_diff(meta, identity)
        if diff:
            logger.info("resume=true: skipping %s: %s", path.parent, diff)
            continue
        found.append(path)
    if not found:
        raise SweepConfigError(
            f"hydra.sweeper.resume=true: no journal of sweep {name!r} with these settings in "
            f"{sweep_dir} or its sibling directories under {sweep_dir.parent}; pass "
            "hydra.sweep.dir=<the sweep directory> or drop resume=true to start a new sweep")
    newest = max(found, key=lambda p: p.stat().st_mtime).parent
    logger.info("resume=true: resuming sweep %r in %s", name, newest)
    return newest


def check_arguments(arguments: list[str], settings: CARBSSweeperConf) -> list[str]:
    """The command line's task overrides, passed to every job. A sweep override (``a=1,2``) or
    an override of a tuned parameter is an error naming it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    tuned = {p.name for p in settings.params}
    fixed = []
    for o in OverridesParser.create().parse_overrides(arguments):
        key = o.get_key_element().lstrip("+~")
        if o.is_sweep_override():
            raise SweepConfigError(
                f"{o.input_line}: the CARBS sweeper does not take sweep overrides; put "
                f"{key} in hydra.sweeper.search_space (or give it one value)")
        if key in tuned:
            raise SweepConfigError(
                f"{o.input_line}: {key} is tuned by hydra.sweeper.search_space; change its "
                "center/bounds there (or remove it from the search space to fix its value)")
        fixed.append(o.input_line)
    return fixed
