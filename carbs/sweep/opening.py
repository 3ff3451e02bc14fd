"""How a sweep starts (for :class:`carbs.sweep.loop.SweepRun`): a new journal with a fresh or
warm-started optimiser, or the resume of the sweep directory's journal.

A resume first checks that the journal belongs to this sweep (its identity: search space,
objective, cost key, fixed overrides, config name), then takes the optimiser from its checkpoint
(``carbs_state.json``) or, when that is missing or unreadable, rebuilds it from the journal
alone (the record of truth). Each trial the journal holds is then:

- finished: kept (observed again only if the checkpoint lacks it);
- written but never launched, or stopped by a stopped sweep: relaunched;
- launched, with a result its worker wrote while the sweep was down: ingested, never rerun;
- launched, its worker still alive (a dead sweep's orphan, as on SLURM or Ray): adopted, i.e.
  waited for in a slot of its own;
- launched, its worker gone: relaunched once, or failed (``on_interrupted``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from carbs.spaces import CategoricalSpace
from carbs.state import StateFileError, read_state_file
from carbs.sweep.identity import check_identity
from carbs.sweep.journal import JOURNAL_FILE, STOPPED, Journal, JournalError
from carbs.sweep.outcome import outcome_from_record
from carbs.sweep.records import end_orphan, read_result, read_start, worker_state
from carbs.sweep.settings import SweepConfigError
from carbs.sweep.trial import Trial

if TYPE_CHECKING:  # torch and gpytorch load only once a sweep passes its checks
    from carbs.optimizer import CARBS
    from carbs.sweep.loop import SweepRun

logger = logging.getLogger("carbs.sweep")

__all__ = ["STATE_FILE", "load_optimizer", "new_optimizer", "open_sweep", "tell_budget"]

STATE_FILE = "carbs_state.json"


def open_sweep(run: SweepRun) -> None:
    """Create the journal, or resume it (after checking it belongs to this sweep)."""
    path = run.sweep_dir / JOURNAL_FILE
    if path.exists():
        try:
            with Journal.open(path, read_only=True) as j:
                check_identity(j.meta, run.identity(), path)
            run.journal = Journal.open(path)
            run.uid = run.journal.sweep_uid
            _resume(run)
        except (JournalError, sqlite3.DatabaseError) as e:
            raise SweepConfigError(
                f"hydra.sweep.dir={run.sweep_dir}: cannot resume from {path}: {e}. Restore "
                f"the journal, or move it aside (mv {path} {path}.bad) to start a new sweep "
                "in this directory") from None
    else:
        opt = new_optimizer(run)  # before the journal: a bad warm start creates nothing
        tell_budget(run, opt)
        meta = {"sweep": run.name, **run.identity(), "carbs": run.s.carbs_options()}
        if run.s.warm_start:
            meta["warm_start"] = {**run.s.warm_start, "observations": len(opt.observations)}
        run.journal = Journal.create(path, meta, [p.name for p in run.params])
        run.uid = run.journal.sweep_uid
        run.opt = opt
        opt.save(run.sweep_dir / STATE_FILE)
    run.next_job = run.journal.max_job_num() + 1


def new_optimizer(run: SweepRun, seed: int | None = None) -> CARBS:
    """A fresh optimiser, warm-started from an earlier sweep when the settings say so."""
    from carbs.optimizer import CARBS

    cfg = run.s.carbs_config()
    if seed is not None:
        cfg = dataclasses.replace(cfg, seed=seed)
    ws = run.s.warm_start
    try:
        if not ws:
            return CARBS(cfg, run.params)
        opt = CARBS.warm_start(cfg, run.params, from_state=ws["from"],
                               fixed_values=ws["fixed_values"],
                               recenter_on_best=ws["recenter_on_best"])
    except ValueError as e:
        where = "warm_start" if ws else "search_space"
        raise SweepConfigError(f"hydra.sweeper.{where}: {e}") from None
    logger.info("warm start: %d observation(s) from %s", len(opt.observations), ws["from"])
    return opt


def tell_budget(run: SweepRun, opt: CARBS) -> None:
    """With ``max_cost`` as CARBS's ``total_budget`` and ``max_trials`` as its
    ``total_trials`` (the ``carbs.`` fields not set), add the cost and the number of the
    observations that are not this sweep's trials (warm-started): CARBS counts every
    observation it holds against its budget, the sweep only its own."""
    prior = [o for o in opt.observations if o.suggestion_id not in run.trial_ids]
    if not prior:
        return
    changes: dict[str, float | int] = {}
    if run.s.max_cost is not None and run.s.carbs.total_budget is None:
        changes["total_budget"] = run.s.max_cost + sum(o.cost for o in prior)
    if run.s.max_trials is not None and run.s.carbs.total_trials is None:
        changes["total_trials"] = run.s.max_trials + len(prior)
    if changes:
        opt.config = dataclasses.replace(opt.config, **changes)


def load_optimizer(run: SweepRun, n_rows: int) -> CARBS:
    """The checkpointed optimiser, or one rebuilt from the journal alone (the record of
    truth) when the checkpoint is missing or unreadable."""
    from carbs.optimizer import CARBS

    state_path = run.sweep_dir / STATE_FILE
    try:
        opt = CARBS(run.s.carbs_config(), run.params)
        opt.load_state_dict(read_state_file(state_path), source=str(state_path))
        return opt
    except StateFileError as e:
        logger.warning("resume: %s; rebuilding the optimiser from the journal's %d trial(s)",
                       e, n_rows)
    # a new seed: the original one would hand out the suggestion ids the journal holds
    return new_optimizer(run, seed=(run.s.seed * 1_000_003 + 7919 * (n_rows + 1)) % 2**31)


def _resume(run: SweepRun) -> None:
    """Take up the journal's trials (see the module)."""
    assert run.journal is not None
    rows = run.journal.rows()
    opt = run.opt = load_optimizer(run, len(rows))
    known = {o.suggestion_id for o in opt.observations}
    run.trial_ids = {r["trial_id"] for r in rows}
    tell_budget(run, opt)
    for s in opt.outstanding:
        if s.suggestion_id not in run.trial_ids:  # suggested, never launched
            opt.forget(s.suggestion_id)
    run.n_trials = len(rows)
    kept = ingested = adopted = 0
    for r in rows:
        t = Trial(r["trial_id"], _row_config(run, r), job_num=_int(r["job_num"], -1),
                  attempt=_int(r["attempt"], 0),
                  predicted_cost=run.predicted_cost(_json(r["suggestion"])))
        if r["status"] in ("ok", "failed"):
            kept += 1
            run.n_finished += 1
            run.spent += float(r["cost"] or 0.0)
            run.n_failed += r["status"] == "failed"
            if r["trial_id"] not in known:
                run.observe(t, r["status"], r["output"], r["cost"] or 0.0)
            continue
        if t.attempt == 0 or t.job_num < 0:  # written, never launched
            run.retry.append(t)
            continue
        record = read_result(run.sweep_dir, run.ref(t))
        if record is not None:  # finished after the sweep died: keep it, never rerun it
            run.finish(t, outcome_from_record(record, run.s.objective, run.s.cost))
            end_orphan(read_start(run.sweep_dir, run.ref(t)))
            ingested += 1
        elif str(r["error"] or "").startswith(STOPPED):  # a stopped sweep stopped it
            run.retry.append(t)
        elif worker_state(start := read_start(run.sweep_dir, run.ref(t))) == "alive":
            t.adopted, t.launched = True, float(start.get("started", time.time()))
            run.inflight[t.trial_id] = t
            adopted += 1
        else:
            run.interrupted(t, "the sweep died while this trial ran")
    logger.info("resuming %s: %d finished trial(s) kept, %d finished while the sweep was "
                "down (ingested), %d still running on their workers (waited for), %d to "
                "relaunch; cost spent %.4g", run.sweep_dir, kept, ingested, adopted,
                len(run.retry), run.spent)


def _row_config(run: SweepRun, row: Mapping[str, Any]) -> dict[str, Any]:
    """A journal row's configuration, with booleans back as booleans (SQLite stores 0/1)."""
    cfg = {}
    for p in run.params:
        v = row[f"param.{p.name}"]
        if isinstance(p.space, CategoricalSpace) and all(isinstance(c, bool)
                                                         for c in p.space.choices):
            v = bool(v)
        cfg[p.name] = v
    return cfg


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
