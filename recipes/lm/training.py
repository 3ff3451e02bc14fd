"""``train(cfg) -> dict``: one language-model training run through ``composer.Trainer``.

Duration: ``train.tokens`` is converted to whole optimiser steps,
``steps = ceil(tokens / batch_tokens)``, and Composer runs ``max_duration = "<steps>ba"``
(batches, not Composer token time, so the schedule and checkpoints count optimiser steps).
The result is ``{"output": final validation cross-entropy (nats/token), "cost": ...,
"status": "ok", "metric.*": ...}``; a diverging, out-of-memory or crashing run returns
:func:`recipes.common.failure_result` with the cost already spent instead of raising.
"""
from __future__ import annotations

import logging
import math
import os
import pickle
import re
import traceback
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from recipes.common import (
    composer_device,
    describe_error,
    failure_result,
    resolve_device,
    run_trial,
)
from recipes.lm.callbacks import DivergenceDetector, DivergenceError, RunClock, StreamEpoch
from recipes.lm.composer_model import ComposerGPT
from recipes.lm.config import LMConfig, to_lm_config
from recipes.lm.data import LMData, PackedDataset, build_data
from recipes.lm.hardware import peak_flops
from recipes.lm.model import GPT, count_params, flops_per_token
from recipes.lm.optim import build_optimizer

__all__ = ["build_trainer", "repair_autoresume", "train"]

log = logging.getLogger(__name__)


def _loggers(cfg: LMConfig) -> list:
    from composer.loggers import FileLogger

    lg, out = cfg.logger, []
    if lg.file:
        out.append(FileLogger(filename=lg.file, capture_stdout=False, capture_stderr=False,
                              flush_interval=50, overwrite=True))
    if lg.tensorboard_dir:
        from composer.loggers import TensorboardLogger

        out.append(TensorboardLogger(log_dir=lg.tensorboard_dir, flush_interval=50))
    if lg.wandb_project:
        from composer.loggers import WandBLogger

        out.append(WandBLogger(project=lg.wandb_project))
    if lg.mlflow_experiment:
        from composer.loggers import MLFlowLogger

        out.append(MLFlowLogger(experiment_name=lg.mlflow_experiment,
                                tracking_uri=lg.mlflow_tracking_uri))
    return out


def _eval_schedule(interval: int):
    """Composer eval_interval: every ``interval`` batches (if > 0) and after the last batch."""
    from composer.core import Event

    def should_eval(state, event) -> bool:
        if event != Event.BATCH_END:
            return False
        step = int(state.timestamp.batch)
        return step >= int(state.max_duration.value) or (interval > 0 and step % interval == 0)

    return should_eval


