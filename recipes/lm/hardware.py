"""Peak dense bf16 tensor-core FLOP/s per GPU, for model-FLOPs utilisation (MFU).

Kept rather than Composer's ``SpeedMonitor``, which cannot report what the result needs: it logs
a rolling-window MFU to the loggers only, while ``metric.mfu`` is one whole-run number in the
result JSON (resumed segments included); and its lookup (``get_gpu_flops_available``) needs a
Trainer ``State``, takes the peak of the run's precision (an fp32 run gets the non-tensor-core
peak) and knows fewer GPUs (no H100 NVL, L4, L40S or RTX cards; an A10G gets the A10's peak),
so today's MFU values would change.
"""
from __future__ import annotations

__all__ = ["PEAK_BF16_FLOPS", "peak_flops"]

# Vendor datasheets, dense (no 2:4 sparsity), bf16 inputs with fp32 accumulation. The most
# specific key in the device name wins, so "h200 nvl" (a 600 W PCIe card) is not the SXM "h200",
# and "l40" (181 TFLOP/s) is neither the "l40s" nor the "l4".
PEAK_BF16_FLOPS: dict[str, float] = {
    "h200 nvl": 835e12,
    "h200": 989e12,  # SXM
    "h100 pcie": 756e12,
    "h100 nvl": 835e12,
    "h100": 989e12,  # SXM / HBM3
    "gh200": 989e12,
    "a100": 312e12,
    "a10g": 70e12,
    "a10": 125e12,
    "l40s": 362e12,
    "l40": 181e12,
    "l4": 121e12,
    "rtx 4090": 165e12,
    "rtx 3090": 71e12,
    "v100": 125e12,  # fp16 (no bf16 on Volta)
}


def peak_flops(device_name: str) -> float | None:
    """Peak FLOP/s of a GPU from its name (``torch.cuda.get_device_name()``), or ``None`` if
    unknown. The most specific table key contained in the name wins."""
    name = device_name.lower()
    for key in sorted(PEAK_BF16_FLOPS, key=len, reverse=True):
        if key in name:
            return PEAK_BF16_FLOPS[key]
    return None
