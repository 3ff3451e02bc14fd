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

import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from carbs.sweep.journal import JOURNAL_FILE

if TYPE_CHECKING:
    from carbs.sweep.loop import SweepRun, Trial
    from carbs.sweep.outcome import TrialOutcome

logger = logging.getLogger("carbs.sweep")
launch_logger = logging.getLogger("carbs.sweep.launch")  # the sweep log only

__all__ = ["SWEEP_LOG", "SweepProgress"]

SWEEP_LOG = "sweep.log"


class SweepProgress:
    """The progress of one :class:`carbs.sweep.loop.SweepRun` (a context manager: the bar and
    the sweep log live as long as it)."""

    def __init__(self, run: SweepRun):
        self.run = run
        self._last_plot = time.monotonic()  # the first drawing waits one interval too
        self._plotted = -1  # observations drawn by the last plot (a final redraw is skipped)
        self._bar: Any = None
        self._file: logging.Handler | None = None

    def __enter__(self) -> SweepProgress:  # noqa: PYI034  (typing.Self: Python 3.11)
        r = self.run
        # the sweep's lines are its output: a library that disabled the existing loggers earlier
        # in this process (logging.config.dictConfig's default) does not silence them
        logger.disabled = launch_logger.disabled = False
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
                f"{r.sweep_dir / JOURNAL_FILE}; log: {r.sweep_dir / SWEEP_LOG}; plots: "
                f"{r.sweep_dir}/*.png; report: python -m scaling report {r.sweep_dir}")
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
