"""Parameter count, multiply-accumulates and CPU latency of a network (for bench/models.py and the model zoo)."""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import Tensor, nn

from had_tracker.models.vit import Attention, PatchEmbed


def count_params(model: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_macs(model: nn.Module, inputs: tuple[Tensor, ...]) -> int:
    """Multiply-accumulates of one forward pass: Linear, Conv2d and the two attention matmuls (batch included)."""
    total = [0]

    def linear_hook(module: nn.Linear, args: tuple, output: Tensor) -> None:
        total[0] += output.numel() * module.in_features

    def conv_hook(module: nn.Conv2d, args: tuple, output: Tensor) -> None:
        kh, kw = module.kernel_size
        total[0] += output.numel() * (module.in_channels // module.groups) * kh * kw

    def attention_hook(module: Attention, args: tuple, output: tuple) -> None:
        b, n, d = args[0].shape
        total[0] += 2 * b * n * n * d  # q @ k^T and attn @ v

    def patch_embed_hook(module: PatchEmbed, args: tuple, output: Tensor) -> None:
        # its convolution may run as a matrix product that no Conv2d hook sees
        total[0] += output.numel() * module.proj.in_channels * module.patch * module.patch

    embed_convs = {id(m.proj) for m in model.modules() if isinstance(m, PatchEmbed)}
    handles = []
    for m in model.modules():
        if isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
        elif isinstance(m, nn.Conv2d) and id(m) not in embed_convs:
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, Attention):
            handles.append(m.register_forward_hook(attention_hook))
        elif isinstance(m, PatchEmbed):
            handles.append(m.register_forward_hook(patch_embed_hook))
    try:
        model.eval()(*inputs)
    finally:
        for h in handles:
            h.remove()
    return int(total[0])


def measure_latency_ms(
    model: nn.Module, inputs: tuple[Tensor, ...], threads: int = 2, warmup: int = 5, repeats: int = 30
) -> dict[str, float]:
    """Median / p90 / min forward time [ms] with ``threads`` intra-op threads (restored afterwards).

    Runs under ``torch.inference_mode()``, as the tracker does.
    """
    return measure_latencies_ms([(model, inputs)], threads, warmup, repeats)[0]


@torch.inference_mode()
def measure_latencies_ms(
    runs: list[tuple[nn.Module, tuple[Tensor, ...]]],
    threads: int = 2,
    warmup: int = 5,
    repeats: int = 30,
    block: int = 1,
) -> list[dict[str, float]]:
    """:func:`measure_latency_ms` of several models, interleaved in blocks of ``block`` calls (a, b, a, b, ...).

    On a shared machine the load changes while a benchmark runs; interleaving makes such changes hit
    every model alike, so their ratio is what stays meaningful. With ``block=1`` every call follows a
    call of another model, whose weights have just displaced its own from the caches; ``block > 1`` runs
    each model that many times in a row, as a tracker runs its one network. ``repeats`` calls per model.
    """
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    times: list[list[float]] = [[] for _ in runs]
    try:
        for model, inputs in runs:
            model.eval()
            for _ in range(warmup):
                model(*inputs)
        for start in range(0, repeats, block):
            for k, (model, inputs) in enumerate(runs):
                for _ in range(min(block, repeats - start)):
                    t0 = time.perf_counter()
                    model(*inputs)
                    times[k].append((time.perf_counter() - t0) * 1e3)
    finally:
        torch.set_num_threads(previous)
    out = []
    for t in times:
        arr = np.asarray(t)
        out.append({"median": float(np.median(arr)), "p90": float(np.percentile(arr, 90)), "min": float(arr.min())})
    return out
