"""The GPU check: one prepared script for a machine with one GPU (9 minutes by default, each
section within its own time budget).

Sections (each runs even when another fails or runs out of time; its error is recorded instead):

* ``lm``: the LM recipe's GPT at ~125M parameters (``model=gpt125m``: d_model 768, 12 layers,
  context 1024, 50304-token vocabulary), bf16 autocast, 50 steps of 32 x 1024 tokens on random
  tokens: tokens/s and model-FLOPs utilisation (MFU, peak bf16 FLOP/s from
  ``recipes.lm.hardware``; target >= 40% on an H100) in steady state (after the warm-up steps),
  through Composer (the recipe's ``build_trainer``, compiled as ``train.compile``'s default
  does on a GPU), through a plain PyTorch loop on the same model in the same process, and
  through Composer without ``torch.compile`` (the compile default's speed-up).
* ``lm_memory``: a batch too large for one pass (512 x 1024 tokens, the README's gpt125m
  example, 3 steps) with ``train.microbatch_tokens`` unset: the micro-batch Composer's search
  settles on for training and for the validation pass, the peak memory of the last step, a
  finite validation loss.
* ``attention``: for model shapes with head widths 64 and 36 (16 heads, 2 layers, context 1024)
  and the T5 bias, whether the flash
  kernel runs (forced with ``sdpa_kernel(FLASH_ATTENTION)``) against what the config predicts
  (``ModelConfig.flash_attention_problem``), and the forward+backward time of each.
* ``ppo``: PPO env steps/s on CoinRun (easy) with 64 environments, the policy and the update on
  the GPU (the paper's 64 x 256 rollout, 8 minibatches, 3 epochs); the device synchronisations
  one update makes (CUDA's sync debug mode) and whether a restored learner state replays its
  action sampling on the GPU (the CUDA generator is checkpointed). Engine: envpool; where
  envpool cannot be imported (it has no wheel for some Pythons) a stand-in engine of CoinRun's
  shapes (3 x 64 x 64 uint8 frames, 15 actions, random frames) is used and named in the result.
* ``suggest``: ``CARBS.suggest()`` at 1,000 observations of 10 parameters on CUDA, cold (first
  call) and warm (median of 3 observe-then-suggest cycles), against the same on the CPU in the
  same process; which is faster, and whether CARBS's default ``device`` (``cpu``) is that one.
* ``lm_ranks``: the recipe's command line (``model=small``, 2M tokens) through Composer's
  launcher, one process per GPU, each on its own GPU; with two GPUs or more ``train.fsdp=true``
  (FSDP per transformer block). Its result: loss, micro-batch, tokens/s and MFU (whole run and
  steady state).
* ``lm_sweep``: a small CARBS sweep of the LM recipe on the GPU, through the Hydra sweeper
  (``python -m recipes.lm --multirun +sweep=lm_tiny train.device=gpu train.precision=amp_bf16
  train.compile=false``: the CPU sweep's search space, so the two tables compare; trials of a few
  seconds would spend most of their time compiling): its journal and a CSV with the GPU's name
  and the MFU of every trial, whole-run and steady-state (``lm_gpu.sqlite``, ``lm_gpu.csv`` in
  ``--out``). ``--sweep`` and ``--sweep-config-dir`` run another sweep config instead. Stopped at
  its budget, the sweep's journal is still read (the trials finished by then).
* ``extrapolation`` (only when named in ``--sections``, with a ``--time-budget-s`` of hours): a
  CARBS sweep in about 1e15-1e17 FLOPs and ``scaling recommend``'s configuration trained at 10x
  its largest run against two baselines (``benchmarks/gpu_extrapolation.py``).

    python -m benchmarks.gpu_check --out runs/gpu_check          # on a GPU machine
    python -m benchmarks.gpu_check --dry-run                     # every section, tiny, on CPU
    python -m benchmarks.gpu_check --sections lm,suggest         # some sections
    python -m benchmarks.gpu_check --time-budget-s 300           # a shorter check

Time: ``--time-budget-s`` (default 540 s) is shared out among the sections (``BUDGET_SHARES``);
time the others leave unused goes to the last one (the sweep). A section that runs out is
stopped (``"timed_out": true``, with what it measured by then; a stopped sweep's journal is still
read) and the next one starts. It installs nothing. ``--dry-run`` runs every section at tiny
sizes on the CPU (so CI tests the script; two CPU ranks are tested in
``tests/recipes/lm/test_cli.py``) and prints the same JSON shape. The last stdout line is always
one JSON object, also when the check is stopped (SIGTERM, Ctrl-C): ``{"benchmark": "gpu_check",
"dry_run", "device", "torch", "time_budget_s", "sections": {name: {...}}, "seconds"}``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("lm", "lm_memory", "attention", "ppo", "suggest", "lm_ranks", "lm_sweep")
#: Seconds of a 540-second check per section (scaled to --time-budget-s). Measured expectations
#: on an H100: lm compiles twice (~40-60 s each) and runs three arms; lm_memory finds its
#: micro-batch in a few out-of-memory retries; the sweep gets what the others leave.
BUDGET_SHARES = {"lm": 150, "lm_memory": 70, "attention": 20, "ppo": 60, "suggest": 40,
                 "lm_ranks": 70, "lm_sweep": 130}
DEFAULT_BUDGET_S = 540.0
#: Run only when named in --sections: ``extrapolation`` is a job of hours on a GPU
#: (benchmarks/gpu_extrapolation.py; its dry run takes about a minute on a CPU). Named with
#: other sections it gets what they leave of --time-budget-s.
OPTIONAL_SECTIONS = ("extrapolation",)
BUDGET_SHARES["extrapolation"] = 0.0
log = logging.getLogger("gpu_check")


class SectionTimeout(Exception):
    """A section ran past its time budget."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`SectionTimeout` in this (main) thread after ``seconds`` (SIGALRM): the
    sections' loops return to Python often (training steps, compilation passes, suggest
    calls), where the signal is delivered."""
    def expire(signum: int, frame: Any) -> None:
        raise SectionTimeout(f"ran past its budget of {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _device_name(cuda: bool) -> str:
    return torch.cuda.get_device_name() if cuda else "cpu"


def _round(x: float | None, digits: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


def _env() -> dict[str, str]:
    """The environment of the check's subprocesses: this checkout's packages first."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}