def _per_rank_batch(cfg: LMConfig) -> tuple[int, int]:
    """Sequences per process and per micro-batch: the batch split evenly over the processes."""
    from composer.utils import dist

    t, ctx = cfg.train, cfg.model.context_length
    world = dist.get_world_size()
    if cfg.batch_size % world:
        raise ValueError(f"train.batch_tokens: the batch of {cfg.batch_size} sequences does not "
                         f"split over {world} processes; use a multiple of {world * ctx} tokens")
    per_rank = cfg.batch_size // world
    micro = per_rank if t.microbatch_tokens is None else min(per_rank, t.microbatch_tokens // ctx)
    return per_rank, max(1, micro)


def _train_dataloader(cfg: LMConfig, data: LMData, per_rank: int, pin_memory: bool):
    """The training batches as a Composer ``DataSpec`` (which counts tokens and samples)."""
    from composer.core import DataSpec
    from composer.utils import dist

    t = cfg.train
    # Own generators: a DataLoader without one draws from the global RNG each epoch, which would
    # shift the dropout masks of a resumed run (Composer restores the global RNG, then re-iterates).
    gen = torch.Generator().manual_seed(t.seed)
    if isinstance(data.train, PackedDataset):
        if len(data.train) < cfg.batch_size:
            raise ValueError(f"train.batch_tokens: a batch of {cfg.batch_size} sequences exceeds the "
                             f"{len(data.train)} training sequences; lower batch_tokens or add data")
        sampler = dist.get_sampler(data.train, shuffle=True, drop_last=True, seed=t.seed)
        train_dl = DataLoader(data.train, batch_size=per_rank, sampler=sampler, drop_last=True,
                              num_workers=t.num_workers, pin_memory=pin_memory, generator=gen)
    else:
        train_dl = DataLoader(data.train, batch_size=per_rank, num_workers=t.num_workers,
                              generator=gen, pin_memory=pin_memory)
    ctx = cfg.model.context_length
    return DataSpec(train_dl, get_num_tokens_in_batch=lambda b: b.shape[0] * ctx,
                    get_num_samples_in_batch=lambda b: b.shape[0])


def _val_evaluator(cfg: LMConfig, data: LMData, per_rank: int):
    """The fixed validation set as a Composer ``Evaluator`` of the cross-entropy."""
    from composer.core import Evaluator
    from composer.utils import dist

    val_ds = PackedDataset(data.val)
    val_sampler = dist.get_sampler(val_ds, shuffle=False, drop_last=False)
    val_dl = DataLoader(val_ds, batch_size=max(1, min(per_rank, len(val_ds))), sampler=val_sampler,
                        generator=torch.Generator().manual_seed(cfg.train.seed))
    return Evaluator(label="val", dataloader=val_dl, metric_names=["LanguageCrossEntropy"])


def build_trainer(cfg: LMConfig, data: LMData, callbacks: Sequence[Any] = ()):
    """Build the model, optimiser, schedule, dataloaders and the ``composer.Trainer``.

    Returns ``(trainer, gpt)``; exposed so benchmarks and tests drive the same Trainer.
    """
    from composer import Trainer
    from composer.algorithms import GradientClipping
    from composer.utils import dist

    t = cfg.train
    device = composer_device(resolve_device(t.device, "train.device"))
    per_rank, micro = _per_rank_batch(cfg)

    torch.manual_seed(t.seed)
    gpt = GPT(cfg.model, data.vocab_size)
    if device == "gpu":
        gpt = gpt.cuda()
    optimizer, scheduler = build_optimizer(gpt, t, cfg.steps)
    train_spec = _train_dataloader(cfg, data, per_rank, pin_memory=device == "gpu")
    evaluator = _val_evaluator(cfg, data, per_rank)

    precision = t.precision if t.precision != "auto" else ("amp_bf16" if device == "gpu" else "fp32")
    parallelism = None
    if t.fsdp and dist.get_world_size() > 1:
        parallelism = {"fsdp": {"sharding_strategy": "FULL_SHARD", "mixed_precision": "DEFAULT"}}
    max_batches = min(cfg.steps, t.stop_after_batches or cfg.steps)
    lg = cfg.logger
    trainer = Trainer(
        model=ComposerGPT(gpt),
        train_dataloader=train_spec,
        eval_dataloader=evaluator,
        eval_interval=_eval_schedule(t.eval_interval),
        max_duration=f"{max_batches}ba",
        optimizers=optimizer,
        schedulers=scheduler,
        step_schedulers_every_batch=True,
        algorithms=[GradientClipping(clipping_type="norm", clipping_threshold=t.grad_clip)]
        if t.grad_clip else [],
        callbacks=[DivergenceDetector(t.divergence_loss, every=1 if device == "cpu" else 10),
                   *([] if isinstance(data.train, PackedDataset) else [StreamEpoch()]),
                   *callbacks],
        loggers=_loggers(cfg),
        run_name=t.run_name,
        progress_bar=lg.progress_bar,
        log_to_console=lg.console,
        console_log_interval=lg.console_interval,
        device=device,
        precision=precision,
        device_train_microbatch_size=micro,
        seed=t.seed,
        save_folder=t.save_folder,
        save_interval=t.save_interval,
        save_num_checkpoints_to_keep=t.save_num_checkpoints_to_keep,
        save_overwrite=bool(t.save_folder) and not t.autoresume and not t.load_path,
        load_path=t.load_path,
        autoresume=t.autoresume,
        parallelism_config=parallelism,
        compile_config={} if t.compile else None,
    )
    return trainer, gpt


def _final_val_loss(trainer) -> float:
    metrics = trainer.state.eval_metrics.get("val", {})
    metric = metrics.get("LanguageCrossEntropy")
    if metric is None:
        raise RuntimeError("no validation metric was computed")
    return float(metric.compute())


_CHECKPOINT_NAME = re.compile(r"ep(\d+)-ba(\d+)-rank0\.pt$")
_LATEST = "latest-rank0.pt"


def _damage(path: Path) -> str | None:
    """Why the checkpoint file at ``path`` cannot be loaded (truncated, corrupt, missing), or
    None when it looks intact: a torch checkpoint is a zip archive, so its central directory,
    every member's CRC and the pickle record are checked without unpickling anything. (A write
    interrupted after the directory was flushed can still lack tensor records: that shows only
    when Composer loads it, and :func:`_build_resuming` falls back then.)"""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if bad is not None:
        return f"member {bad} fails its CRC check"
    if not any(name.endswith("/data.pkl") or name == "data.pkl" for name in names):
        return "no data.pkl record (the write was interrupted)"
    return None


def _checkpoint_folder(t) -> Path | None:
    if not t.save_folder or "://" in t.save_folder:
        return None  # remote folders: Composer downloads and checks them itself
    from composer.utils import format_name_with_dist

    return Path(format_name_with_dist(t.save_folder, t.run_name))


def repair_autoresume(cfg: LMConfig, quiet: bool = False) -> Path | None:
    """Before an autoresume, make ``latest-rank0.pt`` point at the newest intact checkpoint of
    ``train.save_folder``, and log it (naming both paths) when that is not where it pointed.

    Two faults of a killed run are repaired: a latest checkpoint left truncated or corrupt (the
    run falls back to the previous intact one), and a checkpoint written completely just
    before the kill, before Composer moved the link to it (the run resumes from it: Composer
    would otherwise refuse the "conflicting" newer file). Damaged files are renamed
    ``*.corrupt`` so later saves do not collide with them.

    Returns the checkpoint the run will resume from (None: nothing to resume). Only rank 0
    repairs (it owns the non-sharded checkpoint files); sharded checkpoints are left to Composer.
    ``quiet``: the caller logs the change itself.
    """
    t = cfg.train
    folder = _checkpoint_folder(t)
    if not t.autoresume or folder is None or not folder.is_dir() or int(
            os.environ.get("RANK", "0")) != 0:
        return None
    latest = folder / _LATEST
    linked = latest.resolve() if latest.is_symlink() or latest.exists() else None
    if linked is not None and linked.is_dir():
        return linked
    files = sorted((p for p in folder.iterdir() if _CHECKPOINT_NAME.match(p.name)),
                   key=lambda p: int(_CHECKPOINT_NAME.match(p.name).group(2)), reverse=True)
    good, damaged = None, []
    for path in files:
        why = _damage(path)
        if why is None:
            good = path
            break
        damaged.append((path, why))
    for path, _ in damaged:
        path.rename(path.with_name(path.name + ".corrupt"))
    if good is not None and linked is not None and good.resolve() == linked:
        return good
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    reasons = {p.resolve(): why for p, why in damaged}
    if good is None:
        if damaged:
            log.warning("checkpoint %s is damaged (%s) and %s holds no intact earlier "
                        "checkpoint: the run starts over (damaged files kept as *.corrupt)",
                        damaged[0][0], damaged[0][1], folder)
        return None
    latest.symlink_to(good.name)
    if quiet:
        pass
    elif linked in reasons:
        log.warning("checkpoint %s is damaged (%s); resuming from the previous intact "
                    "checkpoint %s (damaged files kept as *.corrupt)", linked, reasons[linked],
                    good)
    else:
        log.warning("%s pointed at %s, but %s is newer and intact (the run was stopped before "
                    "it moved the link): resuming from %s", latest, linked, good, good)
    return good


_LOAD_ERRORS = ("PytorchStreamReader", "inline_container", "failed reading zip",
                "failed locating file", "Ran out of input")


def _is_checkpoint_damage(exc: BaseException) -> bool:
    """An error of loading a checkpoint whose archive looks whole but is not (a write
    interrupted after the zip directory was flushed, missing records)."""
    text = f"{type(exc).__name__}: {exc}"
    return isinstance(exc, (EOFError, pickle.UnpicklingError, zipfile.BadZipFile)) or any(
        marker in text for marker in _LOAD_ERRORS)


def _build_resuming(cfg: LMConfig, data: LMData, callbacks: Sequence[Any]):
    """:func:`build_trainer`; when an autoresume fails to load the latest checkpoint, set it
    aside (``*.corrupt``) and retry from the previous intact one (logging both paths)."""
    while True:
        try:
            return build_trainer(cfg, data, callbacks)
        except Exception as exc:
            folder = _checkpoint_folder(cfg.train)
            latest = folder / _LATEST if folder is not None else None
            if not (cfg.train.autoresume and latest is not None and latest.is_symlink()
                    and _is_checkpoint_damage(exc)):
                raise
            bad = latest.resolve()
            if bad.exists():
                bad.rename(bad.with_name(bad.name + ".corrupt"))
            latest.unlink()
            good = repair_autoresume(cfg, quiet=True)
            log.warning("checkpoint %s could not be loaded (%s: %s); resuming from the previous "
                        "intact checkpoint %s (the damaged file is kept as *.corrupt)", bad,
                        type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc).strip()
                        else "", good if good is not None else "- none left, the run starts over")


