"""The Hydra Sweeper: CARBS proposes, any Hydra launcher runs, the journal records.

    python -m recipes.lm --multirun +sweep=lm_tiny                    # conf/sweep/lm_tiny.yaml
    python -m recipes.lm --multirun +sweep=lm_tiny hydra/launcher=joblib hydra.sweeper.n_jobs=2
    python -m recipes.lm --multirun +sweep=lm_tiny hydra.sweep.dir=multirun/lm_tiny/<old>  # resume

Select it with ``defaults: [override /hydra/sweeper: carbs]`` (the sweep YAMLs do) and set the
search space and budget under ``hydra.sweeper`` (schema and checks: :mod:`carbs.sweep.settings`).
Each batch CARBS suggests ``n_jobs`` configurations (``CARBS.suggest(n)``); the configured
launcher (basic, joblib, submitit, ray ...) runs them as ordinary Hydra jobs with the
parameters as overrides; each result is observed as soon as its batch returns. Nothing here
assumes a particular launcher: the only contract is Hydra's ``Launcher.launch``.

The sweep directory holds ``journal.sqlite`` (every trial; :mod:`carbs.sweep.journal`),
``carbs_state.json`` (the optimiser, checkpointed after each observation), the job folders
(``<num>/``), ``.carbs/results/`` (each job's own record of its outcome,
:mod:`carbs.sweep.task`) and the plots ``pareto.png``, ``params_vs_cost.png``,
``convergence.png`` (refreshed every ``plot_interval_s`` and at the end).

Resume: run the same command with ``hydra.sweep.dir=<existing dir>`` (or with
``hydra.sweeper.resume=true``, which picks the newest journal of the same sweep among the
sweep directory's siblings). Finished trials are kept; trials the dead sweep left running are
ingested when their worker finished them, else relaunched once (``on_interrupted: retry``) or
marked failed (``fail``); the budget counts both runs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from carbs.sweep.settings import SweepConfigError, SweepSettings
from carbs.sweep.task import TrialTask

logger = logging.getLogger("carbs.sweep")

__all__ = ["CARBSSweeper"]

RESULTS_SUBDIR = Path(".carbs") / "results"


class CARBSSweeper(Sweeper):
    """Hydra Sweeper driving a CARBS search (fields: :class:`carbs.sweep.settings.CARBSSweeperConf`)."""

    def __init__(self, **conf: Any) -> None:
        conf.pop("_target_", None)
        self._conf = {k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
                      for k, v in conf.items()}
        self.settings: SweepSettings | None = None
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher = None
        self.sweep_dir: Path | None = None
        self.task: TrialTask | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        """Check the settings, fix the sweep directory, wrap the task, build the launcher."""
        self.settings = SweepSettings.from_conf(self._conf)
        self.hydra_context, self.config = hydra_context, config
        self.name = self.settings.name or _default_name(config)
        self.sweep_dir = _resolve_sweep_dir(config, self.settings, self.name)
        with read_write(config.hydra.sweep), open_dict(config.hydra.sweep):
            config.hydra.sweep.dir = str(self.sweep_dir)  # launchers create and use this one
        self.task = TrialTask(task_function, str(self.sweep_dir / RESULTS_SUBDIR))
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=self.task, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        """Run the sweep; returns the trials as a DataFrame (the journal's contents)."""
        from carbs.sweep.loop import SweepRun

        assert self.settings is not None and self.config is not None and self.task is not None
        fixed = check_arguments(arguments, self.settings)
        run = SweepRun(settings=self.settings, name=self.name, config=self.config,
                       launcher=self.launcher, sweep_dir=self.sweep_dir, fixed_overrides=fixed,
                       results_dir=Path(self.task.results_dir),
                       result_keys=self.task.result_keys, compose=self._compose)
        return run.run()

    def _compose(self, overrides: list[str]) -> None:
        """Compose one job's config as the launcher will (raises on a composition error)."""
        assert self.hydra_context is not None and self.config is not None
        self.hydra_context.config_loader.load_sweep_config(master_config=self.config,
                                                           sweep_overrides=list(overrides))


def _default_name(config: DictConfig) -> str:
    choices = OmegaConf.select(config, "hydra.runtime.choices") or {}
    return str(choices.get("sweep") or OmegaConf.select(config, "hydra.job.name") or "sweep")


def _resolve_sweep_dir(config: DictConfig, settings: SweepSettings, name: str) -> Path:
    """The sweep directory: ``hydra.sweep.dir``, or with ``resume=true`` and no journal there,
    the newest sibling directory holding a journal of the same sweep."""
    from carbs.sweep.journal import JOURNAL_FILE, Journal, JournalError

    sweep_dir = Path(str(config.hydra.sweep.dir)).absolute()
    if not settings.resume or (sweep_dir / JOURNAL_FILE).exists():
        return sweep_dir
    found = []
    for path in sweep_dir.parent.glob(f"*/{JOURNAL_FILE}"):
        try:
            with Journal.open(path, read_only=True) as j:
                if j.meta.get("sweep") == name:
                    found.append(path)
        except JournalError:
            continue
    if not found:
        raise SweepConfigError(
            f"hydra.sweeper.resume=true: no journal of sweep {name!r} in {sweep_dir} or its "
            f"sibling directories under {sweep_dir.parent}; pass hydra.sweep.dir=<the sweep "
            "directory> or drop resume=true to start a new sweep")
    newest = max(found, key=lambda p: p.stat().st_mtime).parent
    logger.info("resume=true: resuming sweep %r in %s", name, newest)
    return newest


def check_arguments(arguments: list[str], settings: SweepSettings) -> list[str]:
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
