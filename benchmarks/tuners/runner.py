"""Run tuners on problems under a cumulative-cost budget and collect trial rows.

One run = one (problem, tuner, seed). Trials are sequential; a run stops when the cumulative
cost reaches the budget or the trial cap is hit (the trial that crosses the budget is still
charged and recorded; metrics at equal cost only count trials that finished within it).
The problem's noise for trial i of seed s is drawn from ``default_rng([s, i])``, so every tuner
sees the same noise stream.

Tuners that watch learning curves (``Tuner.uses_curves``, the ``asha`` arm) get every step but the
final one of the problem's ``learning_curve`` through ``Tuner.report`` (the final result comes
through ``tell``, as for every tuner); when the tuner stops a run, the trial is
recorded with its last step's output and the cost spent up to that step (``metric.pruned`` = 1,
``metric.curve_step`` = the last step). The run's final step equals what ``evaluate`` returns,
so a run that is never stopped is recorded exactly as for every other tuner. Stopped runs do not
count toward the trial cap (it bounds the number of full runs; a stopped run is a fraction of
one), up to `STOPPED_RUNS_FACTOR` x the cap in all; the cost budget counts everything.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from benchmarks.tuners.adapters import EXTRA_TUNERS, TUNER_NAMES, Tuner, make_tuner
from benchmarks.tuners.base import Budget, Evaluation, Problem
from benchmarks.tuners.problems import PROBLEM_NAMES, get_problem

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSpec:
    """One tuner run: which problem, which tuner, which seed, and its budget."""

    problem: str
    tuner: str
    seed: int
    budget: Budget

    def __post_init__(self) -> None:
        if self.problem not in PROBLEM_NAMES:
            raise ValueError(f"RunSpec.problem: unknown {self.problem!r}; one of {PROBLEM_NAMES}")
        if self.tuner not in TUNER_NAMES + EXTRA_TUNERS:
            raise ValueError(
                f"RunSpec.tuner: unknown {self.tuner!r}; one of {TUNER_NAMES + EXTRA_TUNERS}"
            )

    @property
    def sweep(self) -> str:
        """Sweep id used in the trial table."""
        return f"{self.problem}/{self.tuner}/seed{self.seed}"


@dataclass
class RunResult:
    """Trial rows of one run, plus the tuner's error if it crashed (the run then ends early)."""

    spec: RunSpec
    rows: list[dict[str, Any]] = field(default_factory=list)
    tuner_error: str = ""
    seconds: float = 0.0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def pin_threads(n: int = 1) -> None:
    """Pin BLAS/torch threads (oversubscription ran 30-70x slower on shared 2-core machines)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass


def run_one(spec: RunSpec) -> RunResult:
    """Run one tuner on one problem until the budget or the trial cap is reached."""
    problem = get_problem(spec.problem)
    result = RunResult(spec)
    t_start = time.perf_counter()
    try:
        tuner = make_tuner(spec.tuner, problem.dims, problem.search_center(), spec.seed)
    except Exception as exc:  # noqa: BLE001 - a tuner that cannot start is reported
        result.tuner_error = f"init: {type(exc).__name__}: {exc}"
        logger.error("%s: %s\n%s", spec.sweep, result.tuner_error, traceback.format_exc())
        return result
    try:
        _run_trials(spec, problem, tuner, result)
    finally:
        tuner.close()
    result.seconds = time.perf_counter() - t_start
    return result


class _ReportError(RuntimeError):
    """The tuner crashed while watching a learning curve."""


def _run_curve(
    problem: Problem, tuner: Tuner, config: dict[str, Any], rng: np.random.Generator
) -> Evaluation:
    """Run `config` step by step, reporting each step to the tuner until it stops the run."""
    last, stopped = None, False
    curve = problem.learning_curve(config, rng)
    for point in curve:
        last = point
        if point.final or point.evaluation.failed:
            break  # nothing left to stop: the result goes to the tuner through tell()
        try:
            stopped = tuner.report(point.step, point.evaluation.output)
        except Exception as exc:  # reported as the tuner's error
            raise _ReportError(f"{type(exc).__name__}: {exc}") from exc
        if stopped:
            break
    close = getattr(curve, "close", None)
    if close is not None:
        close()  # a stopped run's generator is closed: nothing more is trained or charged
    if last is None:
        raise RuntimeError(f"{problem.name}: learning_curve yielded no step")
    ev = last.evaluation
    metrics = {**ev.metrics, "pruned": float(stopped), "curve_step": float(last.step)}
    return Evaluation(ev.output, ev.cost, ev.noise_free, metrics, ev.error)


#: With early stopping, at most this many times the trial cap of runs in all (stopped or not).
STOPPED_RUNS_FACTOR = 10


def _run_trials(spec: RunSpec, problem: Problem, tuner: Tuner, result: RunResult) -> None:
    cumulative = 0.0
    full_runs = 0
    cap = spec.budget.max_trials * (STOPPED_RUNS_FACTOR if tuner.uses_curves else 1)
    for i in range(cap):
        if cumulative >= spec.budget.cost or full_runs >= spec.budget.max_trials:
            break
        started = _now()
        t0 = time.perf_counter()
        try:
            config = tuner.ask()
        except Exception as exc:  # noqa: BLE001 - a crashing tuner ends its run, not the benchmark
            result.tuner_error = f"ask #{i}: {type(exc).__name__}: {exc}"
            logger.error("%s: %s\n%s", spec.sweep, result.tuner_error, traceback.format_exc())
            break
        t1 = time.perf_counter()
        rng = np.random.default_rng([spec.seed, i])
        try:
            ev = (
                _run_curve(problem, tuner, config, rng)
                if tuner.uses_curves
                else problem.evaluate(config, rng)
            )
        except _ReportError as exc:
            result.tuner_error = f"report #{i}: {exc}"
            logger.error("%s: %s", spec.sweep, result.tuner_error)
            break
        t2 = time.perf_counter()
        try:
            tuner.tell(config, ev.output, ev.cost, ev.failed)
        except Exception as exc:  # noqa: BLE001 - as above
            result.tuner_error = f"tell #{i}: {type(exc).__name__}: {exc}"
            logger.error("%s: %s\n%s", spec.sweep, result.tuner_error, traceback.format_exc())
        cumulative += ev.cost
        full_runs += ev.metrics.get("pruned", 0.0) != 1.0
        row = _trial_row(spec, i, config, ev, started, t1 - t0 + (time.perf_counter() - t2),
                         t2 - t1, cumulative)
        result.rows.append(row)
        if result.tuner_error:
            break


def _trial_row(spec: RunSpec, i: int, config: dict[str, Any], ev, started: str,
               suggest_seconds: float, eval_seconds: float, cumulative: float) -> dict[str, Any]:
    """Trial ``i`` of a run as a row of the trial table (the project's contract, plus the
    benchmark's columns)."""
    row: dict[str, Any] = {
        "trial_id": f"{spec.sweep}/{i}",
        "sweep": spec.sweep,
        "status": "failed" if ev.failed else "ok",
        "output": ev.output,
        "cost": ev.cost,
    }
    row.update({f"param.{k}": v for k, v in config.items()})
    row["metric.noise_free_output"] = ev.noise_free
    row["metric.suggest_seconds"] = suggest_seconds
    row["metric.eval_seconds"] = eval_seconds
    row.update({f"metric.{k}": v for k, v in ev.metrics.items()})
    row.update(
        {
            "error": ev.error,
            "started_at": started,
            "finished_at": _now(),
            "tuner": spec.tuner,
            "problem": spec.problem,
            "seed": spec.seed,
            "trial_index": i,
            "cumulative_cost": cumulative,
        }
    )
    return row


def _run_pinned(spec: RunSpec) -> RunResult:
    pin_threads(1)
    return run_one(spec)


def make_specs(
    problems: list[str],
    tuners: list[str],
    seeds: list[int],
    quick: bool = False,
    budget_scale: float = 1.0,
    max_trials: int | None = None,
) -> list[RunSpec]:
    """All (problem, tuner, seed) runs with each problem's default (or --quick) budget.

    Args:
        budget_scale: multiplies every problem's cost budget (and the cost-free trial caps).
        max_trials: overrides the trial cap of every problem.
    """
    if budget_scale <= 0 or not math.isfinite(budget_scale):
        raise ValueError(f"budget_scale must be a positive number, got {budget_scale}")
    specs = []
    for p in problems:
        prob = get_problem(p)
        base = prob.quick_budget if quick else prob.budget
        cap = max_trials if max_trials is not None else base.max_trials
        if not prob.cost_aware:  # cost 1 per trial: the budget is a trial count
            cap = max(1, round(cap * budget_scale)) if max_trials is None else cap
            budget = Budget(float(cap), cap)
        else:
            budget = Budget(base.cost * budget_scale, cap)
        specs += [RunSpec(p, t, s, budget) for s in seeds for t in tuners]
    return specs


def run_benchmark(
    specs: list[RunSpec], workers: int = 1, progress: bool = True
) -> tuple[pd.DataFrame, list[RunResult]]:
    """Run all specs (in `workers` processes when > 1) and return (trials table, run results)."""
    results: list[RunResult] = []
    bar = tqdm(total=len(specs), desc="tuner runs", disable=not progress)
    if workers <= 1:
        pin_threads(1)
        for spec in specs:
            results.append(run_one(spec))
            bar.set_postfix_str(spec.sweep)
            bar.update()
    else:
        # spawn, not fork: forking a process that already runs torch/BLAS threads can deadlock.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [pool.submit(_run_pinned, s) for s in specs]
            for fut in as_completed(futures):
                results.append(fut.result())
                bar.update()
    bar.close()
    order = {s: i for i, s in enumerate(specs)}
    results.sort(key=lambda r: order[r.spec])
    rows = [row for r in results for row in r.rows]
    trials = pd.DataFrame(rows)
    return trials, results
