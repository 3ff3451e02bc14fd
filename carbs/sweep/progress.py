"""What a running sweep shows: a progress bar, one line per finished trial, the sweep log, the
plots and the closing summary.

- the console (Hydra's logging): one INFO line per finished trial (a WARNING for a failed one)
  with where it ran, and the sweep's state: trials in flight, done, cost, best, front;
- ``<sweep dir>/sweep.log``: the same lines plus one per launch (trial, job, attempt,
  parameters, trials in flight);
- a tqdm bar on terminals (off when stderr is not a TTY, e.g. in SLURM logs);
- the PNG plots, refreshed at most every ``plot_interval_s`` and at the end.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from carbs.sweep.journal import JOURNAL_FILE

if TYPE_CHECKING:
    from carbs.sweep.loop import SweepRun
    from carbs.sweep.outcome import TrialOutcome
    from carbs.sweep.trial import Trial

logger = logging.getLogger("carbs.sweep")
launch_logger = logging.getLogger("carbs.sweep.launch")  # the sweep log only

__all__ = ["SWEEP_LOG", "SweepProgress", "console_setting", "sweep_logging"]

SWEEP_LOG = "sweep.log"


def console_setting(config: Any) -> tuple[int, bool]:
    """The level and ``disabled`` flag that the sweep's Hydra logging configuration
    (``hydra.hydra_logging``, ``hydra.verbose``) gives the sweep's logger ``carbs.sweep``, which
    exists when Hydra applies it: the most specific level of ``carbs.sweep``, ``carbs`` and the
    root there (INFO by default); disabled only where that configuration disables the existing
    loggers without naming either."""
    from omegaconf import DictConfig, OmegaConf

    names = ("carbs.sweep", "carbs")
    config = config if isinstance(config, DictConfig) else OmegaConf.create()
    conf = OmegaConf.select(config, "hydra.hydra_logging")
    conf = OmegaConf.to_container(conf, resolve=True) if conf is not None else {}
    loggers = conf.get("loggers") or {}
    levels = [(loggers.get(n) or {}).get("level") for n in names]
    levels.append((conf.get("root") or {}).get("level"))
    level = next((lv for lv in levels if lv is not None), logging.INFO)
    level = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
    level = level if isinstance(level, int) else logging.INFO
    verbose = OmegaConf.select(config, "hydra.verbose", default=False)
    verbose = [verbose] if isinstance(verbose, str) else verbose
    if verbose is True or (not isinstance(verbose, bool) and set(verbose or []) & set(names)):
        level = logging.DEBUG
    disabled = bool(conf.get("disable_existing_loggers")) and not any(n in loggers for n in names)
    return level, disabled


def _apply(setting: tuple[int, bool]) -> None:
    logger.setLevel(setting[0])
    logger.disabled = setting[1]


@contextlib.contextmanager
def sweep_logging(config: Any) -> Iterator[None]:
    """For the sweep's life, its logger is as the sweep's Hydra logging configuration makes it
    (:func:`console_setting`), whatever this process's logging went through before: a library
    or an earlier run in the same process that set the level of ``carbs`` (e.g. to WARNING) or
    disabled the existing loggers (``logging.config.dictConfig``'s default) does not silence
    the sweep's lines. The logger's own level and flag are restored afterwards."""
    saved = (logger.level, logger.disabled)
    _apply(console_setting(config))
    try:
        yield
    finally:
        _apply(saved)


class SweepProgress:
    """The progress of one :class:`carbs.sweep.loop.SweepRun` (a context manager: the bar and
    the sweep log live as long as it)."""

    def __init__(self, run: SweepRun):
        self.run = run
        self._last_plot = time.monotonic()  # the first drawing waits one interval too
        self._plotted = -1  # observations drawn by the last plot (a final redraw is skipped)
        self._bar: Any = None
        self._file: logging.Handler | None = None
        self._console = console_setting(run.config)

    def __enter__(self) -> SweepProgress:  # noqa: PYI034  (typing.Self: Python 3.11)
        r = self.run
        _apply(self._console)
        launch_logger.disabled = False  # the sweep log's own lines (it does not propagate)
        self._file = logging.FileHandler(r.sweep_dir / SWEEP_LOG)
        self._file.setFormatter(logging.Formatter("[%(asctime)s][%(levelname)s] %(message)s"))
        logger.addHandler(self._file)
        launch_logger.addHandler(self._file)
        launch_logger.setLevel(logging.INFO)
        launch_logger.propagate = False
        self._bar = tqdm(total=r.s.max_trials, initial=r.n_finished, desc=f"CARBS {r.name}",
                         unit="trial", dynamic_ncols=True, disable=None)
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()
        for lg in (logger, launch_logger):
            lg.removeHandler(self._file)
        self._file.close()

    # --- lines ----------------------------------------------------------------------------
    def _state(self) -> str:
        r = self.run
        best = r.best()
        budget = f"{r.spent:.4g}" + (f"/{r.s.max_cost:.4g}" if r.s.max_cost else "")
        front = len(r.opt.pareto_front(observed=True)) if r.opt.observations else 0
        return (f"{len(r.inflight)} in flight, {r.n_finished}/{r.s.max_trials or '-'} done, "
                f"cost {budget}, best {'-' if best is None else f'{best[0]:.6g}'}, "
                f"front {front}, {r.n_failed} failed")

    def launched(self, t: Trial) -> None:
        """A trial went to the launcher (the sweep log only)."""
        params = " ".join(f"{k}={_short(v)}" for k, v in t.config.items())
        launch_logger.info("trial %s -> job %d (attempt %d): %s; %d in flight", t.trial_id,
                           t.job_num, t.attempt, params, len(self.run.inflight))

    def finished(self, t: Trial, out: TrialOutcome) -> None:
        """A trial was recorded: its line, the bar, the plots."""
        r = self.run
        # a trial run in this process (the basic launcher) may have reconfigured logging
        _apply(self._console)
        launch_logger.disabled = False
        where = f"job {t.job_num}"
        if out.metrics.get("metric.job_seconds") is not None:
            where += f", {out.metrics['metric.job_seconds']:.1f} s"
        if out.worker:
            where += f" on {out.worker}" + (f" (node {out.node})"
                                            if out.node and not out.worker.startswith(out.node)
                                            else "")
        state = self._state()
        if out.status == "ok":
            logger.info("trial %s ok (%s): %s %.6g, cost %.4g | %s", t.trial_id, where,
                        r.s.objective, out.output, out.cost, state)
        else:
            logger.warning("trial %s failed (%s): %s | %s", t.trial_id, where,
                           _short(out.error or "", 300), state)
        best = r.best()
        self._bar.update(1)
        self._bar.set_postfix(in_flight=len(r.inflight), cost=f"{r.spent:.3g}",
                              best="-" if best is None else f"{best[0]:.4g}",
                              failed=r.n_failed, refresh=True)
        self.plots()

    def refresh(self) -> None:
        """Show the number of trials in flight (after launches)."""
        self._bar.set_postfix(in_flight=len(self.run.inflight), cost=f"{self.run.spent:.3g}",
                              failed=self.run.n_failed, refresh=True)

    # --- plots and summary ------------------------------------------------------------------
    def plots(self, force: bool = False) -> None:
        """Redraw the sweep's PNG plots when due (never stops the sweep)."""
        r = self.run
        if r.s.plot_interval_s is None:  # no plots
            return
        if r.opt is None or not r.opt.observations or len(r.opt.observations) == self._plotted:
            return
        if not force and time.monotonic() - self._last_plot < r.s.plot_interval_s:
            return
        from carbs.plots import plot_convergence, plot_params_vs_cost, plot_pareto_front

        try:
            plot_pareto_front(r.opt, r.sweep_dir / "pareto.png", cost_label=r.s.cost,
                              output_label=r.s.objective)
            plot_params_vs_cost(r.opt, r.sweep_dir / "params_vs_cost.png", cost_label=r.s.cost)
            plot_convergence(r.opt, r.sweep_dir / "convergence.png", cost_label=r.s.cost)
        except Exception as e:  # noqa: BLE001  (a plot never stops a sweep)
            logger.warning("could not draw the sweep's plots: %s", e)
        self._last_plot, self._plotted = time.monotonic(), len(r.opt.observations)

    def summary(self) -> str:
        """The closing line (also logged)."""
        r = self.run
        best = r.best()
        cost = f"cost {r.spent:.4g}"
        if r.s.max_cost is not None:
            cost += f" of max_cost {r.s.max_cost:.4g}"
            over = r.spent - r.s.max_cost
            if over > 0:
                cost += (f" (overshoot {over:.4g}, {100 * over / r.s.max_cost:.1f}%: the trials "
                         "in flight when the budget was reached)")
        line = (f"sweep {r.name} done: {r.n_finished} trials ({r.n_failed} failed), {cost}; "
                f"best {r.s.objective} {'-' if best is None else f'{best[0]:.6g}'} at cost "
                f"{'-' if best is None else f'{best[1]:.4g}'}. Journal: "
                f"{r.sweep_dir / JOURNAL_FILE}; log: {r.sweep_dir / SWEEP_LOG}; "
                + (f"plots: {r.sweep_dir}/*.png; " if r.s.plot_interval_s is not None else "")
                + f"report: python -m scaling report {r.sweep_dir}")
        logger.info("%s", line)
        return line


def _short(v: Any, n: int = 12) -> str:
    if isinstance(v, float) and math.isfinite(v):
        return f"{v:.4g}"
    text = str(v)
    return text if len(text) <= n else text[: n - 3] + "..."


def sweep_log(sweep_dir: Path) -> Path:
    """Where a sweep writes its log."""
    return Path(sweep_dir) / SWEEP_LOG
