"""When trials launch: the scheduling half of a sweep (the recording half is
:class:`carbs.sweep.loop.SweepRun`).

- ``async``: ``n_jobs`` trials in flight, each one ``Launcher.launch`` call on a thread of its
  own with a launcher instance of its own (an ``inline`` launcher, Hydra's basic one, runs one
  trial at a time on the main thread); the main thread waits for the next trial to end, records
  it and fills the freed slot at once. Trials adopted from a dead sweep (their worker still
  runs) hold slots too, until their result appears or their worker dies. The sweep's own
  deadline backs the workers' ``trial_timeout_s``.
- ``batch``: ``n_jobs`` suggestions, one launch call, the next batch after the slowest trial.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from carbs.sweep.launchers import prepare, stop_workers
from carbs.sweep.outcome import TrialOutcome, outcome_from_record
from carbs.sweep.records import TrialRef, end_orphan, read_result, read_start, worker_state

if TYPE_CHECKING:
    from carbs.sweep.loop import SweepRun
    from carbs.sweep.trial import Trial

logger = logging.getLogger("carbs.sweep")

__all__ = ["Scheduler", "call_launch"]

_POLL_S = 0.5  # how often the loop looks at adopted trials and deadlines


class Scheduler:
    """Launches the trials of one :class:`SweepRun` (see the module)."""

    def __init__(self, run: SweepRun):
        self.run = run
        self.events: queue.Queue = queue.Queue()  # (trial_id, job_num, JobReturn, error)
        self.launches = 0
        self.composed_once = False
        self.started = False  # the sweep started a Ray connection: it ends it

    # --- async ----------------------------------------------------------------------------
    def run_async(self) -> None:
        """Keep ``n_jobs`` trials in flight until the budget is spent (see the module)."""
        run = self.run
        if run.kind.inline and run.s.n_jobs > 1:
            logger.warning("the %s launcher runs trials in the sweep's own process, one at a "
                           "time: n_jobs=%d keeps 1 trial in flight (hydra/launcher=joblib runs "
                           "them in parallel)", run.kind.name, run.s.n_jobs)
        while True:
            self._fill()
            if not run.inflight:
                return
            self.wait()

    def _slots(self) -> int:
        run = self.run
        return 1 if run.kind.inline else run.s.n_jobs

    def _fill(self) -> None:
        run = self.run
        while run.stop_error is None and len(run.inflight) < self._slots():
            with run.bookkeeping():
                t = run.next_trial()
            if t is None:
                return
            self._launch(t)

    def _launch(self, t: Trial) -> None:
        run = self.run
        overrides = run.overrides(t)
        with run.bookkeeping():
            if not self.composed_once and run.compose is not None:
                # the first trial is composed here, so a config that cannot compose stops
                # nothing but its own trial; later ones are composed by the launcher only
                self.composed_once = True
                if not self._composes(t, overrides):
                    return
            launcher = self._launcher(run.mark_launched([t]))
        if run.kind.inline:
            returns, error = call_launch(launcher, [overrides], t.job_num)
            with run.bookkeeping():
                run.inflight.pop(t.trial_id, None)
                run.complete(t, returns[0] if returns else None, error)
            return
        threading.Thread(target=self._launch_thread, args=(launcher, overrides, t),
                         name=f"carbs-job-{t.job_num}", daemon=True).start()

    def _composes(self, t: Trial, overrides: list[str]) -> bool:
        """Compose trial ``t``'s config in the sweep's process (the first launch only), so a
        config that cannot compose fails its own trial, recorded, and stops nothing else."""
        run = self.run
        assert run.compose is not None
        try:
            run.compose(overrides)
        except Exception as e:  # noqa: BLE001  (a config this job cannot compose)
            run.finish(t, TrialOutcome("failed", math.nan, 0.0,
                                       error=f"config composition failed: {e}"))
            return False
        return True

    def _launcher(self, refs: dict[int, TrialRef]) -> Any:
        """A launcher instance running these trials' task, set up for this launcher kind."""
        run = self.run
        launcher = run.new_launcher(run.task.for_trials(refs))
        self.started |= prepare(launcher, run.kind, run.s.n_jobs, first=self.launches == 0)
        self.launches += 1
        assert run.progress is not None
        run.progress.refresh()
        return launcher

    def _launch_thread(self, launcher: Any, overrides: list[str], t: Trial) -> None:
        returns, error = call_launch(launcher, [overrides], t.job_num)
        self.events.put((t.trial_id, t.job_num, returns[0] if returns else None, error))

    def wait(self) -> None:
        """Record what finished (waiting at most :data:`_POLL_S`), adopted trials and
        deadlines."""
        run = self.run
        try:
            event = self.events.get(timeout=_POLL_S)
        except queue.Empty:
            event = None
        with run.bookkeeping():
            while event is not None:
                trial_id, job_num, ret, error = event
                t = run.inflight.get(trial_id)
                if t is not None and t.job_num == job_num and not t.adopted:
                    del run.inflight[trial_id]
                    run.complete(t, ret, error)
                try:
                    event = self.events.get_nowait()
                except queue.Empty:
                    event = None
            self._poll_adopted()
            self._check_deadlines()

    def _poll_adopted(self) -> None:
        run = self.run
        for t in [t for t in run.inflight.values() if t.adopted]:
            record = read_result(run.sweep_dir, run.ref(t))
            if record is not None:
                del run.inflight[t.trial_id]
                run.finish(t, outcome_from_record(record, run.s.objective, run.s.cost))
                end_orphan(read_start(run.sweep_dir, run.ref(t)))
            elif worker_state(read_start(run.sweep_dir, run.ref(t))) != "alive":
                del run.inflight[t.trial_id]
                run.interrupted(t, "its worker died after the sweep that launched it")

    def _check_deadlines(self) -> None:
        """The sweep's own deadline, behind the worker's (:mod:`carbs.sweep.task`): a trial
        that outlives ``trial_timeout_s`` by a grace period has a stuck worker; it is ended
        (when on this host) and the trial fails, freeing its slot."""
        run = self.run
        timeout = run.s.trial_timeout_s
        if timeout is None:
            return
        grace = 10.0 + 0.1 * timeout
        now = time.time()
        for t in [t for t in run.inflight.values() if now - t.launched > timeout + grace]:
            del run.inflight[t.trial_id]
            ended = stop_workers([read_start(run.sweep_dir, run.ref(t))], grace_s=2.0) \
                if not t.adopted else 0
            run.finish(t, TrialOutcome(
                "failed", math.nan, 0.0, error=f"timed out: no result {now - t.launched:.0f} s "
                f"after launch (trial_timeout_s={timeout:g}); its worker did not stop"
                + (" and was ended" if ended else "")))

    # --- batch ----------------------------------------------------------------------------
    def run_batches(self) -> None:
        """Batch after batch until the budget is spent."""
        run = self.run
        while run.inflight:  # trials adopted from a dead sweep finish first
            self.wait()
        while run.stop_error is None:
            with run.bookkeeping():
                batch = self._next_batch()
            if not batch:
                return
            self._launch_batch(batch)

    def _next_batch(self) -> list[Trial]:
        run = self.run
        batch = run.retry[: run.s.n_jobs]
        run.retry = run.retry[len(batch):]
        n_new = run.s.n_jobs - len(batch)
        if run.s.max_trials is not None:
            n_new = min(n_new, run.s.max_trials - run.n_trials)
        if run.s.max_cost is not None and run.spent >= run.s.max_cost:
            n_new = 0
        for _ in range(max(n_new, 0)):
            t = run.next_trial(cap_for=n_new)
            if t is None:
                break
            batch.append(t)
        return batch

    def _launch_batch(self, batch: list[Trial]) -> None:
        run = self.run
        launchable, overrides = [], []
        with run.bookkeeping():
            for t in batch:
                ov = run.overrides(t)
                if run.compose is not None and self.launches == 0 and not self._composes(t, ov):
                    continue
                launchable.append(t)
                overrides.append(ov)
            if not launchable:
                return
            launcher = self._launcher(run.mark_launched(launchable))
        returns, error = call_launch(launcher, overrides, launchable[0].job_num)
        with run.bookkeeping():
            for i, t in enumerate(launchable):
                run.inflight.pop(t.trial_id, None)
                run.complete(t, returns[i] if i < len(returns) else None, error)


def call_launch(launcher: Any, overrides: list[list[str]], first_job: int
                ) -> tuple[Sequence[Any], str | None]:
    """``launcher.launch``; a launcher error is returned (the trials fail or are relaunched),
    a stop signal propagates."""
    try:
        return launcher.launch(overrides, initial_job_idx=first_job), None
    except Exception as e:  # noqa: BLE001  (a dead worker fails its trials, not the sweep)
        return [], f"{type(e).__name__}: {e}"
