"""The GPU check: one prepared script for a machine with one GPU (under 10 minutes in all).

Sections (each runs even when another fails; its error is recorded instead):

* ``lm``: the LM recipe's GPT at ~125M parameters (``model=gpt125m``: d_model 768, 12 layers,
  context 1024, 50304-token vocabulary), bf16 autocast, ``torch.compile``, 50 steps of 32 x 1024
  tokens on random tokens: tokens/s and model-FLOPs utilisation (MFU, peak bf16 FLOP/s from
  ``recipes.lm.hardware``; target >= 40% on an H100), through Composer (the recipe's
  ``build_trainer``) and through a plain PyTorch loop on the same model in the same process.
* ``ppo``: PPO env steps/s on CoinRun (easy) with 64 environments, the policy and the update on
  the GPU (the paper's 64 x 256 rollout, 8 minibatches, 3 epochs). Engine: envpool; where envpool
  cannot be imported (it has no wheel for some Pythons) a stand-in engine of CoinRun's shapes
  (3 x 64 x 64 uint8 frames, 15 actions, random frames) is used and named in the result, so the
  GPU path is still measured (not the engine's speed).
* ``suggest``: ``CARBS.suggest()`` at 1,000 observations of 10 parameters on CUDA, cold (first
  call) and warm (median of 3 observe-then-suggest cycles), against the same on the CPU in the
  same process.
* ``lm_sweep``: a small CARBS sweep of the LM recipe on the GPU, through the Hydra sweeper
  (``python -m recipes.lm --multirun +sweep=lm_tiny train.device=gpu train.precision=amp_bf16``,
  the CPU sweep's search space, so the two tables compare): its journal and a CSV with the GPU's
  name and the MFU of every trial (``lm_gpu.sqlite``, ``lm_gpu.csv`` in ``--out``). ``--sweep``
  and ``--sweep-config-dir`` run another sweep config instead (e.g. ``lm_chinchilla``).
* ``extrapolation`` (only when named in ``--sections``: hours on a GPU): a CARBS sweep in about
  1e15-1e17 FLOPs and ``scaling recommend``'s configuration trained at 10x its largest run
  against two baselines (``benchmarks/gpu_extrapolation.py``).

    python -m benchmarks.gpu_check --out runs/gpu_check          # on a GPU machine
    python -m benchmarks.gpu_check --dry-run                     # every section, tiny, on CPU
    python -m benchmarks.gpu_check --sections lm,suggest         # some sections

It installs nothing. ``--dry-run`` runs every section at tiny sizes on the CPU (so CI tests the
script) and prints the same JSON shape. The last stdout line is one JSON object:
``{"benchmark": "gpu_check", "dry_run", "device", "torch", "sections": {name: {...}}, "seconds"}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("lm", "ppo", "suggest", "lm_sweep")
#: Run only when named in --sections: ``extrapolation`` is a job of hours on a GPU
#: (benchmarks/gpu_extrapolation.py; its dry run takes about a minute on a CPU).
OPTIONAL_SECTIONS = ("extrapolation",)
log = logging.getLogger("gpu_check")


def _device_name(cuda: bool) -> str:
    return torch.cuda.get_device_name() if cuda else "cpu"


def _round(x: float, digits: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


# ----------------------------------------------------------------------------------- LM
def _lm_setup(dry: bool):
    from benchmarks.lm_throughput import random_token_setup
    from recipes.lm.config import ModelConfig

    if dry:
        model = ModelConfig(name="dry", d_model=64, n_layers=2, n_heads=2, context_length=64,
                            rel_max_distance=64)
        vocab, steps, seqs, warmup = 512, 4, 4, 1
    else:  # conf/model/gpt125m.yaml
        model = ModelConfig(name="gpt125m", d_model=768, n_layers=12, n_heads=12,
                            context_length=1024, rel_max_distance=1024)
        vocab, steps, seqs, warmup = 50304, 50, 32, 10  # compilation happens in the first steps
    cfg, data = random_token_setup(model, vocab, steps, seqs, device="cpu" if dry else "gpu",
                                   precision="fp32" if dry else "amp_bf16", compile=not dry)
    return cfg, data, warmup


def section_lm(dry: bool, cuda: bool) -> dict[str, Any]:
    from recipes.lm.hardware import peak_flops
    from recipes.lm.model import count_params, flops_per_token

    cfg, data, warmup = _lm_setup(dry)
    m, vocab = cfg.model, data.vocab_size
    name = _device_name(cuda)
    peak = peak_flops(name) if cuda else None
    fpt = flops_per_token(m, vocab)
    out: dict[str, Any] = {
        "model": m.name, "params": count_params(m, vocab)["total"], "context": m.context_length,
        "precision": cfg.train.precision, "compile": cfg.train.compile, "steps": cfg.steps,
        "timed_steps": cfg.steps - warmup, "batch_tokens": cfg.train.batch_tokens,
        "peak_flops": peak, "target_mfu": 0.40}
    for arm in ("composer", "plain"):
        try:
            from benchmarks import lm_throughput

            run = (lm_throughput.composer_tokens_per_s if arm == "composer"
                   else lm_throughput.plain_tokens_per_s)
            t0 = time.perf_counter()
            tps = run(cfg, data, warmup)
            mfu = fpt * tps / peak if peak else math.nan
            out[arm] = {"tokens_per_s": _round(tps, 1), "mfu": _round(mfu),
                        "seconds": _round(time.perf_counter() - t0, 1)}
            log.info("lm %s: %.0f tokens/s, MFU %s", arm, tps, f"{mfu:.1%}" if peak else "n/a")
        except Exception as err:  # noqa: BLE001  (recorded; the other arm still runs)
            out[arm] = {"error": f"{type(err).__name__}: {err}"[:2000]}
            log.error("lm %s failed:\n%s", arm, traceback.format_exc())
        finally:
            if cuda:
                torch.cuda.empty_cache()
    mfus = [out[a]["mfu"] for a in ("composer", "plain") if out[a].get("mfu") is not None]
    out["mfu"] = max(mfus) if mfus else None
    out["meets_target"] = None if out["mfu"] is None else out["mfu"] >= out["target_mfu"]
    return out


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


def section_ppo(dry: bool, cuda: bool) -> dict[str, Any]:
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
    try:
        torch.manual_seed(0)
        learner = PPO(ImpalaAgent(envs.obs_shape, envs.num_actions, cfg.width_multiplier), envs,
                      cfg, device)
        if not dry:  # a warm-up update (CUDA context, cuDNN autotuning) outside the timing
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
    finally:
        envs.close()
    steps = updates * num_envs * num_steps
    log.info("ppo: %.0f steps/s (%s engine)", steps / total, engine.split(" ")[0])
    return {"game": "coinrun", "engine": engine, "device": _device_name(cuda),
            "num_envs": num_envs, "num_steps": num_steps, "updates": updates,
            "num_minibatches": cfg.num_minibatches, "update_epochs": cfg.update_epochs,
            "steps_per_s": _round(steps / total, 1), "rollout_steps_per_s":
            _round(steps / rollout_s, 1), "update_seconds": _round((total - rollout_s) / updates)}


# ------------------------------------------------------------------------------ suggest
def _time_suggest(params, data, device: str) -> tuple[float, float]:
    from benchmarks.suggest_latency import time_ours

    return time_ours(params, data, threads=1, device=device)


def section_suggest(dry: bool, cuda: bool) -> dict[str, Any]:
    from benchmarks.suggest_latency import make_data, make_params

    n, dims = (40, 4) if dry else (1000, 10)
    params = make_params(dims)
    data = make_data(params, n, seed=0)
    out: dict[str, Any] = {"n_obs": n, "dims": dims}
    for label, device in (("gpu", "cuda" if cuda else "cpu"), ("cpu", "cpu")):
        cold, warm = _time_suggest(params, data, device)
        out[label] = {"device": device, "cold_s": _round(cold), "warm_s": _round(warm)}
        log.info("suggest on %s at %d observations: cold %.2f s, warm %.2f s", device, n, cold,
                 warm)
    out["warm_speedup_vs_cpu"] = _round(out["cpu"]["warm_s"] / max(out["gpu"]["warm_s"], 1e-9), 3)
    return out


# ---------------------------------------------------------------------------- LM sweep
def section_lm_sweep(dry: bool, cuda: bool, out_dir: Path, trials: int, sweep: str = "lm_tiny",
                     config_dir: Path | None = None) -> dict[str, Any]:
    """``trials`` trials of the sweep config ``sweep`` (``+sweep=<sweep>``, looked up in
    ``config_dir`` too when given) on the GPU, or on the CPU in a dry run."""
    import pandas as pd

    import carbs

    name = _device_name(cuda)
    sweep_dir = Path(tempfile.mkdtemp(prefix="gpu_check_sweep_"))
    cmd = [sys.executable, "-m", "recipes.lm",
           *(["--config-dir", str(Path(config_dir).resolve())] if config_dir else []),
           "--multirun", f"+sweep={sweep}", f"hydra.sweep.dir={sweep_dir}",
           f"hydra.sweeper.max_trials={trials}", "hydra.sweeper.n_jobs=1"]
    if dry:
        cmd += ["train.device=cpu", "train.precision=fp32"]
        if sweep == "lm_tiny":  # tiny and fast on a CPU: small corpus, short context
            cmd += ["model.context_length=32", "train.batch_tokens=8192",
                    "train.stop_after_batches=4", "data.max_bytes=300000",
                    "data.vocab_size=512", "data.val_tokens=1024"]
    else:
        cmd += ["train.device=gpu", "train.precision=amp_bf16"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    (out_dir / "lm_sweep.log").write_text(proc.stdout + proc.stderr)
    result: dict[str, Any] = {"command": " ".join(cmd[1:]).replace(str(sweep_dir), "<dir>"),
                              "returncode": proc.returncode, "seconds": _round(seconds, 1),
                              "gpu": name}
    journal = sweep_dir / "journal.sqlite"
    if not journal.exists():
        result["error"] = (proc.stderr or proc.stdout)[-2000:]
        return result
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
    if "metric.mfu" not in table:
        table["metric.mfu"] = math.nan
    table.to_csv(out_dir / "lm_gpu.csv", index=False)
    ok = table[table["status"] == "ok"]
    mfu = pd.to_numeric(ok["metric.mfu"], errors="coerce").dropna()
    result.update({
        "trials": len(table), "ok": len(ok), "failed": int((table["status"] == "failed").sum()),
        "flops_min": _round(float(ok["metric.flops"].min()), 0) if len(ok) else None,
        "flops_max": _round(float(ok["metric.flops"].max()), 0) if len(ok) else None,
        "best_output": _round(float(ok["output"].min())) if len(ok) else None,
        "mfu_median": _round(float(mfu.median())) if len(mfu) else None,
        "mfu_max": _round(float(mfu.max())) if len(mfu) else None,
        "table": str(out_dir / "lm_gpu.csv"), "journal": str(shipped)})
    if len(ok) < len(table):
        result["errors"] = sorted({str(e)[:300] for e in table["error"].dropna()})[:3]
    shutil.rmtree(sweep_dir, ignore_errors=True)
    return result


def section_extrapolation(dry: bool, out_dir: Path) -> dict[str, Any]:
    """The 10x check at GPU scale (:mod:`benchmarks.gpu_extrapolation`), into
    ``out_dir/extrapolation``."""
    from benchmarks import gpu_extrapolation

    return gpu_extrapolation.run(out_dir / "extrapolation", dry=dry)


# ------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", "--quick", action="store_true", dest="dry_run",
                    help="every section at tiny sizes on the CPU (the same JSON shape); "
                         "--quick is the benchmarks' usual name for it")
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help=f"comma-separated subset of {', '.join(SECTIONS)}")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "gpu_check",
                    help="where the sweep's table, its log and result.json go")
    ap.add_argument("--sweep-trials", type=int, default=None,
                    help="trials of the LM sweep (default 12; dry run 1)")
    ap.add_argument("--sweep", default="lm_tiny",
                    help="the LM sweep's config (+sweep=NAME; default lm_tiny, whose search "
                         "space the CPU sweep shares; a dry run shrinks only lm_tiny)")
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
                              "cuda": torch.version.cuda if cuda else None, "sections": {}}
    runners = {"lm": lambda: section_lm(args.dry_run, cuda),
               "ppo": lambda: section_ppo(args.dry_run, cuda),
               "suggest": lambda: section_suggest(args.dry_run, cuda),
               "lm_sweep": lambda: section_lm_sweep(
                   args.dry_run, cuda, args.out, args.sweep_trials or (1 if args.dry_run else 12),
                   args.sweep, args.sweep_config_dir),
               "extrapolation": lambda: section_extrapolation(args.dry_run, args.out)}
    for name in sections:
        t0 = time.perf_counter()
        try:
            res = runners[name]()
        except Exception as err:  # noqa: BLE001  (one section's failure never hides the others)
            log.error("section %s failed:\n%s", name, traceback.format_exc())
            res = {"error": f"{type(err).__name__}: {err}"[:2000]}
        res["section_seconds"] = _round(time.perf_counter() - t0, 1)
        result["sections"][name] = res
        (args.out / "result.json").write_text(json.dumps(result, indent=1))
    result["seconds"] = _round(time.perf_counter() - start, 1)
    (args.out / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