def _model_metrics(cfg: LMConfig, vocab_size: int) -> dict[str, Any]:
    """Log the model and the run's size; return the ``metric.*`` entries known before training."""
    m, t, V = cfg.model, cfg.train, vocab_size
    params = count_params(m, V)
    fpt = flops_per_token(m, V)
    log.info("model %s: %d params (%d non-embedding), d_model=%d n_layers=%d n_heads=%d d_head=%d "
             "d_ff=%d ctx=%d vocab=%d; batch %d seqs (%d tokens), %d steps, %.3g training FLOPs",
             m.name, params["total"], params["non_embedding"], m.d_model, m.n_layers, m.n_heads,
             m.d_head, m.d_ff, m.context_length, V, cfg.batch_size, t.batch_tokens, cfg.steps,
             fpt * cfg.steps * t.batch_tokens)
    return {"metric.params": params["total"], "metric.params_non_embedding": params["non_embedding"],
            "metric.vocab_size": V, "metric.flops_per_token": fpt}


def _mfu(cfg: LMConfig, flops_per_second: float) -> float:
    """Model-FLOPs utilisation of the whole run: achieved over peak FLOP/s of all GPUs (NaN on a
    CPU or a GPU whose peak :func:`~recipes.lm.hardware.peak_flops` does not know)."""
    from composer.utils import dist

    if torch.cuda.is_available() and resolve_device(cfg.train.device, "train.device").type == "cuda":
        peak = peak_flops(torch.cuda.get_device_name())
        if peak:
            return flops_per_second / (peak * dist.get_world_size())
    return math.nan