def _run_process(cmd: list[str], timeout: float, log_path: Path) -> tuple[int | None, str, bool]:
    """Run ``cmd`` in its own process group for at most ``timeout`` seconds (then SIGTERM to
    the whole group, SIGKILL 15 s later): (return code, output tail, timed out). Its output
    goes to ``log_path``."""
    with open(log_path, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=out, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        timed_out = False
        try:
            proc.wait(timeout=max(timeout, 1.0))
        except subprocess.TimeoutExpired:
            timed_out = True
            log.warning("%s ran past its %.0f s: stopping it", cmd[2:5], timeout)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        except BaseException:  # the check itself is stopped: take the process group with it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            raise
    return proc.returncode, log_path.read_text()[-3000:], timed_out


def _last_json(text: str) -> dict[str, Any] | None:
    lines = [line for line in text.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else None


# ----------------------------------------------------------------------------------- LM
def _gpt125m():
    from recipes.lm.config import ModelConfig

    return ModelConfig(name="gpt125m", d_model=768, n_layers=12, n_heads=12,
                       context_length=1024, rel_max_distance=1024)


def _tiny_model(name: str = "dry"):
    from recipes.lm.config import ModelConfig

    return ModelConfig(name=name, d_model=64, n_layers=2, n_heads=2, context_length=64,
                       rel_max_distance=64)


def _lm_setup(dry: bool, compile: bool):
    from benchmarks.lm_throughput import random_token_setup

    if dry:
        model, vocab, steps, seqs, warmup = _tiny_model(), 512, 4, 4, 1
    else:  # conf/model/gpt125m.yaml
        model, vocab, steps, seqs, warmup = _gpt125m(), 50304, 50, 32, 10
    cfg, data = random_token_setup(model, vocab, steps, seqs, device="cpu" if dry else "gpu",
                                   precision="fp32" if dry else "amp_bf16",
                                   compile=compile and not dry)
    return cfg, data, warmup


def section_lm(dry: bool, cuda: bool, out: dict[str, Any]) -> None:
    from benchmarks import lm_throughput
    from recipes.lm.hardware import peak_flops
    from recipes.lm.model import count_params, flops_per_token

    arms = {"composer": (lm_throughput.composer_tokens_per_s, True),
            "composer_eager": (lm_throughput.composer_tokens_per_s, False),
            "plain": (lm_throughput.plain_tokens_per_s, True)}
    cfg, data, warmup = _lm_setup(dry, compile=True)
    m, vocab = cfg.model, data.vocab_size
    peak = peak_flops(_device_name(cuda)) if cuda else None
    fpt = flops_per_token(m, vocab)
    out.update({
        "model": m.name, "params": count_params(m, vocab)["total"], "context": m.context_length,
        "precision": cfg.train.precision, "compile": cfg.train.compile, "steps": cfg.steps,
        "timed_steps": cfg.steps - warmup, "batch_tokens": cfg.train.batch_tokens,
        "peak_flops": peak, "target_mfu": 0.40})
    for arm, (run, compile) in arms.items():
        try:
            cfg, data, warmup = _lm_setup(dry, compile)
            t0 = time.perf_counter()
            tps = run(cfg, data, warmup)
            mfu = fpt * tps / peak if peak else math.nan
            out[arm] = {"tokens_per_s": _round(tps, 1), "mfu": _round(mfu),
                        "compile": cfg.train.compile,
                        "seconds": _round(time.perf_counter() - t0, 1)}
            log.info("lm %s: %.0f tokens/s, MFU %s", arm, tps, f"{mfu:.1%}" if peak else "n/a")
        except SectionTimeout:
            raise
        except Exception as err:  # noqa: BLE001  (recorded; the other arms still run)
            out[arm] = {"error": f"{type(err).__name__}: {err}"[:2000]}
            log.error("lm %s failed:\n%s", arm, traceback.format_exc())
        finally:
            if cuda:
                torch.cuda.empty_cache()
    mfus = [out[a]["mfu"] for a in ("composer", "plain") if out[a].get("mfu") is not None]
    out["mfu"] = max(mfus) if mfus else None
    out["meets_target"] = None if out["mfu"] is None else out["mfu"] >= out["target_mfu"]
    eager = out["composer_eager"].get("tokens_per_s")
    compiled = out["composer"].get("tokens_per_s")
    out["compile_speedup"] = _round(compiled / eager, 3) if compiled and eager else None


def _last_batch_peak_memory():
    """A Composer callback whose ``peak_bytes`` is the peak GPU memory of the last training
    batch (the micro-batch search's out-of-memory attempts happen in the first)."""
    from composer.core import Callback

    class LastBatchPeak(Callback):
        peak_bytes = 0

        def batch_start(self, state, logger) -> None:
            if int(state.timestamp.batch) == int(state.max_duration.value) - 1:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()

        def batch_end(self, state, logger) -> None:
            if int(state.timestamp.batch) == int(state.max_duration.value):
                self.peak_bytes = torch.cuda.max_memory_allocated()

    return LastBatchPeak()


def section_lm_memory(dry: bool, cuda: bool, out: dict[str, Any]) -> None:
    """A 512 x 1024-token batch (dry: 16 x 64) with no micro-batch set: what Composer's search
    settles on, for training and for the validation pass, and the peak memory."""
    from benchmarks.lm_throughput import random_token_setup
    from recipes.lm.training import _final_val_loss, build_trainer

    model, vocab, seqs = (_tiny_model(), 512, 16) if dry else (_gpt125m(), 50304, 512)
    cfg, data = random_token_setup(model, vocab, 3, seqs, device="gpu" if cuda else "cpu",
                                   precision="amp_bf16" if cuda else "fp32", compile=False)
    out.update({"model": model.name, "batch_sequences": seqs, "context": model.context_length,
                "microbatch_tokens": cfg.train.microbatch_tokens})
    peak = _last_batch_peak_memory() if cuda else None
    trainer, _ = build_trainer(cfg, data, callbacks=[peak] if peak else [])
    try:
        trainer.fit()  # evaluates after the last batch
        out["microbatch_size"] = int(trainer.state.device_train_microbatch_size)
        out["eval_microbatch_size"] = int(trainer.state.evaluators[0].device_eval_microbatch_size)
        out["val_loss"] = _round(_final_val_loss(trainer))
    finally:
        trainer.close()
    if cuda:
        out["peak_memory_gib"] = _round(peak.peak_bytes / 2**30, 2)  # at the micro-batch found
        out["gpu_memory_gib"] = _round(torch.cuda.get_device_properties(0).total_memory / 2**30, 2)
        torch.cuda.empty_cache()
    out["fits"] = out["val_loss"] is not None
    log.info("lm_memory: batch %d sequences -> micro-batch %s (validation %s)", seqs,
             out["microbatch_size"], out["eval_microbatch_size"])


def section_attention(dry: bool, cuda: bool, out: dict[str, Any]) -> None:
    """Does the flash kernel run where the config says it does?"""
    from recipes.lm.config import ModelConfig
    from recipes.lm.model import GPT

    heads = 2 if dry else 16  # the dry run: the same head widths, fewer heads
    shapes = {"head_width_64": {"d_model": 64 * heads, "n_heads": heads},
              "head_width_36": {"d_model": 36 * heads, "n_heads": heads},
              "t5_bias": {"d_model": 64 * heads, "n_heads": heads, "position": "t5"}}
    ctx, batch = (64, 2) if dry else (1024, 8)
    dev = torch.device("cuda" if cuda else "cpu")
    rows = {}
    for name, shape in shapes.items():
        cfg = ModelConfig(n_layers=1 if dry else 2, context_length=ctx, rel_max_distance=ctx,
                          **shape)
        why = cfg.flash_attention_problem()
        row: dict[str, Any] = {"d_head": cfg.d_head, "position": cfg.position,
                               "predicted_flash": why is None, "flash_runs": None}
        model = GPT(cfg, 512).to(dev)
        x = torch.randint(0, 512, (batch, ctx), device=dev)
        autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda)
        if cuda:
            from torch.nn.attention import SDPBackend, sdpa_kernel

            try:
                with sdpa_kernel([SDPBackend.FLASH_ATTENTION]), autocast:
                    model(x).float().sum().backward()
                row["flash_runs"] = True
            except RuntimeError:
                row["flash_runs"] = False
        best = math.inf
        for _ in range(2 if dry else 5):  # the default kernel choice, timed
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            with autocast:
                model(x).float().sum().backward()
            if cuda:
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
        row["fwd_bwd_seconds"] = _round(best, 5)
        rows[name] = row
        del model
    out["shapes"] = rows
    measured = [r for r in rows.values() if r["flash_runs"] is not None]
    out["config_check_agrees"] = (all(r["predicted_flash"] == r["flash_runs"] for r in measured)
                                  if measured else None)


# ---------------------------------------------------------------------------------- PPO
class StandInEngine:
    """CoinRun-shaped environments (3 x 64 x 64 uint8 frames, 15 actions) that return random
    frames, no reward and an episode end every ~500 steps: the GPU path of PPO without envpool.
    The interface is :class:`recipes.ppo.envs.VecEnv`'s."""

    def __init__(self, num_envs: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.num_envs = num_envs
        self._frames = rng.integers(0, 256, size=(8, num_envs, 3, 64, 64), dtype=np.uint8)
        self._rng, self._t = rng, 0

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return (3, 64, 64)

    @property
    def num_actions(self) -> int:
        return 15

    def reset(self) -> np.ndarray:
        return self._frames[0]

    def step(self, actions: np.ndarray):
        from recipes.ppo.envs import StepResult

        self._t += 1
        done = self._rng.random(self.num_envs) < 1 / 500
        return StepResult(obs=self._frames[self._t % len(self._frames)],
                          reward=np.zeros(self.num_envs, dtype=np.float32), done=done,
                          episode_returns=[0.0] * int(done.sum()))

    def close(self) -> None:
        pass


def _cuda_syncs(fn: Callable[[], Any]) -> int:
    """How many times ``fn`` makes the host wait for the GPU (CUDA's sync debug mode warns on
    each synchronising call)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def _replays_actions(learner) -> bool:
    """A learner's state, restored, samples the same actions again (on its device)."""
    import copy

    state = copy.deepcopy(learner.state_dict())
    first = learner.agent.get_action_and_value(learner.next_obs)[0]
    learner.load_state_dict(state)
    return bool(torch.equal(learner.agent.get_action_and_value(learner.next_obs)[0], first))


def section_ppo(dry: bool, cuda: bool, out: dict[str, Any]) -> None:
    from recipes.ppo import PPO, ImpalaAgent, PPOConfig

    num_envs, num_steps, updates = (4, 8, 1) if dry else (64, 256, 3)
    small = {"num_minibatches": 2, "update_epochs": 1} if dry else {}  # else the paper's 8 x 3
    cfg = PPOConfig(env={"games": ["coinrun"]}, num_envs=num_envs, num_steps=num_steps,
                    total_timesteps=num_envs * num_steps * (updates + 1), progress=False,
                    **small)
    device = torch.device("cuda" if cuda else "cpu")
    try:
        from recipes.ppo import make_procgen

        envs = make_procgen("coinrun", "easy", num_envs, 200, 0, seed=0)
        engine = "envpool"
    except Exception as err:  # noqa: BLE001  (no envpool for this Python, no Qt, ...)
        log.warning("envpool unavailable (%s: %s): using the stand-in engine", type(err).__name__,
                    err)
        envs, engine = StandInEngine(num_envs), f"stand-in ({type(err).__name__}: {err})"[:300]
    out.update({"game": "coinrun", "engine": engine, "device": _device_name(cuda),
                "num_envs": num_envs, "num_steps": num_steps, "updates": updates,
                "num_minibatches": cfg.num_minibatches, "update_epochs": cfg.update_epochs})
    try:
        torch.manual_seed(0)
        learner = PPO(ImpalaAgent(envs.obs_shape, envs.num_actions, cfg.width_multiplier), envs,
                      cfg, device)
        if not dry:  # a warm-up update (CUDA context, kernel selection, the allocator's pools)
            learner.collect_rollout()
            learner.learn()
        rollout_s = 0.0
        start = time.perf_counter()
        for _ in range(updates):
            t0 = time.perf_counter()
            learner.collect_rollout()
            if cuda:
                torch.cuda.synchronize()
            rollout_s += time.perf_counter() - t0
            learner.learn()
            if cuda:
                torch.cuda.synchronize()
        total = time.perf_counter() - start
        steps = updates * num_envs * num_steps
        out.update({"steps_per_s": _round(steps / total, 1),
                    "rollout_steps_per_s": _round(steps / rollout_s, 1),
                    "update_seconds": _round((total - rollout_s) / updates)})
        log.info("ppo: %.0f steps/s (%s engine)", steps / total, engine.split(" ")[0])
        # one update's waits for the GPU: the finiteness check and statistics read once, plus
        # the minibatch order (a CPU generator's permutation) copied over once per epoch
        out["host_syncs_per_update"] = _cuda_syncs(learner.learn) if cuda else None
        out["restored_state_replays_actions"] = _replays_actions(learner)
    finally:
        envs.close()


# ------------------------------------------------------------------------------ suggest
def _time_suggest(params, data, device: str) -> tuple[float, float]:
    from benchmarks.suggest_latency import time_ours

    return time_ours(params, data, threads=1, device=device)


def section_suggest(dry: bool, cuda: bool, out: dict[str, Any]) -> None:
    from benchmarks.suggest_latency import make_data, make_params
    from carbs import CARBSConfig
    from tays import resolve_device

    n, dims = (40, 4) if dry else (1000, 10)
    params = make_params(dims)
    data = make_data(params, n, seed=0)
    out.update({"n_obs": n, "dims": dims})
    for label, device in (("gpu", "cuda" if cuda else "cpu"), ("cpu", "cpu")):
        cold, warm = _time_suggest(params, data, device)
        out[label] = {"device": device, "cold_s": _round(cold), "warm_s": _round(warm)}
        log.info("suggest on %s at %d observations: cold %.2f s, warm %.2f s", device, n, cold,
                 warm)
    out["warm_speedup_vs_cpu"] = _round(out["cpu"]["warm_s"] / max(out["gpu"]["warm_s"], 1e-9), 3)
    faster = "cuda" if cuda and out["gpu"]["warm_s"] < out["cpu"]["warm_s"] else "cpu"
    default = CARBSConfig(better_direction_sign=-1).device  # what a sweep uses unless told
    used = resolve_device(default).type
    out.update({"faster_device": faster, "default_device": default,
                "default_is_faster": used == faster})


# ------------------------------------------------------------------------- LM processes
def _dry_lm_overrides() -> list[str]:
    """The tiny CPU settings the dry run gives the recipe's command line."""
    return ["model.d_model=64", "model.n_heads=2", "model.context_length=32",
            "train.batch_tokens=1024", "train.stop_after_batches=2", "data.max_bytes=300000",
            "data.vocab_size=512", "data.val_tokens=1024", "logger=none"]


def section_lm_ranks(dry: bool, cuda: bool, out: dict[str, Any], out_dir: Path,
                     budget: float) -> None:
    """The recipe's command line on every GPU through Composer's launcher, FSDP on when there
    are several (one process per GPU; the dry run starts one CPU process)."""
    n = 1 if dry else max(1, torch.cuda.device_count())
    out["processes"] = n
    launcher = Path(sys.executable).parent / "composer"
    run_dir = Path(tempfile.mkdtemp(prefix="gpu_check_ranks_"))
    cmd = [str(launcher), "-n", str(n), "-m", "recipes.lm", "data=kjv",
           f"hydra.run.dir={run_dir}"]
    if dry:
        cmd += ["train.device=cpu", *_dry_lm_overrides()]
    else:
        cmd += ["model=small", "train.device=gpu", f"train.fsdp={str(n > 1).lower()}",
                "train.tokens=2e6", f"train.batch_tokens={65536 * n}", "logger=console"]
    t0 = time.perf_counter()
    code, tail, timed_out = _run_process(cmd, budget, out_dir / "lm_ranks.log")
    result = _last_json(tail) or {}
    out.update({"command": " ".join(cmd[1:]).replace(str(run_dir), "<dir>"),
                "returncode": code, "timed_out": timed_out,
                "seconds": _round(time.perf_counter() - t0, 1), "fsdp": n > 1})
    for key in ("status", "error", "output", "metric.world_size", "metric.microbatch_size",
                "metric.tokens_per_second", "metric.tokens_per_second_steady", "metric.mfu",
                "metric.mfu_steady"):
        if key in result:
            out[key.removeprefix("metric.")] = result[key]
    if code != 0 and not result:
        out["error"] = tail[-1500:]
    shutil.rmtree(run_dir, ignore_errors=True)


def _read_journal(journal: Path, out_dir: Path, name: str) -> dict[str, Any]:
    """Copy the sweep's journal into ``out_dir`` and summarise its trials (a sweep stopped at
    its budget holds the trials finished by then)."""
    import pandas as pd

    import carbs

    shipped = out_dir / "lm_gpu.sqlite"
    src, dst = sqlite3.connect(f"file:{journal}?mode=ro", uri=True), sqlite3.connect(shipped)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        dst.commit()
    finally:
        src.close()
        dst.close()
    table = carbs.load_trials(shipped)
    table["gpu"] = name
    for column in ("metric.mfu", "metric.mfu_steady"):
        if column not in table:
            table[column] = math.nan
    table.to_csv(out_dir / "lm_gpu.csv", index=False)
    ok = table[table["status"] == "ok"]
    mfu = pd.to_numeric(ok["metric.mfu"], errors="coerce").dropna()
    steady = pd.to_numeric(ok["metric.mfu_steady"], errors="coerce").dropna()
    result = {
        "trials": len(table), "ok": len(ok), "failed": int((table["status"] == "failed").sum()),
        "flops_min": _round(float(ok["metric.flops"].min()), 0) if len(ok) else None,
        "flops_max": _round(float(ok["metric.flops"].max()), 0) if len(ok) else None,
        "best_output": _round(float(ok["output"].min())) if len(ok) else None,
        "mfu_median": _round(float(mfu.median())) if len(mfu) else None,
        "mfu_max": _round(float(mfu.max())) if len(mfu) else None,
        "mfu_steady_median": _round(float(steady.median())) if len(steady) else None,
        "table": str(out_dir / "lm_gpu.csv"), "journal": str(shipped)}
    if len(ok) < len(table) and "error" in table:
        result["errors"] = sorted({str(e)[:300] for e in table["error"].dropna()})[:3]
    return result


def section_lm_sweep(dry: bool, cuda: bool, out: dict[str, Any], out_dir: Path, trials: int,
                     budget: float, sweep: str = "lm_tiny",
                     config_dir: Path | None = None) -> None:
    """``trials`` trials of the sweep config ``sweep`` (``+sweep=<sweep>``, looked up in
    ``config_dir`` too when given) on the GPU, or on the CPU in a dry run."""
    sweep_dir = Path(tempfile.mkdtemp(prefix="gpu_check_sweep_"))
    cmd = [sys.executable, "-m", "recipes.lm",
           *(["--config-dir", str(Path(config_dir).resolve())] if config_dir else []),
           "--multirun", f"+sweep={sweep}", f"hydra.sweep.dir={sweep_dir}",
           f"hydra.sweeper.max_trials={trials}", "hydra.sweeper.n_jobs=1"]
    if dry:
        cmd += ["train.device=cpu", "train.precision=fp32"]
        if sweep in ("lm_tiny", "lm_tiny_hf"):  # tiny and fast on a CPU
            cmd += [o for o in _dry_lm_overrides() if not o.startswith(("logger", "train.batch"))]
            cmd += ["train.batch_tokens=8192", "train.stop_after_batches=4"]
    else:
        cmd += ["train.device=gpu", "train.precision=amp_bf16", "train.compile=false"]
    t0 = time.perf_counter()
    code, tail, timed_out = _run_process(cmd, budget, out_dir / "lm_sweep.log")
    out.update({"command": " ".join(cmd[1:]).replace(str(sweep_dir), "<dir>"),
                "returncode": code, "timed_out": timed_out,
                "seconds": _round(time.perf_counter() - t0, 1), "gpu": _device_name(cuda)})
    journal = sweep_dir / "journal.sqlite"
    if journal.exists():
        out.update(_read_journal(journal, out_dir, _device_name(cuda)))
    else:
        out["error"] = tail[-2000:]
    shutil.rmtree(sweep_dir, ignore_errors=True)


# ------------------------------------------------------------------------------- main
def budgets(sections: list[str], total: float) -> dict[str, float]:
    """Each section's share of ``total`` seconds (before the time earlier sections leave; a
    section of share 0, the optional extrapolation, gets what the others leave)."""
    weight = sum(BUDGET_SHARES[s] for s in sections)
    if weight == 0:
        return {s: total for s in sections}
    return {s: total * BUDGET_SHARES[s] / weight if BUDGET_SHARES[s] else total
            for s in sections}


def section_extrapolation(dry: bool, out: dict[str, Any], out_dir: Path) -> None:
    """The 10x check at GPU scale (:mod:`benchmarks.gpu_extrapolation`), into
    ``out_dir/extrapolation``."""
    from benchmarks import gpu_extrapolation

    out.update(gpu_extrapolation.run(out_dir / "extrapolation", dry=dry))


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds to main's finally, which prints the JSON line


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", "--quick", action="store_true", dest="dry_run",
                    help="every section at tiny sizes on the CPU (the same JSON shape); "
                         "--quick is the benchmarks' usual name for it")
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help=f"comma-separated subset of {', '.join(SECTIONS)}")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "gpu_check",
                    help="where the sweep's table, the logs and result.json go")
    ap.add_argument("--time-budget-s", type=float, default=DEFAULT_BUDGET_S,
                    help="seconds for the whole check (default 540, which leaves a 10-minute "
                         "slot a minute for start-up); shared out among the sections")
    ap.add_argument("--sweep-trials", type=int, default=None,
                    help="trials of the LM sweep (default 12; dry run 1)")
    ap.add_argument("--sweep", default="lm_tiny",
                    help="the LM sweep's config (+sweep=NAME; default lm_tiny, whose search "
                         "space the CPU sweep shares; a dry run shrinks lm_tiny and lm_tiny_hf)")
    ap.add_argument("--sweep-config-dir", type=Path, default=None,
                    help="a directory with your own sweep/NAME.yaml (Hydra's --config-dir)")
    args = ap.parse_args(argv)
    if str(ROOT) not in sys.path:  # run as a file: the project's packages from this checkout
        sys.path.insert(0, str(ROOT))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS) - set(OPTIONAL_SECTIONS))
    if unknown:
        ap.error(f"unknown section(s) {unknown}; choose from "
                 f"{', '.join(SECTIONS + OPTIONAL_SECTIONS)}")
    if not args.time_budget_s > 0:
        ap.error("--time-budget-s must be > 0")
    cuda = torch.cuda.is_available() and not args.dry_run
    if not cuda and not args.dry_run:
        ap.error("no CUDA device: run it on a GPU machine, or use --dry-run on a CPU")
    torch.set_num_threads(1 if args.dry_run else min(8, os.cpu_count() or 1))
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result: dict[str, Any] = {"benchmark": "gpu_check", "dry_run": args.dry_run,
                              "device": _device_name(cuda), "torch": torch.__version__,
                              "cuda": torch.version.cuda if cuda else None,
                              "time_budget_s": args.time_budget_s, "sections": {}}
    trials = args.sweep_trials or (1 if args.dry_run else 12)
    share = budgets(sections, args.time_budget_s)
    in_process: dict[str, Callable[[dict[str, Any]], None]] = {
        "lm": lambda out: section_lm(args.dry_run, cuda, out),
        "lm_memory": lambda out: section_lm_memory(args.dry_run, cuda, out),
        "attention": lambda out: section_attention(args.dry_run, cuda, out),
        "ppo": lambda out: section_ppo(args.dry_run, cuda, out),
        "suggest": lambda out: section_suggest(args.dry_run, cuda, out),
        "extrapolation": lambda out: section_extrapolation(args.dry_run, out, args.out)}
    processes = {  # run as subprocesses, stopped (and read) at their budget
        "lm_ranks": lambda out, budget: section_lm_ranks(args.dry_run, cuda, out, args.out,
                                                         budget),
        "lm_sweep": lambda out, budget: section_lm_sweep(
            args.dry_run, cuda, out, args.out, trials, budget, args.sweep,
            args.sweep_config_dir)}
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        for i, name in enumerate(sections):
            left = args.time_budget_s - (time.perf_counter() - start)
            # the last section gets whatever is left; the others their share, and at most that
            budget = left if i == len(sections) - 1 else min(share[name], left)
            res: dict[str, Any] = {"budget_s": _round(budget, 1)}
            result["sections"][name] = res
            t0 = time.perf_counter()
            try:
                if budget <= 0:
                    raise SectionTimeout("no time left in --time-budget-s")
                if name in processes:
                    processes[name](res, budget)
                else:
                    with time_limit(budget):
                        in_process[name](res)
            except SectionTimeout as err:
                log.error("section %s stopped: %s", name, err)
                res.update({"timed_out": True, "error": f"SectionTimeout: {err}"})
            except Exception as err:  # noqa: BLE001  (one section's failure never hides others)
                log.error("section %s failed:\n%s", name, traceback.format_exc())
                res["error"] = f"{type(err).__name__}: {err}"[:2000]
            finally:
                if cuda:
                    torch.cuda.empty_cache()
            res["section_seconds"] = _round(time.perf_counter() - t0, 1)
            (args.out / "result.json").write_text(json.dumps(result, indent=1))
    finally:  # also when stopped (SIGTERM, Ctrl-C): what was measured, as the last line
        signal.signal(signal.SIGTERM, previous)
        result["seconds"] = _round(time.perf_counter() - start, 1)
        (args.out / "result.json").write_text(json.dumps(result, indent=1))
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
