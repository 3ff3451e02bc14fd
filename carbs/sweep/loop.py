"""One CARBS sweep from start (or resume) to budget: the loop behind :class:`CARBSSweeper`.

Per batch: CARBS suggests ``n_jobs`` configurations; each is written to the journal as
``running``; the optimiser state is checkpointed; the launcher runs the batch; each trial's
outcome (its worker's record, else Hydra's ``JobReturn``) is interpreted, finished in the
journal, observed by CARBS, and the state checkpointed again. A trial that raises, returns a
failed status or a non-finite objective, runs out of memory or loses its worker is a failed
trial, never a crashed sweep; ``max_consecutive_failures`` failures in a row stop the sweep
with the last error. A result without the objective or cost key stops the sweep at once (no
trial could ever succeed): that is a configuration error, not a trial failure.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from hydra.errors import CompactHydraException
from tqdm.auto import tqdm

from carbs.config import CARBSConfig
from carbs.spaces import CategoricalSpace, Param
from carbs.state import StateFileError, read_state_file
from carbs.sweep.journal import JOURNAL_FILE, Journal
from carbs.sweep.outcome import (
    TrialOutcome,
    outcome_from_job_return,
    outcome_from_record,
)
from carbs.sweep.settings import (
    SweepConfigError,
    SweepSettings,
    check_param_paths,
    format_override,
)
from carbs.sweep.task import read_trial_record

if TYPE_CHECKING:  # torch and gpytorch load only once a sweep passes its checks: a refused start
    from carbs.optimizer import CARBS  # answers in about a second

logger = logging.getLogger("carbs.sweep")

__all__ = ["SweepAbortedError", "SweepRun"]

STATE_FILE = "carbs_state.json"


class SweepAbortedError(CompactHydraException, RuntimeError):
    """The sweep stopped before its budget (too many failures in a row); trials are kept."""


@dataclass
class _Trial:
    trial_id: str
    config: dict[str, Any]
    job_num: int = -1
    attempt: int = 0  # launches so far


class SweepRun:
    """State of one sweep process (see the module docstring)."""

    def __init__(self, settings: SweepSettings, name: str, config: Any, launcher: Any,
                 sweep_dir: Path, fixed_overrides: Sequence[str], results_dir: Path,
                 result_keys: Sequence[str] | None = None,
                 compose: Callable[[list[str]], None] | None = None):
        self.s, self.name, self.config, self.launcher = settings, name, config, launcher
        self.sweep_dir, self.results_dir = Path(sweep_dir), Path(results_dir)
        self.fixed = list(fixed_overrides)
        self.result_keys = result_keys
        self.compose = compose
        self.params: list[Param] = settings.params
        self.journal: Journal | None = None
        self.opt: CARBS | None = None
        self.n_trials = 0
        self.spent = 0.0
        self.n_failed = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self.schema_error: str | None = None
        self.next_job = 0
        self.retry: list[_Trial] = []
        self._last_plot = time.monotonic()  # the first drawing waits one interval too
        self._plotted = -1  # observations drawn by the last plot (a final redraw of the same is skipped)
        self._bar: Any = None
        self._composed_once = False

    # --- before the first trial -------------------------------------------------------------
    def check(self) -> None:
        """Everything that can be checked without running a trial (raises SweepConfigError)."""
        check_param_paths(self.config, self.params)
        if self.result_keys is not None:
            for what, key in (("objective", self.s.objective), ("cost", self.s.cost)):
                if key not in self.result_keys:
                    raise SweepConfigError(
                        f"hydra.sweeper.{what}={key!r}: the task never returns this key; it "
                        f"returns {sorted(self.result_keys)}")

    def open(self) -> None:
        """Create the journal, or resume it (after checking it belongs to this sweep)."""
        path = self.sweep_dir / JOURNAL_FILE
        identity = self.s.identity()
        if path.exists():
            with Journal.open(path, read_only=True) as j:
                _check_identity(j.meta, identity, path)
            self.journal = Journal.open(path)
            self._resume()
        else:
            opt = self._new_optimizer()  # before the journal: a bad warm start creates nothing
            meta = {"sweep": self.name, **identity, "carbs": self.s.carbs}
            if self.s.warm_start:
                meta["warm_start"] = {**self.s.warm_start, "observations": len(opt.observations)}
            self.journal = Journal.create(path, meta, [p.name for p in self.params])
            self.opt = opt
            self.opt.save(self.sweep_dir / STATE_FILE)
        self.next_job = self.journal.max_job_num() + 1

    def _new_optimizer(self) -> CARBS:
        """A fresh optimiser, warm-started from an earlier sweep when the settings say so."""
        from carbs.optimizer import CARBS

        cfg = CARBSConfig(**self.s.carbs)
        ws = self.s.warm_start
        if not ws:
            return CARBS(cfg, self.params)
        try:
            opt = CARBS.warm_start(cfg, self.params, from_state=ws["from"],
                                   fixed_values=ws["fixed_values"],
                                   recenter_on_best=ws["recenter_on_best"])
        except ValueError as e:
            raise SweepConfigError(f"hydra.sweeper.warm_start: {e}") from None
        logger.info("warm start: %d observation(s) from %s", len(opt.observations), ws["from"])
        return opt

    def _resume(self) -> None:
        from carbs.optimizer import CARBS

        assert self.journal is not None
        opt = CARBS(CARBSConfig(**self.s.carbs), self.params)
        state_path = self.sweep_dir / STATE_FILE
        try:
            opt.load_state_dict(read_state_file(state_path), source=str(state_path))
        except StateFileError as e:
            logger.warning("resume: %s; rebuilding the optimiser from the journal", e)
            opt = self._new_optimizer()
        self.opt = opt
        rows = self.journal.rows()
        known = {o.suggestion_id for o in opt.observations}
        ids = {r["trial_id"] for r in rows}
        for s in opt.outstanding:
            if s.suggestion_id not in ids:  # suggested, never launched
                opt.forget(s.suggestion_id)
        kept, ingested = 0, 0
        for r in rows:
            cfg = self._row_config(r)
            if r["status"] in ("ok", "failed"):
                kept += 1
                if r["trial_id"] not in known:
                    self._observe(r["trial_id"], cfg, r["status"], r["output"], r["cost"] or 0.0)
                continue
            record = read_trial_record(self.results_dir, r["job_num"])
            if record is not None:  # finished after the sweep died: keep it, never rerun it
                self._finish(_Trial(r["trial_id"], cfg, r["job_num"]),
                             outcome_from_record(record, self.s.objective, self.s.cost))
                ingested += 1
            elif self.s.on_interrupted == "retry" and int(r["attempt"]) < 2:
                self.retry.append(_Trial(r["trial_id"], cfg, attempt=int(r["attempt"])))
            else:
                why = ("interrupted twice" if int(r["attempt"]) >= 2 else "interrupted")
                self._finish(_Trial(r["trial_id"], cfg, r["job_num"]), TrialOutcome(
                    "failed", math.nan, 0.0, error=f"{why}: the sweep died while this trial ran "
                    f"(attempt {r['attempt']}; on_interrupted={self.s.on_interrupted})"))
        finished = [r for r in self.journal.rows() if r["status"] != "running"]
        self.n_trials = len(finished) + len(self.retry)
        self.spent = float(sum(r["cost"] or 0.0 for r in finished))
        self.n_failed = sum(r["status"] == "failed" for r in finished)
        self._raise_if_stopped()
        logger.info("resuming %s: %d finished trial(s) kept, %d finished while the sweep was "
                    "down (ingested), %d to relaunch; cost spent %.4g", self.sweep_dir, kept,
                    ingested, len(self.retry), self.spent)

    def _row_config(self, row: Mapping[str, Any]) -> dict[str, Any]:
        cfg = {}
        for p in self.params:
            v = row[f"param.{p.name}"]
            if isinstance(p.space, CategoricalSpace) and all(isinstance(c, bool)
                                                             for c in p.space.choices):
                v = bool(v)
            cfg[p.name] = v
        return cfg

    # --- the loop ---------------------------------------------------------------------------
    def run(self) -> pd.DataFrame:
        """Check, open, run batches until the budget is spent; returns the trials."""
        self.check()
        self.open()
        assert self.journal is not None and self.opt is not None
        # a progress line on terminals (disable=None: off when stderr is not a TTY, e.g. in
        # SLURM logs, where the per-batch INFO line says the same)
        self._bar = tqdm(total=self.s.max_trials, initial=self.n_trials - len(self.retry),
                         desc=f"CARBS {self.name}", unit="trial", dynamic_ncols=True,
                         disable=None)
        try:
            while self._budget_left():
                self._run_batch()
            self._log_summary()
        finally:
            self._bar.close()
            if self.opt is not None and self.opt.observations:
                self._plots(force=True)
            self.journal.close()
        from carbs.sweep.journal import load_trials

        return load_trials(self.sweep_dir)

    def _budget_left(self) -> bool:
        if self.retry:
            return True
        if self.s.max_trials is not None and self.n_trials >= self.s.max_trials:
            return False
        return not (self.s.max_cost is not None and self.spent >= self.s.max_cost)

    def _run_batch(self) -> None:
        assert self.journal is not None and self.opt is not None
        batch = self.retry[: self.s.n_jobs]
        self.retry = self.retry[len(batch):]
        n_new = self.s.n_jobs - len(batch)
        if self.s.max_trials is not None:
            n_new = min(n_new, self.s.max_trials - self.n_trials)
        if n_new > 0:
            for sug in self.opt.suggest(n_new):
                t = _Trial(sug.suggestion_id, dict(sug.config))
                self.journal.add_running(t.trial_id, t.config, sug.predictions)
                batch.append(t)
                self.n_trials += 1
        self.opt.save(self.sweep_dir / STATE_FILE)
        launchable, overrides = [], []
        for t in batch:
            ov = self._overrides(t)
            if self.compose is not None and not self._composed_once:
                # the first batch is composed here, so a config that cannot compose stops
                # nothing but its own trial; later jobs are composed by the launcher only
                try:
                    self.compose(ov)
                except Exception as e:  # noqa: BLE001  (a config this job cannot compose)
                    self._finish(t, TrialOutcome("failed", math.nan, 0.0,
                                                 error=f"config composition failed: {e}"))
                    continue
            t.job_num, self.next_job = self.next_job, self.next_job + 1
            t.attempt += 1
            self.journal.launch(t.trial_id, t.job_num)
            launchable.append(t)
            overrides.append(ov)
        self._composed_once = True
        returns: Sequence[Any] = []
        launch_error = None
        if launchable:
            try:
                returns = self.launcher.launch(overrides, initial_job_idx=launchable[0].job_num)
            except Exception as e:  # noqa: BLE001  (a dead worker fails its trials, not the sweep)
                launch_error = f"{type(e).__name__}: {e}"
                logger.error("the launcher failed: %s", launch_error)
        for i, t in enumerate(launchable):
            record = read_trial_record(self.results_dir, t.job_num)
            if record is not None:
                out = outcome_from_record(record, self.s.objective, self.s.cost)
            else:
                ret = returns[i] if i < len(returns) else None
                if ret is None and launch_error and t.attempt < 2:
                    # the launcher lost the whole batch (a worker died and took its batch-mates
                    # down): we cannot tell which trial killed it, so each is relaunched once
                    logger.warning("trial %s lost with its batch (%s); relaunching it once",
                                   t.trial_id, launch_error)
                    self.retry.append(t)
                    continue
                out = outcome_from_job_return(ret, self.s.objective, self.s.cost)
                if ret is None and launch_error:
                    out.error = (f"no result after {t.attempt} launches: the worker died or "
                                 f"the launcher failed ({launch_error})")
            self._finish(t, out)
        self._after_batch(len(batch) - sum(t in self.retry for t in batch))
        self._raise_if_stopped()

    def _overrides(self, t: _Trial) -> list[str]:
        return [*self.fixed, format_override("hydra.sweep.dir", str(self.sweep_dir)),
                *(format_override(k, v) for k, v in t.config.items())]

    def _finish(self, t: _Trial, out: TrialOutcome) -> None:
        """Journal first (the record of truth), then the optimiser, then its checkpoint."""
        assert self.journal is not None and self.opt is not None
        self.journal.finish(t.trial_id, out.status, out.output, out.cost, out.metrics,
                            out.error, job_dir=out.job_dir, finished_at=out.finished_at)
        self._observe(t.trial_id, t.config, out.status, out.output, out.cost)
        self.opt.save(self.sweep_dir / STATE_FILE)
        self.spent += out.cost
        if out.status == "ok":
            self.consecutive_failures = 0
        else:
            self.n_failed += 1
            self.consecutive_failures += 1
            self.last_error = out.error
            logger.warning("trial %s failed: %s", t.trial_id, out.error)
        if out.schema_error and self.schema_error is None:
            self.schema_error = out.schema_error

    def _raise_if_stopped(self) -> None:
        """Stop the sweep (after a whole batch is recorded) on a schema error or too many
        failures in a row."""
        if self.schema_error:
            raise SweepConfigError(
                f"hydra.sweeper.objective/cost: {self.schema_error}. Fix the sweep's objective "
                f"or cost key, then resume with hydra.sweep.dir={self.sweep_dir}")
        if self.consecutive_failures >= self.s.max_consecutive_failures:
            raise SweepAbortedError(
                f"{self.consecutive_failures} trials in a row failed "
                f"(max_consecutive_failures={self.s.max_consecutive_failures}); the last error: "
                f"{self.last_error}. Finished trials are kept in {self.sweep_dir / JOURNAL_FILE}; "
                f"fix the cause and resume with hydra.sweep.dir={self.sweep_dir}")

    def _observe(self, trial_id: str, config: dict[str, Any], status: str, output: Any,
                 cost: float) -> None:
        assert self.opt is not None
        ok = status == "ok"
        value = float(output) if ok and output is not None else math.nan
        self.opt.observe(config, output=value, cost=float(cost) if ok else max(float(cost), 0.0),
                         is_failure=not ok, suggestion_id=trial_id)

    # --- watching ---------------------------------------------------------------------------
    def _best(self) -> tuple[float, float] | None:
        assert self.opt is not None
        ok = [o for o in self.opt.observations if not o.is_failure]
        if not ok:
            return None
        best = max(ok, key=lambda o: self.s.sign * o.output)
        return best.output, best.cost

    def _after_batch(self, n: int) -> None:
        assert self.opt is not None
        best = self._best()
        front = self.opt.pareto_front(observed=True)  # the true cost/output front
        budget = f"{self.spent:.3g}" + (f"/{self.s.max_cost:.3g}" if self.s.max_cost else "")
        self._bar.update(n)
        self._bar.set_postfix(cost=budget, best="-" if best is None else f"{best[0]:.4g}",
                              front=len(front), failed=self.n_failed, refresh=True)
        logger.info("%d trial(s) done of %s; cost %s; best %s %s; Pareto front %d group(s); "
                    "%d failed", self.n_trials - len(self.retry), self.s.max_trials or "-",
                    budget, self.s.objective, "-" if best is None else f"{best[0]:.6g}",
                    len(front), self.n_failed)
        self._plots()

    def _plots(self, force: bool = False) -> None:
        assert self.opt is not None
        if len(self.opt.observations) == self._plotted:
            return  # nothing new since the last drawing
        if not force and time.monotonic() - self._last_plot < self.s.plot_interval_s:
            return
        from carbs.plots import plot_convergence, plot_params_vs_cost, plot_pareto_front

        try:
            plot_pareto_front(self.opt, self.sweep_dir / "pareto.png", cost_label=self.s.cost,
                              output_label=self.s.objective)
            plot_params_vs_cost(self.opt, self.sweep_dir / "params_vs_cost.png",
                                cost_label=self.s.cost)
            plot_convergence(self.opt, self.sweep_dir / "convergence.png", cost_label=self.s.cost)
        except Exception as e:  # noqa: BLE001  (a plot never stops a sweep)
            logger.warning("could not draw the sweep's plots: %s", e)
        self._last_plot, self._plotted = time.monotonic(), len(self.opt.observations)

    def _log_summary(self) -> None:
        best = self._best()
        logger.info("sweep %s done: %d trials (%d failed), cost %.4g; best %s %s at cost %s. "
                    "Journal: %s; plots: %s/*.png; report: python -m scaling report %s",
                    self.name, self.n_trials, self.n_failed, self.spent, self.s.objective,
                    "-" if best is None else f"{best[0]:.6g}",
                    "-" if best is None else f"{best[1]:.4g}", self.sweep_dir / JOURNAL_FILE,
                    self.sweep_dir, self.sweep_dir)


def _check_identity(meta: Mapping[str, Any], identity: Mapping[str, Any], path: Path) -> None:
    """A resumed sweep must have the journal's search space, objective, direction and cost."""
    old_space, new_space = meta.get("space") or {}, identity["space"]
    for name in list(new_space) + [n for n in old_space if n not in new_space]:
        if old_space.get(name) != new_space.get(name):
            raise SweepConfigError(
                f"hydra.sweeper.search_space.{name}: differs from the journal's {path} "
                f"(journal: {old_space.get(name)}, now: {new_space.get(name)}); resume with the "
                "original search space, or start a new sweep in a new hydra.sweep.dir")
    if list(old_space) != list(new_space):
        raise SweepConfigError(f"hydra.sweeper.search_space: the parameter order differs from "
                               f"the journal's {path} ({list(old_space)})")
    for key, field_name in (("objective", "objective"), ("direction", "direction"),
                            ("cost_key", "cost")):
        if meta.get(key) != identity[key]:
            raise SweepConfigError(
                f"hydra.sweeper.{field_name}={identity[key]!r} differs from the journal's "
                f"{meta.get(key)!r} ({path}); resume with the original setting or start a new "
                "sweep in a new hydra.sweep.dir")
