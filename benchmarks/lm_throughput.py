"""LM training throughput: the Composer run vs a plain PyTorch loop, and MFU on GPU.

CPU section: tokens/s of ``composer.Trainer`` (the recipe's own ``build_trainer``) against a
plain PyTorch loop training the same model on the same batches in the same process (same
AdamW, warm-up + cosine schedule, gradient clipping; no evaluation, no logging). Both are
timed over the same steady-state window (after 5 warm-up steps), runs alternate, and the
best of ``--repeats`` is kept for each. Overhead ratio = plain tokens/s / Composer tokens/s
(target <= 1.10). It also times rotary vs T5-bias positions (best-of-N forward+backward
of the same shape at two context lengths), and the native model against Hugging Face
architectures of the same size (``model.impl=hf``: Llama with a SwiGLU MLP of 8/3 d_model, which
holds as many weights as the native 4 d_model GELU MLP, and GPT-2 with a 4 d_model MLP), each
through the recipe's Composer run on the same batches, alternating, best of ``--repeats``.

GPU section (only if CUDA is available): a GPT-2-small shape (d_model 768, 12 layers, 12 heads,
context 1024, ~124M params with a 50304 vocab), bf16 autocast, torch.compile, 50 steps through
Composer: tokens/s and MFU (peak bf16 FLOP/s from recipes.lm.hardware), native and
``impl=hf`` Llama.

    python -m benchmarks.lm_throughput [--quick] [--threads 1]

The last stdout line is a JSON list of result objects.
"""
from __future__ import annotations

import argparse
import json
import logging
import time

import torch
from composer.core import Callback

from recipes.lm.config import DataConfig, LMConfig, LoggerConfig, ModelConfig, TrainConfig
from recipes.lm.data import LMData, PackedDataset, build_data
from recipes.lm.hardware import peak_flops
from recipes.lm.model import GPT, count_params, flops_per_token
from recipes.lm.optim import build_optimizer


class StepTimer(Callback):
    """Wall time from the end of batch ``warmup`` to the end of the last batch."""

    def __init__(self, warmup: int, sync_cuda: bool = False):
        self.warmup, self.sync = warmup, sync_cuda
        self.t0 = self.t1 = None

    def batch_end(self, state, logger) -> None:
        step, last = int(state.timestamp.batch), int(state.max_duration.value)
        if step not in (self.warmup, last):
            return
        if self.sync:  # only at the window's ends, so the GPU queue is not drained every step
            torch.cuda.synchronize()
        if step == self.warmup:
            self.t0 = time.perf_counter()
        self.t1 = time.perf_counter()


def composer_tokens_per_s(cfg: LMConfig, data: LMData, warmup: int) -> float:
    from recipes.lm.training import build_trainer

    timer = StepTimer(warmup, sync_cuda=torch.cuda.is_available() and cfg.train.device != "cpu")
    trainer, _ = build_trainer(cfg, data, callbacks=[timer])
    trainer.fit()
    trainer.close()
    steps = cfg.steps - warmup
    return steps * cfg.train.batch_tokens / (timer.t1 - timer.t0)


def plain_tokens_per_s(cfg: LMConfig, data: LMData, warmup: int) -> float:
    """The same training in a bare loop: same init seed, sampler order, optimiser, schedule, on
    ``cfg.train.device`` with its precision (bf16 autocast for ``amp_bf16``) and ``compile``."""
    from composer.utils import dist
    from torch.utils.data import DataLoader

    from recipes.common.device import resolve_device

    t = cfg.train
    dev = resolve_device(t.device, "train.device")
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.manual_seed(t.seed)
    model = GPT(cfg.model, data.vocab_size).to(dev)
    step_model = torch.compile(model) if t.compile else model
    opt, sched = build_optimizer(model, t, cfg.steps)
    sampler = dist.get_sampler(data.train, shuffle=True, drop_last=True, seed=t.seed)
    loader = DataLoader(data.train, batch_size=cfg.batch_size, sampler=sampler, drop_last=True,
                        generator=torch.Generator().manual_seed(t.seed))
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=t.precision == "amp_bf16")
    model.train()
    step, epoch, t0 = 0, 0, None
    while step < cfg.steps:
        sampler.set_epoch(epoch)
        for batch in loader:
            batch = batch.to(dev, non_blocking=True)
            with autocast:
                logits = step_model(batch[:, :-1])
                loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(),
                                                         batch[:, 1:].flatten())
            loss.backward()
            if t.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            sched.step()
            step += 1
            if step == warmup:
                sync()
                t0 = time.perf_counter()
            if step == cfg.steps:
                break
        epoch += 1
    sync()
    return (cfg.steps - warmup) * t.batch_tokens / (time.perf_counter() - t0)


