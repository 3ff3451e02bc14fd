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
waited for, and the rest are relaunched once (``on_interrupted``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from hydra.errors import CompactHydraException

from carbs.spaces import CategoricalSpace, Param
from carbs.state import StateFileError, read_state_file
from carbs.sweep.identity import check_identity
from carbs.sweep.journal import JOURNAL_FILE, STOPPED, Journal, JournalError
from carbs.sweep.launchers import LauncherKind, quiet_launchers, release, stop_workers
from carbs.sweep.lock import SweepLock
from carbs.sweep.outcome import TrialOutcome, outcome_from_job_return, outcome_from_record
from carbs.sweep.progress import SweepProgress
from carbs.sweep.records import TrialRef, end_orphan, read_result, read_start, worker_state
from carbs.sweep.scheduling import Scheduler
from carbs.sweep.settings import (
    CARBSSweeperConf,
    OnInterrupted,
    SweepConfigError,
    check_param_paths,
    format_override,
)
from carbs.sweep.task import TrialTask
from tays import utc_now

if TYPE_CHECKING:  # torch and gpytorch load only once a sweep passes its checks: a refused start
    from carbs.optimizer import CARBS  # answers in about a second

logger = logging.getLogger("carbs.sweep")

__all__ = ["SweepAbortedError", "SweepRun", "SweepStoppedError"]

STATE_FILE = "carbs_state.json"


class SweepAbortedError(CompactHydraException, RuntimeError):
    """The sweep stopped before its budget (too many failures in a row); trials are kept."""


class SweepStoppedError(CompactHydraException, RuntimeError):
    """The sweep was stopped by a signal (SIGTERM, Ctrl-C); trials are kept."""


class _Interrupt(KeyboardInterrupt):
    """A stop signal, raised in the main thread outside the loop's bookkeeping."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@dataclass
class Trial:
    """A trial as the sweep process tracks it between suggestion and record."""

    trial_id: str
    config: dict[str, Any]
    job_num: int = -1
    attempt: int = 0  # launches so far
    predicted_cost: float = 0.0
    launched: float = field(default_factory=time.time)
    adopted: bool = False  # running on a worker of a dead sweep; waited for, not relaunched


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
        self._ids: set[str] = set()
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

    def open(self) -> None:
        """Create the journal, or resume it (after checking it belongs to this sweep)."""
        path = self.sweep_dir / JOURNAL_FILE
        if path.exists():
            try:
                with Journal.open(path, read_only=True) as j:
                    check_identity(j.meta, self.identity(), path)
                self.journal = Journal.open(path)
                self.uid = self.journal.sweep_uid
                self._resume()
            except (JournalError, sqlite3.DatabaseError) as e:
                raise SweepConfigError(
                    f"hydra.sweep.dir={self.sweep_dir}: cannot resume from {path}: {e}. Restore "
                    f"the journal, or move it aside (mv {path} {path}.bad) to start a new sweep "
                    "in this directory") from None
        else:
            opt = self._new_optimizer()  # before the journal: a bad warm start creates nothing
            self.tell_budget(opt)
            meta = {"sweep": self.name, **self.identity(), "carbs": self.s.carbs_options()}
            if self.s.warm_start:
                meta["warm_start"] = {**self.s.warm_start, "observations": len(opt.observations)}
            self.journal = Journal.create(path, meta, [p.name for p in self.params])
            self.uid = self.journal.sweep_uid
            self.opt = opt
            self.opt.save(self.sweep_dir / STATE_FILE)
        self.next_job = self.journal.max_job_num() + 1

    def _new_optimizer(self, seed: int | None = None) -> CARBS:
        """A fresh optimiser, warm-started from an earlier sweep when the settings say so."""
        from carbs.optimizer import CARBS

        cfg = self.s.carbs_config()
        if seed is not None:
            cfg = dataclasses.replace(cfg, seed=seed)
        ws = self.s.warm_start
        try:
            if not ws:
                return CARBS(cfg, self.params)
            opt = CARBS.warm_start(cfg, self.params, from_state=ws["from"],
                                   fixed_values=ws["fixed_values"],
                                   recenter_on_best=ws["recenter_on_best"])
        except ValueError as e:
            where = "warm_start" if ws else "search_space"
            raise SweepConfigError(f"hydra.sweeper.{where}: {e}") from None
        logger.info("warm start: %d observation(s) from %s", len(opt.observations), ws["from"])
        return opt

    def tell_budget(self, opt: CARBS) -> None:
        """With ``max_cost`` as CARBS's ``total_budget`` (``carbs.total_budget`` not set),
        add the cost of the observations that are not this sweep's trials (warm-started):
        CARBS counts every observation it holds against its budget, the sweep only its own."""
        if self.s.max_cost is None or self.s.carbs.total_budget is not None:
            return
        prior = sum(o.cost for o in opt.observations if o.suggestion_id not in self._ids)
        if prior > 0:
            opt.config = dataclasses.replace(opt.config, total_budget=self.s.max_cost + prior)

    def _load_optimizer(self, n_rows: int) -> CARBS:
        """The checkpointed optimiser, or one rebuilt from the journal alone (the record of
        truth) when the checkpoint is missing or unreadable."""
        from carbs.optimizer import CARBS

        state_path = self.sweep_dir / STATE_FILE
        try:
            opt = CARBS(self.s.carbs_config(), self.params)
            opt.load_state_dict(read_state_file(state_path), source=str(state_path))
            return opt
        except StateFileError as e:
            logger.warning("resume: %s; rebuilding the optimiser from the journal's %d trial(s)",
                           e, n_rows)
        # a new seed: the original one would hand out the suggestion ids the journal holds
        return self._new_optimizer(seed=(self.s.seed * 1_000_003 + 7919 * (n_rows + 1)) % 2**31)

    def _resume(self) -> None:
        assert self.journal is not None
        rows = self.journal.rows()
        opt = self.opt = self._load_optimizer(len(rows))
        known = {o.suggestion_id for o in opt.observations}
        self._ids = {r["trial_id"] for r in rows}
        self.tell_budget(opt)
        for s in opt.outstanding:
            if s.suggestion_id not in self._ids:  # suggested, never launched
                opt.forget(s.suggestion_id)
        self.n_trials = len(rows)
        kept = ingested = adopted = 0
        for r in rows:
            t = Trial(r["trial_id"], self._row_config(r), job_num=_int(r["job_num"], -1),
                       attempt=_int(r["attempt"], 0),
                       predicted_cost=self._predicted(_json(r["suggestion"])))
            if r["status"] in ("ok", "failed"):
                kept += 1
                self.n_finished += 1
                self.spent += float(r["cost"] or 0.0)
                self.n_failed += r["status"] == "failed"
                if r["trial_id"] not in known:
                    self._observe(t, r["status"], r["output"], r["cost"] or 0.0)
                continue
            if t.attempt == 0 or t.job_num < 0:  # written, never launched
                self.retry.append(t)
                continue
            record = read_result(self.sweep_dir, self.ref(t))
            if record is not None:  # finished after the sweep died: keep it, never rerun it
                self.finish(t, outcome_from_record(record, self.s.objective, self.s.cost))
                end_orphan(read_start(self.sweep_dir, self.ref(t)))
                ingested += 1
            elif str(r["error"] or "").startswith(STOPPED):  # a stopped sweep stopped it
                self.retry.append(t)
            elif worker_state(start := read_start(self.sweep_dir, self.ref(t))) == "alive":
                t.adopted, t.launched = True, float(start.get("started", time.time()))
                self.inflight[t.trial_id] = t
                adopted += 1
            else:
                self.interrupted(t, "the sweep died while this trial ran")
        logger.info("resuming %s: %d finished trial(s) kept, %d finished while the sweep was "
                    "down (ingested), %d still running on their workers (waited for), %d to "
                    "relaunch; cost spent %.4g", self.sweep_dir, kept, ingested, adopted,
                    len(self.retry), self.spent)

    def _row_config(self, row: Mapping[str, Any]) -> dict[str, Any]:
        cfg = {}
        for p in self.params:
            v = row[f"param.{p.name}"]
            if isinstance(p.space, CategoricalSpace) and all(isinstance(c, bool)
                                                             for c in p.space.choices):
                v = bool(v)
            cfg[p.name] = v
        return cfg

    # --- the run ----------------------------------------------------------------------------
    def run(self) -> pd.DataFrame:
        """Check, own the directory, open, run until the budget is spent; returns the trials."""
        self.check()
        with self._owned(), self._signals(), quiet_launchers(self.s.trial_output.name == "file"):
            try:
                with self.bookkeeping():
                    self.open()
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
        return self._new_trial(cap)

    def _new_trial(self, cap: float | None) -> Trial:
        assert self.opt is not None and self.journal is not None
        for _ in range(3):
            sug = self.opt.suggest(max_suggestion_cost=cap)
            if sug.suggestion_id not in self._ids:
                break
            self.opt.forget(sug.suggestion_id)  # an id the journal already holds
        t = Trial(sug.suggestion_id, dict(sug.config),
                   predicted_cost=self._predicted(sug.predictions))
        self.journal.add_running(t.trial_id, t.config, sug.predictions)
        self._ids.add(t.trial_id)
        self.n_trials += 1
        self.opt.save(self.sweep_dir / STATE_FILE)
        return t

    def _predicted(self, predictions: Mapping[str, Any] | None) -> float:
        """A suggestion's predicted cost; for a random (start-up) one, the median cost of the
        successful trials so far (0 before the first)."""
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
        self._observe(t, out.status, out.output, out.cost)
        self.opt.save(self.sweep_dir / STATE_FILE)
        self.spent += out.cost
        self.n_finished += 1
        if out.status == "ok":
            self.consecutive_failures = 0
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

    def _observe(self, t: Trial, status: str, output: Any, cost: float) -> None:
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


def _int(v: Any, default: int) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def _json(text: Any) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
