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
import traceback
from collections.abc import Sequence
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
from recipes.lm.callbacks import (
    DivergenceDetector,
    DivergenceError,
    RunClock,
    SteadyClock,
    StreamEpoch,
)
from recipes.lm.composer_model import ComposerGPT
from recipes.lm.config import LMConfig, to_lm_config
from recipes.lm.data import LMData, PackedDataset, build_data
from recipes.lm.export import export_dir, export_hf
from recipes.lm.hardware import peak_flops
from recipes.lm.model import GPT, count_params, flops_per_token
from recipes.lm.optim import build_optimizer
from recipes.lm.resume import build_resuming, fence, repair_autoresume, start_process_group

__all__ = ["build_trainer", "fsdp_parallelism", "model_device", "per_rank_batch",
           "repair_autoresume", "train", "val_evaluator"]

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


def model_device(device: str) -> torch.device:
    """The device this process builds its model on: Composer's ``device`` name (``gpu`` or
    ``cpu``) -> its own GPU, ``cuda:<LOCAL_RANK>`` (under ``composer -n 8`` rank 5 trains on
    GPU 5; a bare ``.cuda()`` would put every rank's model on GPU 0), or the CPU."""
    from composer.utils import dist

    return torch.device("cuda", dist.get_local_rank()) if device == "gpu" else torch.device("cpu")