def random_token_setup(model: ModelConfig, vocab: int, steps: int, seqs: int, *, device: str,
                       precision: str, compile: bool) -> tuple[LMConfig, LMData]:
    """A config and in-memory data of uniformly random tokens (``seqs`` sequences per batch,
    ``steps`` steps): throughput needs the model's shapes, not a corpus."""
    batch_tokens = seqs * model.context_length
    g = torch.Generator().manual_seed(0)
    data = LMData(tokenizer=None, vocab_size=vocab,
                  train=PackedDataset(torch.randint(0, vocab, (seqs * 8, model.context_length + 1),
                                                    generator=g)),
                  val=torch.randint(0, vocab, (seqs, model.context_length + 1), generator=g))
    cfg = LMConfig(model=model, data=DataConfig(val_tokens=model.context_length),
                   train=TrainConfig(tokens=steps * batch_tokens, batch_tokens=batch_tokens,
                                     device=device, precision=precision, compile=compile),
                   logger=LoggerConfig(console=False, progress_bar=False))
    return cfg, data


def cpu_section(quick: bool, repeats: int, warmup: int) -> list[dict]:
    model = (ModelConfig(name="bench", d_model=64, n_layers=2, n_heads=2, context_length=64)
             if quick else ModelConfig(name="bench", d_model=96, n_layers=3, n_heads=3, context_length=128))
    steps = 30 if quick else 40
    batch_tokens = model.context_length * 16
    cfg = LMConfig(
        model=model,
        data=DataConfig(max_bytes=600_000 if quick else 2_000_000, vocab_size=1024 if quick else 4096,
                        val_fraction=0.05, val_tokens=model.context_length * 4),
        train=TrainConfig(tokens=steps * batch_tokens, batch_tokens=batch_tokens, device="cpu",
                          precision="fp32"),
        logger=LoggerConfig(console=False))
    data = build_data(cfg)
    best = {"composer": 0.0, "plain": 0.0}
    for _ in range(repeats):  # alternate, keep the best of each (other processes share the CPU)
        best["composer"] = max(best["composer"], composer_tokens_per_s(cfg, data, warmup))
        best["plain"] = max(best["plain"], plain_tokens_per_s(cfg, data, warmup))
    ratio = best["plain"] / best["composer"]
    print(f"CPU {model.d_model}x{model.n_layers} ctx {model.context_length}, batch {batch_tokens} "
          f"tokens, {steps} steps (timed after {warmup}): composer {best['composer']:.0f} tok/s, "
          f"plain loop {best['plain']:.0f} tok/s, overhead ratio {ratio:.3f} (target <= 1.10)")
    out = [{"benchmark": "lm_throughput", "section": "cpu_composer_vs_plain",
            "d_model": model.d_model, "n_layers": model.n_layers, "context": model.context_length,
            "batch_tokens": batch_tokens, "steps": steps, "threads": torch.get_num_threads(),
            "composer_tokens_per_s": round(best["composer"], 1),
            "plain_tokens_per_s": round(best["plain"], 1),
            "overhead_ratio": round(ratio, 4), "target_ratio": 1.10}]

    out.append(native_vs_hf_section(cfg, data, repeats, warmup))
    out.append(position_section(model, contexts=(64, 256) if quick else (128, 512),
                                reps=4 if quick else 8))
    return out


def native_vs_hf_section(cfg: LMConfig, data: LMData, repeats: int, warmup: int) -> dict:
    """Composer tokens/s of the native model and of ``model.impl=hf`` Llama and GPT-2 at the
    same width, depth, heads, context and vocabulary, on the same data and schedule."""
    from dataclasses import replace

    from recipes.lm.model import count_params

    arms = {"native": cfg.model,
            "hf_llama": replace(cfg.model, impl="hf", arch="llama", mlp_ratio=8 / 3),
            "hf_gpt2": replace(cfg.model, impl="hf", arch="gpt2")}
    best = dict.fromkeys(arms, 0.0)
    for _ in range(repeats):  # alternate, keep the best of each
        for name, model in arms.items():
            arm_cfg = replace(cfg, model=model)
            best[name] = max(best[name], composer_tokens_per_s(arm_cfg, data, warmup))
    m = cfg.model
    row: dict = {"benchmark": "lm_throughput", "section": "cpu_native_vs_hf",
                 "d_model": m.d_model, "n_layers": m.n_layers, "n_heads": m.n_heads,
                 "context": m.context_length, "vocab": data.vocab_size,
                 "batch_tokens": cfg.train.batch_tokens, "steps": cfg.steps,
                 "threads": torch.get_num_threads()}
    for name, model in arms.items():
        row[f"{name}_params"] = count_params(model, data.vocab_size)["total"]
        row[f"{name}_tokens_per_s"] = round(best[name], 1)
    for name in ("hf_llama", "hf_gpt2"):
        row[f"{name}_vs_native"] = round(best[name] / best["native"], 4)
    print(f"native vs Hugging Face, {m.d_model}x{m.n_layers} ctx {m.context_length}: "
          + ", ".join(f"{n} {best[n]:.0f} tok/s ({row[f'{n}_params']} params)" for n in arms))
    return row