def _spent(cfg: LMConfig, trainer, clock: RunClock, base: dict[str, Any],
           resumed_from: int) -> dict[str, Any]:
    """``cost`` and the ``metric.*`` entries of the whole run so far (resumed checkpoints
    included): steps, tokens, FLOPs, time, throughput and MFU."""
    from composer.utils import dist

    t, fpt = cfg.train, base["metric.flops_per_token"]
    steps = int(trainer.state.timestamp.batch) if trainer is not None else 0
    tokens = steps * t.batch_tokens
    seconds = clock.total_seconds
    flops = fpt * tokens
    cost = {"flops": float(flops), "seconds": seconds, "tokens": float(tokens)}[t.cost_metric]
    tps = tokens / seconds if seconds > 0 else math.nan
    return {"cost": cost, **base, "metric.world_size": dist.get_world_size(),
            "metric.steps": steps, "metric.tokens": tokens, "metric.flops": flops,
            "metric.wall_seconds": seconds, "metric.tokens_per_second": tps,
            "metric.mfu": _mfu(cfg, fpt * tps), "metric.resumed_from_step": resumed_from,
            "metric.resumed_wall_seconds": clock.prior_seconds}


def _fit(trainer, cfg: LMConfig, clock: RunClock, base: dict[str, Any], resumed_from: int) -> None:
    """Train to ``max_duration``; a finished run relaunched (e.g. by a resumed sweep) only
    evaluates its final checkpoint: its result, not a failure."""
    if resumed_from:
        log.info("resumed from step %d (%.1f s of earlier training)", resumed_from,
                 clock.prior_seconds)
    trainer.logger.log_hyperparameters({**base, "steps": cfg.steps, "batch_size": cfg.batch_size})
    if resumed_from >= int(trainer.state.max_duration.value):
        log.info("run %s already finished (%d steps): evaluating its final checkpoint",
                 cfg.train.run_name, resumed_from)
        clock.start()
        trainer.eval()
    else:
        trainer.fit()