def per_rank_batch(cfg: LMConfig, device: str) -> tuple[int, int | str]:
    """Sequences per process, and per micro-batch (gradient accumulation): the batch is split
    evenly over the processes; ``train.microbatch_tokens`` sets the micro-batch, and when it is
    unset a GPU run lets Composer find the largest that fits (``"auto"``: it halves the
    micro-batch on CUDA out-of-memory and retries), while a CPU run takes the whole batch at
    once (Composer's search needs CUDA)."""
    from composer.utils import dist

    t, ctx = cfg.train, cfg.model.context_length
    world = dist.get_world_size()
    if cfg.batch_size % world:
        raise ValueError(f"train.batch_tokens: the batch of {cfg.batch_size} sequences does not "
                         f"split over {world} processes; use a multiple of {world * ctx} tokens")
    per_rank = cfg.batch_size // world
    if t.microbatch_tokens is not None:
        return per_rank, max(1, min(per_rank, t.microbatch_tokens // ctx))
    return per_rank, "auto" if device == "gpu" else per_rank


def fsdp_parallelism(cfg: LMConfig, device: str, precision: str,
                     world_size: int) -> dict | None:
    """Composer's ``parallelism_config`` for ``train.fsdp`` on several processes (None: DDP).

    FULL_SHARD with one FSDP unit per transformer block (the model's ``fsdp_wrap_fn``; wrapping
    only the root would gather every parameter at once and save no memory), parameters cast to
    the run's precision for compute, gradients reduced in fp32, and buffers kept in fp32 (the
    rotary cos/sin tables lose precision in bf16; Composer's ``DEFAULT`` casts them)."""
    if not (cfg.train.fsdp and world_size > 1):
        return None
    if device != "gpu":
        raise ValueError("train.fsdp: FSDP shards over GPUs; on CPUs use data parallelism "
                         "(train.fsdp=false)")
    param = "bf16" if precision == "amp_bf16" else "fp32"
    return {"fsdp": {"sharding_strategy": "FULL_SHARD", "auto_wrap": True,
                     "use_orig_params": True,  # keeps the weight-decay parameter groups
                     "mixed_precision": {"param_dtype": param, "reduce_dtype": "fp32",
                                         "buffer_dtype": "fp32"}}}


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


def val_evaluator(cfg: LMConfig, data: LMData, per_rank: int, micro: int | str):
    """The fixed validation set as a Composer ``Evaluator`` of the cross-entropy, evaluated in
    the training micro-batches (``micro``; ``"auto"`` searches on CUDA as training does), so a
    run whose training fits does not run out of memory at its evaluation."""
    from composer.core import Evaluator
    from composer.utils import dist

    val_ds = PackedDataset(data.val)
    val_sampler = dist.get_sampler(val_ds, shuffle=False, drop_last=False)
    batch = max(1, min(per_rank, len(val_ds)))
    val_dl = DataLoader(val_ds, batch_size=batch, sampler=val_sampler,
                        generator=torch.Generator().manual_seed(cfg.train.seed))
    return Evaluator(label="val", dataloader=val_dl, metric_names=["LanguageCrossEntropy"],
                     device_eval_microbatch_size=micro if micro == "auto" else min(micro, batch))


def resolved_precision(cfg: LMConfig, device: str) -> str:
    """``train.precision`` with ``auto`` resolved: bf16 autocast on GPU, fp32 on CPU."""
    t = cfg.train
    return t.precision if t.precision != "auto" else ("amp_bf16" if device == "gpu" else "fp32")


def resolved_compile(cfg: LMConfig, device: str) -> bool:
    """``train.compile`` with ``None`` resolved: ``torch.compile`` on GPU, eager on CPU."""
    return cfg.train.compile if cfg.train.compile is not None else device == "gpu"


def steady_warmup(cfg: LMConfig) -> int:
    """Batches before the steady-state window of :class:`~recipes.lm.callbacks.SteadyClock`:
    a tenth of the run, at least 2 (compilation and the micro-batch search end there) and at
    most 50."""
    return min(50, max(2, cfg.steps // 10))


def model_vocab_size(cfg: LMConfig, data: LMData) -> int:
    """The model's vocabulary: ``model.vocab_size``, or the tokenizer's (the data's) when unset.

    Raises:
        ValueError: naming ``model.vocab_size`` when it is smaller than the tokenizer's.
    """
    want = cfg.model.vocab_size
    if want is not None and want < data.vocab_size:
        source = (f"data.tokenizer={cfg.data.tokenizer}" if cfg.data.tokenizer
                  else "trained with data.vocab_size")
        raise ValueError(f"model.vocab_size={want} is smaller than the tokenizer's "
                         f"{data.vocab_size} tokens ({source}); set model.vocab_size >= "
                         f"{data.vocab_size} or leave it null")
    return want or data.vocab_size


def build_model(cfg: LMConfig, data: LMData) -> tuple[torch.nn.Module, Any]:
    """The freshly initialised model (on the CPU) and its Composer wrapper:
    :class:`~recipes.lm.model.GPT` in :class:`~recipes.lm.composer_model.ComposerGPT`, or for
    ``model.impl=hf`` the ``transformers`` model in
    :class:`~recipes.lm.hf_model.ComposerHFCausalLM`."""
    vocab = model_vocab_size(cfg, data)
    if cfg.model.impl == "hf":
        from recipes.lm.export import hf_tokenizer_of
        from recipes.lm.hf_model import ComposerHFCausalLM, build_hf_model

        model = build_hf_model(cfg.model, vocab, getattr(data.tokenizer, "eos_id", None))
        return model, ComposerHFCausalLM(model, tokenizer=hf_tokenizer_of(data.tokenizer))
    model = GPT(cfg.model, vocab)
    return model, ComposerGPT(model)


def build_trainer(cfg: LMConfig, data: LMData, callbacks: Sequence[Any] = ()):
    """Build the model, optimiser, schedule, dataloaders and the ``composer.Trainer``.

    Returns ``(trainer, model)``; exposed so benchmarks and tests drive the same Trainer.
    """
    from composer import Trainer
    from composer.algorithms import GradientClipping
    from composer.utils import dist

    t = cfg.train
    device = composer_device(resolve_device(t.device, "train.device"))
    precision = resolved_precision(cfg, device)
    parallelism = fsdp_parallelism(cfg, device, precision, dist.get_world_size())
    per_rank, micro = per_rank_batch(cfg, device)
    if device == "gpu" and (why := cfg.model.flash_attention_problem()):
        log.warning("flash attention is off for this model: %s", why)

    torch.manual_seed(t.seed)
    model, composer_model = build_model(cfg, data)
    model.to(model_device(device))
    optimizer, scheduler = build_optimizer(model, t, cfg.steps)  # fused AdamW when on CUDA
    train_spec = _train_dataloader(cfg, data, per_rank, pin_memory=device == "gpu")
    evaluator = val_evaluator(cfg, data, per_rank, micro)
    max_batches = min(cfg.steps, t.stop_after_batches or cfg.steps)
    lg = cfg.logger
    trainer = Trainer(
        model=composer_model,
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
        compile_config={} if resolved_compile(cfg, device) else None,
    )
    return trainer, model


def _final_val_loss(trainer) -> float:
    metrics = trainer.state.eval_metrics.get("val", {})
    metric = metrics.get("LanguageCrossEntropy")
    if metric is None:
        raise RuntimeError("no validation metric was computed")
    return float(metric.compute())


def _model_metrics(cfg: LMConfig, vocab_size: int) -> dict[str, Any]:
    """Log the model and the run's size; return the ``metric.*`` entries known before training
    (``vocab_size``: the model's)."""
    m, t, V = cfg.model, cfg.train, vocab_size
    params = count_params(m, V)
    fpt = flops_per_token(m, V)
    impl = f"hf {m.arch}" if m.impl == "hf" else "native"
    log.info("model %s (%s): %d params (%d non-embedding), d_model=%d n_layers=%d n_heads=%d "
             "d_head=%d d_ff=%d ctx=%d vocab=%d; batch %d seqs (%d tokens), %d steps, %.3g "
             "training FLOPs", m.name, impl, params["total"], params["non_embedding"], m.d_model,
             m.n_layers, m.n_heads,
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


def _spent(cfg: LMConfig, trainer, clock: RunClock, steady: SteadyClock, base: dict[str, Any],
           resumed_from: int) -> dict[str, Any]:
    """``cost`` and the ``metric.*`` entries of the whole run so far (resumed checkpoints
    included): steps, tokens, FLOPs, time, throughput and MFU; the steady-state throughput and
    MFU of this process's training (:class:`~recipes.lm.callbacks.SteadyClock`); the micro-batch
    the run trained with (the one Composer found when it searched)."""
    from composer.utils import dist

    t, fpt = cfg.train, base["metric.flops_per_token"]
    steps = int(trainer.state.timestamp.batch) if trainer is not None else 0
    tokens = steps * t.batch_tokens
    seconds = clock.total_seconds
    flops = fpt * tokens
    cost = {"flops": float(flops), "seconds": seconds, "tokens": float(tokens)}[t.cost_metric]
    tps = tokens / seconds if seconds > 0 else math.nan
    steady_tps = (steady.batches * t.batch_tokens / steady.seconds
                  if steady.batches and steady.seconds > 0 else math.nan)
    micro = trainer.state.device_train_microbatch_size if trainer is not None else None
    return {"cost": cost, **base, "metric.world_size": dist.get_world_size(),
            "metric.steps": steps, "metric.tokens": tokens, "metric.flops": flops,
            "metric.wall_seconds": seconds, "metric.tokens_per_second": tps,
            "metric.mfu": _mfu(cfg, fpt * tps),
            "metric.tokens_per_second_steady": steady_tps,
            "metric.mfu_steady": _mfu(cfg, fpt * steady_tps),
            "metric.microbatch_size": int(micro) if isinstance(micro, (int, float)) else math.nan,
            "metric.resumed_from_step": resumed_from,
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
    hf_dir = export_dir(cfg)  # an export that cannot happen is refused before any work
    data = build_data(cfg)
    base = _model_metrics(cfg, model_vocab_size(cfg, data))
    start_process_group(composer_device(resolve_device(cfg.train.device, "train.device")))
    repair_autoresume(cfg)  # rank 0; the other ranks wait for it
    fence()

    trainer, clock, steady, resumed_from = None, RunClock(), SteadyClock(steady_warmup(cfg)), 0

    def spent() -> dict[str, Any]:
        return _spent(cfg, trainer, clock, steady, base, resumed_from)

    try:
        trainer, _ = build_resuming(
            cfg, lambda: build_trainer(cfg, data, [clock, steady, *callbacks]))
        resumed_from = int(trainer.state.timestamp.batch)  # > 0 when resuming
        _fit(trainer, cfg, clock, base, resumed_from)
        result = spent()
        output = _final_val_loss(trainer)
        if hf_dir is not None:
            export_hf(cfg, trainer.state.model, data.tokenizer, base["metric.vocab_size"], hf_dir)
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
        peak only, else NaN; over the whole run: start-up, compilation and evaluation
        included), ``metric.tokens_per_second_steady`` and ``metric.mfu_steady`` (the training
        steps after a warm-up, evaluation left out), ``metric.microbatch_size`` (sequences per
        forward/backward pass on each process), ``metric.steps``, ``metric.vocab_size``,
        ``metric.resumed_from_step`` (0 unless resumed) and ``metric.resumed_wall_seconds``.
        Steps, tokens, FLOPs and seconds count the whole run, checkpoints it resumed from
        included. A finished ``train.autoresume`` run relaunched returns its result again.
        A bad config (the error names the field), missing data or tokenizer, divergence, OOM or
        any training error: ``output`` NaN, ``status`` ``failed``, ``error`` and the cost spent
        until then (:func:`recipes.common.run_trial`).
    """
    return run_trial(_train, cfg, callbacks=callbacks)