def position_section(model: ModelConfig, contexts: tuple[int, ...], reps: int) -> dict:
    """Rotary vs T5 bias: best-of-``reps`` forward+backward time of the same model shape on
    the same tokens (4096 per step), interleaved, at each context length."""
    row: dict = {"benchmark": "lm_throughput", "section": "cpu_rotary_vs_t5",
                 "d_model": model.d_model, "n_layers": model.n_layers}
    for ctx in contexts:
        models = {p: GPT(ModelConfig(**{**model.__dict__, "context_length": ctx, "position": p,
                                        "rel_max_distance": ctx}), 4096) for p in ("rotary", "t5")}
        x = torch.randint(0, 4096, (max(1, 4096 // ctx), ctx))
        best = dict.fromkeys(models, float("inf"))
        for _ in range(reps):
            for p, m in models.items():
                t0 = time.perf_counter()
                torch.nn.functional.cross_entropy(m(x).flatten(0, 1), x.flatten()).backward()
                best[p] = min(best[p], time.perf_counter() - t0)
        speedup = best["t5"] / best["rotary"]
        print(f"positions, context {ctx}: rotary {x.numel() / best['rotary']:.0f} tok/s, "
              f"T5 bias {x.numel() / best['t5']:.0f} tok/s, rotary speedup {speedup:.3f}")
        row[f"rotary_speedup_ctx{ctx}"] = round(speedup, 4)
    return row


def gpu_section(quick: bool) -> list[dict]:
    """gpt125m on the GPU through Composer: the native model, then ``impl=hf`` Llama at the same
    size (SwiGLU of 8/3 d_model), tokens/s and MFU of each."""
    from dataclasses import replace

    if not torch.cuda.is_available():
        print("GPU section skipped: CUDA is not available")
        return [{"benchmark": "lm_throughput", "section": "gpu_mfu", "skipped": "no CUDA device"}]
    native = ModelConfig(name="gpt125m", d_model=768, n_layers=12, n_heads=12, context_length=1024)
    vocab, steps, seqs = 50304, (20 if quick else 50), 32
    batch_tokens = seqs * native.context_length
    warmup = 10 if steps > 10 else 1  # compilation happens in the first steps
    name = torch.cuda.get_device_name()
    peak = peak_flops(name)
    out = []
    for arm, model in (("native", native),
                       ("hf_llama", replace(native, impl="hf", arch="llama", mlp_ratio=8 / 3))):
        cfg, data = random_token_setup(model, vocab, steps, seqs, device="gpu",
                                       precision="amp_bf16", compile=True)
        tps = composer_tokens_per_s(cfg, data, warmup)
        mfu = flops_per_token(model, vocab) * tps / peak if peak else float("nan")
        params = count_params(model, vocab)["total"]
        print(f"GPU {name} {arm}: {params / 1e6:.1f}M params, ctx 1024, bf16, compile, {steps} "
              f"steps: {tps:.0f} tok/s, MFU {mfu:.1%} (target >= 40% on H100)")
        out.append({"benchmark": "lm_throughput", "section": "gpu_mfu", "model": arm,
                    "device": name, "params": params, "steps": steps,
                    "batch_tokens": batch_tokens, "tokens_per_s": round(tps, 1),
                    "mfu": round(mfu, 4), "target_mfu": 0.40})
        torch.cuda.empty_cache()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.lm_throughput",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small model and few steps (< 60 s)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--repeats", type=int, default=None, help="alternating runs per side")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    repeats = args.repeats or 2
    results = cpu_section(args.quick, repeats, warmup=5) + gpu_section(args.quick)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