def _train(cfg: Any, callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """The body of :func:`train` (which wraps it with :func:`recipes.common.run_trial`)."""
    cfg = to_lm_config(cfg)
    data = build_data(cfg)
    base = _model_metrics(cfg, data.vocab_size)
    repair_autoresume(cfg)

    trainer, clock, resumed_from = None, RunClock(), 0

    def spent() -> dict[str, Any]:
        return _spent(cfg, trainer, clock, base, resumed_from)

    try:
        trainer, _ = _build_resuming(cfg, data, [clock, *callbacks])
        resumed_from = int(trainer.state.timestamp.batch)  # > 0 when resuming
        _fit(trainer, cfg, clock, base, resumed_from)
        result = spent()
        output = _final_val_loss(trainer)
        return {"output": output, **result}
    except DivergenceError as exc:
        log.warning("%s", exc)
        return failure_result(f"diverged: {exc}", **spent())
    except torch.cuda.OutOfMemoryError as exc:
        log.warning("out of memory: %s", exc)
        return failure_result(f"out of memory: {str(exc).splitlines()[0]}", **spent())
    except Exception as exc:  # noqa: BLE001  (a failed trial, never a crashed sweep)
        log.error("training failed:\n%s", traceback.format_exc())
        return failure_result(describe_error(exc), **spent())
    finally:
        if trainer is not None:
            trainer.close()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def train(cfg: Any, callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Train one language model and return its result dict; never raises (a trial).

    Args:
        cfg: an :class:`LMConfig`, or a Hydra ``DictConfig`` / dict with ``model``, ``data``,
            ``train``, ``logger`` sections (``conf/lm.yaml``).
        callbacks: extra Composer callbacks (e.g. :class:`~recipes.lm.callbacks.LossHistory`).

    Returns:
        ``output`` (final validation cross-entropy, nats/token), ``cost`` (``train.cost_metric``:
        training FLOPs by default, or wall seconds, or tokens), ``status`` and ``metric.params``,
        ``metric.params_non_embedding``, ``metric.tokens``, ``metric.flops``,
        ``metric.wall_seconds``, ``metric.tokens_per_second``, ``metric.mfu`` (GPU with a known
        peak only, else NaN), ``metric.steps``, ``metric.vocab_size``,
        ``metric.resumed_from_step`` (0 unless resumed) and ``metric.resumed_wall_seconds``.
        Steps, tokens, FLOPs and seconds count the whole run, checkpoints it resumed from
        included. A finished ``train.autoresume`` run relaunched returns its result again.
        A bad config (the error names the field), missing data or tokenizer, divergence, OOM or
        any training error: ``output`` NaN, ``status`` ``failed``, ``error`` and the cost spent
        until then (:func:`recipes.common.run_trial`).
    """
    return run_trial(_train, cfg, callbacks=callbacks)
