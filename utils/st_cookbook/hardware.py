"""Seeds, device and precision: the same code on a laptop CPU, one GPU or several."""

from __future__ import annotations

import platform


def seed_everything(seed: int = 42) -> int:
    """Seed Python, NumPy and torch (CPU and every GPU) so runs repeat; returns the seed."""
    from transformers import set_seed

    set_seed(seed)
    return seed


def pick_precision() -> dict[str, bool]:
    """Mixed-precision flags for SentenceTransformerTrainingArguments, from the hardware.

    bf16 on GPUs that support it (Ampere and newer), fp16 on older CUDA GPUs, and
    full fp32 on CPU and Apple silicon, where mixed precision is slower or
    unsupported for training. Pass as `SentenceTransformerTrainingArguments(**pick_precision(), ...)`.
    """
    import torch

    if torch.cuda.is_available():
        if torch.cuda.is_bf16_supported():
            return {"bf16": True, "fp16": False}
        return {"bf16": False, "fp16": True}
    return {"bf16": False, "fp16": False}


def describe_hardware() -> str:
    """One line: device, precision, CPU threads or GPU name."""
    import torch
    from sentence_transformers.util import get_device_name

    device = get_device_name()  # the device SentenceTransformer(...) picks by itself
    precision = pick_precision()
    chosen = "bf16" if precision["bf16"] else "fp16" if precision["fp16"] else "fp32"
    if device.startswith("cuda"):
        where = f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    else:
        where = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    return f"device={device} ({where}), training precision={chosen}"
