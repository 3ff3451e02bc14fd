"""One CARBS sweep from start (or resume) to budget: the loop behind :class:`CARBSSweeper`.

Scheduling (``hydra.sweeper.schedule``):

- ``async`` (the default): ``n_jobs`` trials in flight. Each trial is one ``Launcher.launch``
  call of its own, on its own thread (:mod:`carbs.sweep.launchers` says how each launcher takes
  that). The moment a trial finishes it is recorded (journal, optimiser, checkpoint) and its
  worker gets the next suggestion, made with every unfinished trial outstanding (CARBS fantasises
  their outputs). A launcher that runs trials in the sweep's own process (``basic``) runs one at
  a time.
- ``batch``: CARBS suggests ``n_jobs`` configurations at once, one ``launch`` call runs them,
  and the next batch waits for the slowest.

Budgets: ``max_trials`` is exact (trials launched, across resumes). With ``max_cost``, no new
trial starts once the cost spent plus the predicted cost of the trials in flight reaches it; the
overshoot is at most what the trials in flight spend, and the summary says how much it was.
``max_trial_cost_fraction`` caps each suggestion's predicted cost at that fraction of what is
left. A trial that raises, returns a failed status or a non-finite objective, runs out of memory
or loses its worker is a failed trial, never a crashed sweep; ``max_consecutive_failures``
failures in a row stop the sweep (after the trials in flight finish) with the last error. A
result without the objective or cost key stops it the same way (no trial could succeed).

Stops: SIGTERM or Ctrl-C stops launching, ends the sweep's workers (:func:`stop_workers`), notes
each trial it stopped in the journal (``running``, relaunched on resume) and exits non-zero with
one line. A killed sweep (kill -9) is resumed by running it again: finished trials are kept,
results its workers wrote while it was down are ingested, trials whose worker still runs are
waited for, and the rest are relaunched once (``on_interrupted``): see
:mod:`carbs.sweep.opening`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from hydra.errors import CompactHydraException

from carbs.spaces import Param
from carbs.sweep.final_wave import CAP_QUANTILE, final_wave_cap, launches_left
from carbs.sweep.journal import JOURNAL_FILE, Journal
from carbs.sweep.launchers import LauncherKind, quiet_launchers, release, stop_workers
from carbs.sweep.lock import SweepLock
from carbs.sweep.opening import STATE_FILE, open_sweep
from carbs.sweep.outcome import TrialOutcome, outcome_from_job_return, outcome_from_record
from carbs.sweep.progress import SweepProgress
from carbs.sweep.records import TrialRef, read_result, read_start
from carbs.sweep.scheduling import Scheduler
from carbs.sweep.settings import (
    CARBSSweeperConf,
    FinalWave,
    OnInterrupted,
    SweepConfigError,
    check_param_paths,
    format_override,
)
from carbs.sweep.task import TrialTask
from carbs.sweep.trial import Trial
from tays import utc_now

if TYPE_CHECKING:  # torch and gpytorch load only once a sweep passes its checks: a refused start
    from carbs.optimizer import CARBS  # answers in about a second

logger = logging.getLogger("carbs.sweep")

__all__ = ["SweepAbortedError", "SweepRun", "SweepStoppedError"]


class SweepAbortedError(CompactHydraException, RuntimeError):
    """The sweep stopped before its budget (too many failures in a row); trials are kept."""


class SweepStoppedError(CompactHydraException, RuntimeError):
    """The sweep was stopped by a signal (SIGTERM, Ctrl-C); trials are kept."""


class _Interrupt(KeyboardInterrupt):
    """A stop signal, raised in the main thread outside the loop's bookkeeping."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class SweepRun:
    """State of one sweep process (see the module docstring).

    Args:
        settings: the checked ``hydra.sweeper`` settings.
        name: the sweep's name in the journal.
        config: the composed master config.
        sweep_dir: the sweep directory.
        fixed_overrides: the command line's task overrides (passed to every trial).
        task: the worker-side task (:meth:`TrialTask.for_trials` makes each launch's copy).
        new_launcher: a configured Hydra launcher for a task (one per launch call).
        compose: composes one job's config as the launcher will (raises when it cannot).
        config_name: the app's primary config (part of the sweep's identity).
    """

    def __init__(self, settings: CARBSSweeperConf, name: str, config: Any, sweep_dir: Path,
                 fixed_overrides: Sequence[str], task: TrialTask,
                 new_launcher: Callable[[TrialTask], Any], kind: LauncherKind,
                 result_keys: Sequence[str] | None = None,
                 compose: Callable[[list[str]], None] | None = None,
                 config_name: str | None = None):
        self.s, self.name, self.config = settings, name, config
        self.sweep_dir = Path(sweep_dir)
        self.fixed = list(fixed_overrides)
        self.task, self.new_launcher, self.kind = task, new_launcher, kind
        self.result_keys, self.compose, self.config_name = result_keys, compose, config_name
        self.params: list[Param] = settings.params
        self.journal: Journal | None = None
        self.opt: CARBS | None = None
        self.uid = ""
        self.n_trials = 0  # journal rows: trials created, finished or not
        self.n_finished = 0
        self.spent = 0.0
        self.n_failed = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self.stop_error: CompactHydraException | None = None  # drain, then raise
        self.next_job = 0
        self.retry: list[Trial] = []
        self.inflight: dict[str, Trial] = {}
        self.progress: SweepProgress | None = None
        self.trial_ids: set[str] = set()  # every trial id the journal holds
        # (seconds from launch to result, predicted cost) of the successful trials this
        # process launched, and their launch times: seconds per cost for the final wave
        self.durations: list[tuple[float, float]] = []
        self._launched_here: dict[str, float] = {}
        self._final_wave_logged = False
        self.scheduler = Scheduler(self)
        self._signal: int | None = None
        self._critical = 0

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

    def identity(self) -> dict[str, Any]:
        """This sweep's identity (:meth:`CARBSSweeperConf.identity`)."""
        return self.s.identity(self.fixed, self.config_name)

    # --- the run ----------------------------------------------------------------------------
    def run(self) -> pd.DataFrame:
        """Check, own the directory, open, run until the budget is spent; returns the trials."""
        self.check()
        with self._owned(), self._signals(), quiet_launchers(self.s.trial_output.name == "file"):
            try:
                with self.bookkeeping():
                    open_sweep(self)
                assert self.journal is not None and self.opt is not None
                with SweepProgress(self) as self.progress:
                    try:
                        if self.s.is_async:
                            self.scheduler.run_async()
                        else:
                            self.scheduler.run_batches()
                    except _Interrupt as e:
                        self._stop(e.signum)
                    if self.stop_error is not None:
                        raise self.stop_error
                    self.progress.summary()
                    self.progress.plots(force=True)
            except _Interrupt as e:  # while opening the sweep
                self._stop(e.signum)
            finally:
                if self.journal is not None:
                    self.journal.close()
                release(self.scheduler.started)
        from carbs.sweep.journal import load_trials

        return load_trials(self.sweep_dir)

    @contextlib.contextmanager
    def _owned(self) -> Iterator[None]:
        """Hold the sweep directory's lock (:mod:`carbs.sweep.lock`) for the run."""
        lock = SweepLock(self.sweep_dir)
        try:
            lock.acquire()
        except PermissionError as e:
            raise SweepConfigError(_read_only(self.sweep_dir, e)) from None
        except OSError as e:
            if e.errno not in (13, 30):  # EACCES, EROFS
                raise
            raise SweepConfigError(_read_only(self.sweep_dir, e)) from None
        try:
            yield
        finally:
            lock.release()

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGTERM and Ctrl-C stop the sweep: delivered at once while the loop waits or a trial
        runs in this process, after the bookkeeping step when one is under way."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def _on_signal(signum: int, frame: Any) -> None:
            self._signal = signum
            if not self._critical:
                raise _Interrupt(signum)

        previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    @contextlib.contextmanager
    def bookkeeping(self) -> Iterator[None]:
        """A step a stop signal must not cut in two (journal, optimiser, checkpoint)."""
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1
        if not self._critical and self._signal is not None:
            raise _Interrupt(self._signal)

    # --- what to launch ----------------------------------------------------------------
    def next_trial(self, cap_for: int = 1) -> Trial | None:
        """A trial to launch: one to relaunch, else a new suggestion if the budget allows."""
        if self.retry:
            return self.retry.pop(0)
        if self.s.max_trials is not None and self.n_trials >= self.s.max_trials:
            return None
        committed = self.spent + sum(t.predicted_cost for t in self.inflight.values())
        if self.s.max_cost is not None and committed >= self.s.max_cost:
            return None
        cap = None
        if self.s.max_trial_cost_fraction is not None and self.s.max_cost is not None:
            cap = self.s.max_trial_cost_fraction * (self.s.max_cost - committed) / cap_for
        wave = self.final_wave_cap(committed)
        if wave is not None:
            cap = wave if cap is None else min(cap, wave)
        return self._new_trial(cap, wave)

    def final_wave_cap(self, committed: float) -> float | None:
        """The cap that keeps this launch from ending after the sweep's expected end
        (:mod:`carbs.sweep.final_wave`), or None: not async, ``final_wave: none``, or too little
        known yet."""
        if not self.s.is_async or self.s.final_wave is not FinalWave.shorten:
            return None
        flights = list(self.inflight.values())
        left = launches_left(
            trials_left=None if self.s.max_trials is None else self.s.max_trials - self.n_trials,
            cost_left=None if self.s.max_cost is None else self.s.max_cost - committed,
            inflight_costs=[t.predicted_cost for t in flights])
        if left is None:
            return None
        cap = final_wave_cap(time.time(), [(t.launched, t.predicted_cost) for t in flights],
                             self.durations, launches_left=left, n_jobs=self.s.n_jobs)
        if cap is not None and left <= self.s.n_jobs and not self._final_wave_logged:
            self._final_wave_logged = True
            logger.info("final wave: the last launches are capped to end with the trials in "
                        "flight (hydra.sweeper.final_wave=shorten)")
        return cap

    def _new_trial(self, cap: float | None, wave: float | None = None) -> Trial:
        assert self.opt is not None and self.journal is not None
        for _ in range(3):
            # under this call's cap (the final wave's, max_trial_cost_fraction's) CARBS may
            # have no candidate and suggest its cheapest: expected, so CARBS logs it at DEBUG
            sug = self.opt.suggest(max_suggestion_cost=cap,
                                   cap_quantile=None if wave is None else CAP_QUANTILE)
            if sug.suggestion_id not in self.trial_ids:
                break
            self.opt.forget(sug.suggestion_id)  # an id the journal already holds
        t = Trial(sug.suggestion_id, dict(sug.config),
                   predicted_cost=self.predicted_cost(sug.predictions))
        predictions = sug.predictions
        if wave is not None:
            predictions = {**(predictions or {}), "final_wave_cap": wave,
                           "cap_quantile": CAP_QUANTILE}
            logger.debug("final wave: trial %s capped at predicted cost %.4g (%s)", t.trial_id,
                         wave, "its cheapest candidate" if "fallback" in predictions
                         else f"predicted {t.predicted_cost:.4g}")
        self.journal.add_running(t.trial_id, t.config, predictions)
        self.trial_ids.add(t.trial_id)
        self.n_trials += 1
        self.opt.save(self.sweep_dir / STATE_FILE)
        return t

    def predicted_cost(self, predictions: Mapping[str, Any] | None) -> float:
        """A suggestion's predicted cost; for one without a prediction (a start-up one before
        CARBS has a cost model, or without a cost cap), the median cost of the successful
        trials so far (0 before the first)."""
        cost = (predictions or {}).get("cost")
        if isinstance(cost, (int, float)) and math.isfinite(cost) and cost > 0:
            return float(cost)
        ok = sorted(o.cost for o in (self.opt.observations if self.opt else [])
                    if not o.is_failure)
        return float(ok[len(ok) // 2]) if ok else 0.0

    def mark_launched(self, trials: Sequence[Trial]) -> dict[int, TrialRef]:
        """Give trials job numbers and write their launch to the journal; they are in flight."""
        assert self.journal is not None and self.progress is not None
        refs = {}
        for t in trials:
            t.job_num, self.next_job = self.next_job, self.next_job + 1
            t.attempt += 1
            t.launched, t.adopted = time.time(), False
            self._launched_here[t.trial_id] = t.launched
            self.journal.launch(t.trial_id, t.job_num)
            refs[t.job_num] = self.ref(t)
            self.inflight[t.trial_id] = t
            self.progress.launched(t)
        return refs

    # --- recording --------------------------------------------------------------------------
    def ref(self, t: Trial) -> TrialRef:
        return TrialRef(self.uid, t.trial_id, t.attempt, t.job_num)

    def overrides(self, t: Trial) -> list[str]:
        return [*self.fixed, format_override("hydra.sweep.dir", str(self.sweep_dir)),
                *(format_override(k, v) for k, v in t.config.items())]

    def complete(self, t: Trial, ret: Any, launch_error: str | None) -> None:
        """A launch call returned: the worker's record, else Hydra's ``JobReturn``."""
        record = read_result(self.sweep_dir, self.ref(t))
        if record is not None:
            out = outcome_from_record(record, self.s.objective, self.s.cost)
        elif ret is None and launch_error:
            if t.attempt < 2:
                # the launcher lost the trial (a worker died, and on joblib took every trial in
                # flight down with it): we cannot tell which trial killed it, so each is
                # relaunched once
                logger.warning("trial %s lost by the launcher (%s); relaunching it once",
                               t.trial_id, launch_error)
                self.retry.append(t)
                return
            out = TrialOutcome("failed", math.nan, 0.0, error=(
                f"no result after {t.attempt} launches: the worker died or the launcher failed "
                f"({launch_error})"))
        else:
            out = outcome_from_job_return(ret, self.s.objective, self.s.cost)
        self.finish(t, out)

    def interrupted(self, t: Trial, why: str) -> None:
        if self.s.on_interrupted is OnInterrupted.retry and t.attempt < 2:
            self.retry.append(t)
            return
        again = "interrupted twice" if t.attempt >= 2 else "interrupted"
        self.finish(t, TrialOutcome("failed", math.nan, 0.0, error=(
            f"{again}: {why} (attempt {t.attempt}; "
            f"on_interrupted={self.s.on_interrupted.name})")))

    def finish(self, t: Trial, out: TrialOutcome) -> None:
        """Journal first (the record of truth), then the optimiser, then its checkpoint."""
        assert self.journal is not None and self.opt is not None
        if out.cost > 0 and not math.isfinite(self.spent + out.cost):
            msg = (f"the sweep's total cost overflows: {self.spent:.4g} + {out.cost:.4g} (this "
                   f"trial's {self.s.cost!r}) is not a finite number; report the cost in larger "
                   "units (e.g. PFLOPs rather than FLOPs) and start a new sweep")
            out = dataclasses.replace(out, status="failed", output=math.nan, cost=0.0, error=msg)
            self.stop_with(SweepConfigError(f"hydra.sweeper.cost: {msg}"))
        self.journal.finish(t.trial_id, out.status, out.output, out.cost, out.metrics,
                            out.error, job_dir=out.job_dir, finished_at=out.finished_at,
                            worker=out.worker, node=out.node)
        self.observe(t, out.status, out.output, out.cost)
        self.opt.save(self.sweep_dir / STATE_FILE)
        self.spent += out.cost
        self.n_finished += 1
        launched = self._launched_here.pop(t.trial_id, None)
        if out.status == "ok":
            self.consecutive_failures = 0
            if launched is not None and not t.adopted:
                # seconds per unit of *predicted* cost: the cap and the in-flight trials' ends
                # are in CARBS's predicted costs, so its bias (under-predicting the dear
                # trials) is learnt along with the seconds
                per = t.predicted_cost if t.predicted_cost > 0 else float(out.cost)
                self.durations.append((time.time() - launched, per))
        else:
            self.n_failed += 1
            self.consecutive_failures += 1
            self.last_error = out.error
        if self.progress is not None:
            self.progress.finished(t, out)
        if out.schema_error:
            self.stop_with(SweepConfigError(
                f"hydra.sweeper.objective/cost: {out.schema_error}. Fix the sweep's objective "
                f"or cost key, then resume with hydra.sweep.dir={self.sweep_dir}"))
        if self.consecutive_failures >= self.s.max_consecutive_failures:
            self.stop_with(SweepAbortedError(
                f"{self.consecutive_failures} trials in a row failed "
                f"(max_consecutive_failures={self.s.max_consecutive_failures}); the last error: "
                f"{self.last_error}. Finished trials are kept in {self.sweep_dir / JOURNAL_FILE}; "
                f"fix the cause and resume with hydra.sweep.dir={self.sweep_dir}"))

    def stop_with(self, error: CompactHydraException) -> None:
        """Launch nothing more; raise ``error`` once the trials in flight are recorded."""
        if self.stop_error is None:
            self.stop_error = error
            if self.inflight:
                logger.warning("stopping the sweep once the %d trial(s) in flight finish: %s",
                               len(self.inflight), error)

    def observe(self, t: Trial, status: str, output: Any, cost: float) -> None:
        """Tell the optimiser a trial's outcome (a failure with its cost, never negative)."""
        assert self.opt is not None
        ok = status == "ok"
        value = float(output) if ok and output is not None else math.nan
        self.opt.observe(t.config, output=value, cost=float(cost) if ok else max(float(cost), 0.0),
                         is_failure=not ok, suggestion_id=t.trial_id)

    def best(self) -> tuple[float, float] | None:
        """The best successful (output, cost) so far."""
        assert self.opt is not None
        ok = [o for o in self.opt.observations if not o.is_failure]
        if not ok:
            return None
        best = max(ok, key=lambda o: self.s.sign * o.output)
        return best.output, best.cost

    # --- stopping ---------------------------------------------------------------------------
    def _stop(self, signum: int) -> None:
        """A stop signal: end the workers, note the trials they ran, raise one line."""
        name = signal.Signals(signum).name
        self._signal, self._critical = None, 1  # a second signal waits for this to finish
        if self.journal is None or self.opt is None:
            raise SweepStoppedError(f"sweep {self.name} stopped by {name} before its first trial")
        flights = list(self.inflight.values())
        logger.warning("%s: stopping the sweep and its %d trial(s) in flight", name, len(flights))
        ended = stop_workers([read_start(self.sweep_dir, self.ref(t)) for t in flights])
        stopped = 0
        for t in flights:
            self.inflight.pop(t.trial_id, None)
            record = read_result(self.sweep_dir, self.ref(t))
            if record is not None:  # it finished as the sweep stopped
                self.finish(t, outcome_from_record(record, self.s.objective, self.s.cost))
                continue
            self.journal.mark_stopped(t.trial_id, f"the sweep received {name} at {utc_now()}; "
                                      "relaunched on resume")
            stopped += 1
        self.opt.save(self.sweep_dir / STATE_FILE)
        raise SweepStoppedError(
            f"sweep {self.name} stopped by {name}: {self.n_finished} trial(s) finished, "
            f"{stopped} stopped in flight (noted in the journal, relaunched on resume), "
            f"{ended} worker process(es) ended; resume with hydra.sweep.dir={self.sweep_dir}")


def _read_only(sweep_dir: Path, e: OSError) -> str:
    where = e.filename or sweep_dir
    return (f"hydra.sweep.dir={sweep_dir}: cannot write {where} ({e.strerror}); a sweep keeps "
            "its lock, journal, state and trial records in its directory: make it writable, or "
            f"copy it (cp -r {sweep_dir} <new dir>) and resume the copy")
