"""The one training loop: teacher (task loss) or student (task + the distillation preset's terms).

Reproducible and resumable: batch ``i`` of rank ``r`` is made of sampler pairs
``i * B * world + r * B + [0, B)``, each a pure function of ``(seed, index)``; a checkpoint stores the
model, the distiller's trainable parts (projectors, temporal aligner), the optimizer, the schedule,
the torch RNG state and the step, so ``resume=True`` continues bit-exactly. Under ``torchrun`` the
loop runs DDP (gloo on CPU, nccl on GPU); rank 0 writes checkpoints and logs.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from had_tracker.data.sampler import PairSampler, collate
from had_tracker.data.sequence import TrackingSequence
from had_tracker.distill.config import DistillConfig
from had_tracker.distill.hierarchical import Distiller, student_bin_tokens
from had_tracker.errors import CheckpointError, ConfigError
from had_tracker.models.builder import build_model, load_checkpoint, load_model, save_checkpoint
from had_tracker.models.config import ModelConfig
from had_tracker.training.config import TrainConfig

log = logging.getLogger(__name__)

LAST_CHECKPOINT = "last.pt"
FINAL_CHECKPOINT = "final.pt"


class TrainStep(nn.Module):
    """The trained network plus the distiller's trainable parts; ``forward(batch) -> loss terms`` (DDP wraps this)."""

    def __init__(self, model: nn.Module, distiller: Distiller, teacher: nn.Module | None) -> None:
        super().__init__()
        self.model = model
        self.distiller = distiller
        self.teacher = [teacher]  # a list keeps the frozen teacher out of parameters(), state_dict() and DDP

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        d = self.distiller
        if self.model.cfg.kind == "teacher":
            out = self.model(
                batch["template_rgb"],
                batch["template_events_teacher"],
                batch["search_rgb"],
                batch["search_events_teacher"],
            )
            return d(out, batch["search_box"])
        teacher_out = None
        teacher = self.teacher[0]
        if teacher is not None:
            with torch.no_grad():
                teacher_out = teacher(
                    batch["template_rgb"],
                    batch["template_events_teacher"],
                    batch["search_rgb"],
                    batch["search_events_teacher"],
                    return_features=d.needs_features,
                    attn_layers=d.teacher_attn_layers,
                )
        out = self.model(
            batch["template_events"],
            batch["search_events"],
            return_features=d.needs_features,
            attn_layers=d.student_attn_layers,
        )
        bins = student_bin_tokens(self.model, batch["template_events"], batch["search_bins"]) if d.aligner else None
        return d(out, batch["search_box"], teacher_out, bins)


@dataclass
class DistributedContext:
    """Rank, world size and device of this process."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """True on rank 0."""
        return self.rank == 0


def init_distributed(device: str = "cpu") -> DistributedContext:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1), else a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistributedContext(device=torch.device(device))
    import torch.distributed as dist

    use_cuda = device.startswith("cuda") and torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    rank = dist.get_rank()
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    return DistributedContext(rank=rank, world=dist.get_world_size(), device=dev)


def make_optimizer(step_module: TrainStep, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW: backbone blocks at ``lr * backbone_lr_scale``, everything else at ``lr``; no decay on norms/biases."""
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, param in step_module.named_parameters():
        if not param.requires_grad:
            continue
        is_backbone = name.startswith("model.backbone.")
        no_decay = param.ndim <= 1 or name.endswith(".bias") or "pos_" in name or "modality" in name
        groups.setdefault((is_backbone, no_decay), []).append(param)
    param_groups = [
        {
            "params": params,
            "lr": cfg.lr * (cfg.backbone_lr_scale if backbone else 1.0),
            "weight_decay": 0.0 if no_decay else cfg.weight_decay,
        }
        for (backbone, no_decay), params in sorted(groups.items())
    ]
    return torch.optim.AdamW(param_groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then cosine to 0, step decay (x ``gamma`` every ``step_size``) or constant."""

    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.schedule == "cosine":
            progress = (step - cfg.warmup_steps) / max(cfg.steps - cfg.warmup_steps, 1)
            return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
        if cfg.schedule == "step" and cfg.step_size > 0:
            return cfg.gamma ** (step // cfg.step_size)
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _open_tensorboard(out_dir: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is an optional extra
        log.info("tensorboard is not installed; loss terms go to the log only")
        return None
    return SummaryWriter(str(out_dir / "tb"))


def _resolve_inputs(
    cfg: TrainConfig, kind: str, teacher_ckpt: str | Path | None, device: str | torch.device = "cpu"
) -> tuple[ModelConfig, DistillConfig, nn.Module | None, ModelConfig | None]:
    """Model and distillation configs, and the teacher when the preset needs one; ConfigError/CheckpointError."""
    if kind not in ("teacher", "student"):
        raise ConfigError(f"kind must be teacher or student, got {kind!r}")
    model_cfg = ModelConfig.from_yaml(cfg.model, kind)
    distill_cfg = DistillConfig.from_yaml(cfg.distill) if kind == "student" else DistillConfig(name="task")
    teacher, teacher_cfg = None, None
    if kind == "student" and distill_cfg.needs_teacher:
        if teacher_ckpt is None:
            raise ConfigError(f"distillation preset {distill_cfg.name!r} needs --teacher CKPT")
        teacher, teacher_cfg = load_model(teacher_ckpt, map_location=device, expected_kind="teacher")
        if (teacher_cfg.search_size, teacher_cfg.template_size, teacher_cfg.patch_size) != (
            model_cfg.search_size,
            model_cfg.template_size,
            model_cfg.patch_size,
        ):
            raise ConfigError("the teacher checkpoint's crop geometry differs from the student preset's")
    return model_cfg, distill_cfg, teacher, teacher_cfg


def check_training_inputs(cfg: TrainConfig, kind: str, teacher_ckpt: str | Path | None = None) -> None:
    """Everything :func:`train` checks before it touches data (presets, distillation, teacher), in seconds.

    The CLI calls it before generating or loading the training data, so a bad ``--distill`` or a missing or
    wrong ``--teacher`` fails at once instead of after minutes of data generation.
    """
    model_cfg = _resolve_inputs(cfg, kind, teacher_ckpt, "cpu")[0]
    if cfg.init or cfg.trainable:
        model = build_model(model_cfg)
        freeze_except(model, cfg.trainable)
        if cfg.init:
            _load_init_weights(Path(cfg.init), model, model_cfg, kind)


def train(
    cfg: TrainConfig,
    kind: str,
    sequences: Sequence[TrackingSequence],
    out_dir: str | Path,
    teacher_ckpt: str | Path | None = None,
    resume: bool = False,
    device: str = "cpu",
    progress: bool = True,
    on_log: Callable[[int, dict[str, float]], None] | None = None,
) -> Path:
    """Train a ``kind`` ("teacher"/"student") network; returns the final checkpoint path (``out_dir/final.pt``)."""
    if kind not in ("teacher", "student"):
        raise ConfigError(f"kind must be teacher or student, got {kind!r}")
    out_dir = Path(out_dir)
    ctx = init_distributed(device)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model_cfg, distill_cfg, teacher, teacher_cfg = _resolve_inputs(cfg, kind, teacher_ckpt, ctx.device)
    if teacher is not None:
        teacher.requires_grad_(False)
    model = build_model(model_cfg).to(ctx.device)
    distiller = Distiller(distill_cfg, teacher_cfg if kind == "student" else None, model_cfg).to(ctx.device)
    freeze_except(model, cfg.trainable)
    step_module = TrainStep(model, distiller, teacher)
    optimizer = make_optimizer(step_module, cfg)
    schedule = make_schedule(optimizer, cfg)
    start_step = 0
    last_path = out_dir / LAST_CHECKPOINT
    if cfg.init and not resume:
        _load_init_weights(Path(cfg.init), model, model_cfg, kind)
    if resume:
        start_step = _restore(last_path, step_module, optimizer, schedule, kind, cfg)
        log.info("resumed %s at step %d", last_path, start_step)
        _restore_ot_weight(last_path, distiller)
    wrapped: nn.Module = step_module
    if ctx.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        wrapped = DistributedDataParallel(
            step_module, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None
        )
    sampler = PairSampler(
        sequences,
        model_cfg,
        cfg.sampler,
        seed=cfg.seed,
        epoch_size=cfg.steps * cfg.batch_size * ctx.world,
        with_teacher_inputs=kind == "teacher" or teacher is not None,
        with_bins=distiller.aligner is not None,
    )
    writer = _open_tensorboard(out_dir) if ctx.is_main else None
    bar = None
    if progress and ctx.is_main:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=start_step, desc=f"train {kind}", mininterval=5.0)
    extra_common = {
        "train_config": cfg.to_dict(),
        "distill_config": distiller.cfg.to_dict(),
        "teacher_checkpoint": str(teacher_ckpt) if teacher_ckpt else "",
    }
    model.train()
    distiller.train()
    keep_frozen_in_eval(model, cfg.trainable)
    t_start = t_last = time.perf_counter()
    pairs_since = 0
    sums: dict[str, float] = {}
    for step in range(start_step, cfg.steps):
        first = (step * ctx.world + ctx.rank) * cfg.batch_size
        batch = collate([sampler[i] for i in range(first, first + cfg.batch_size)])
        batch = {k: v.to(ctx.device) for k, v in batch.items()}
        terms = wrapped(batch)
        if step == 0 and distiller.cfg.ot.enabled and distiller.cfg.ot.gradient_share:
            calib = distiller.calibrate_ot(terms, [p for p in model.parameters() if p.requires_grad])
            log.info("OT weight %.4g from a gradient share of %s (norms: %s)", calib["weight"],
                     distiller.cfg.ot.gradient_share, calib)  # fmt: skip
            extra_common["distill_config"] = distiller.cfg.to_dict()
            terms = wrapped(batch)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(step_module.parameters(), cfg.grad_clip)
        optimizer.step()
        schedule.step()
        pairs_since += cfg.batch_size * ctx.world
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach())
        if bar is not None:
            bar.update(1)
        done = step + 1
        if ctx.is_main and (done % cfg.ckpt_every == 0 or done == cfg.steps):
            _save_state(last_path, step_module, model_cfg, optimizer, schedule, done, extra_common)
        if done % cfg.log_every == 0 or done == cfg.steps:
            n = cfg.log_every if done % cfg.log_every == 0 else done % cfg.log_every
            means = {k: v / n for k, v in sums.items()}
            now = time.perf_counter()
            means["pairs_per_s"] = pairs_since / max(now - t_last, 1e-9)
            means["lr"] = optimizer.param_groups[-1]["lr"]
            t_last, pairs_since, sums = now, 0, {}
            if ctx.is_main:
                log.info("step %d %s", done, " ".join(f"{k}={v:.4g}" for k, v in means.items()))
                if writer is not None:
                    for k, v in means.items():  # "_name": a monitored quantity, not a loss term
                        group = "train" if k.startswith("_") or k in ("pairs_per_s", "lr") else "loss"
                        writer.add_scalar(f"{group}/{k.lstrip('_')}", v, done)
                if on_log is not None:
                    on_log(done, means)
    final = out_dir / FINAL_CHECKPOINT
    if ctx.is_main:
        seconds = time.perf_counter() - t_start
        trained_pairs = (cfg.steps - start_step) * cfg.batch_size * ctx.world
        timing = {"train_seconds": seconds, "pairs_per_s": trained_pairs / max(seconds, 1e-9)}
        extra_final = {**extra_common, **timing, "distiller": _distiller_state(distiller), "step": cfg.steps}
        save_checkpoint(final, model, model_cfg, extra_final)
    if bar is not None:
        bar.close()
    if writer is not None:
        writer.close()
    if ctx.world > 1:
        import torch.distributed as dist

        dist.barrier()
    return final


def _trains(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p.rstrip(".") + ".") for p in prefixes)


def freeze_except(model: nn.Module, prefixes: tuple[str, ...]) -> None:
    """Only parameters under ``prefixes`` train (all when empty); a prefix that names nothing is an error."""
    if not prefixes:
        return
    names = [name for name, _ in model.named_parameters()]
    if unknown := [p for p in prefixes if not any(_trains(n, (p,)) for n in names)]:
        raise ConfigError(f"trainable {unknown} names no parameter of the model (e.g. {names[0]!r}, 'head.size')")
    for name, param in model.named_parameters():
        param.requires_grad_(_trains(name, prefixes))


def keep_frozen_in_eval(model: nn.Module, prefixes: tuple[str, ...]) -> None:
    """Modules without a trainable parameter run in eval mode: frozen batch norms keep their statistics."""
    if not prefixes:
        return
    for name, module in model.named_modules():
        own = [f"{name}.{p}" if name else p for p, _ in module.named_parameters()]
        if not any(_trains(n, prefixes) for n in own):
            module.eval()


def _distiller_state(distiller: Distiller) -> dict[str, Tensor]:
    return {k: v.detach().cpu() for k, v in distiller.state_dict().items()}


def _save_state(
    path: Path,
    step_module: TrainStep,
    model_cfg: ModelConfig,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LambdaLR,
    step: int,
    extra: dict[str, Any],
) -> None:
    state = {
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "torch_rng": torch.get_rng_state(),
    }
    save_checkpoint(
        path,
        step_module.model,
        model_cfg,
        {**extra, "distiller": _distiller_state(step_module.distiller), "step": step, "train_state": state},
    )


def _restore_ot_weight(path: Path, distiller: Distiller) -> None:
    """A resumed run keeps the OT weight its first batch calibrated (``ot.gradient_share``), not the placeholder."""
    import dataclasses

    ot = distiller.cfg.ot
    if not (ot.enabled and ot.gradient_share):
        return
    saved = load_checkpoint(path).get("distill_config", {}).get("ot", {})
    if saved.get("gradient_share") == ot.gradient_share and "weight" in saved:
        distiller.cfg = dataclasses.replace(distiller.cfg, ot=dataclasses.replace(ot, weight=float(saved["weight"])))


def _load_init_weights(path: Path, model: nn.Module, model_cfg: ModelConfig, kind: str) -> None:
    """Fine-tuning: the network starts from ``path``'s weights; it must hold the same kind and model config."""
    payload = load_checkpoint(path)
    if payload["kind"] != kind:
        raise CheckpointError(f"--init {path} holds a {payload['kind']}, this run trains a {kind}")
    if "ensemble" in payload:
        raise CheckpointError(f"--init {path} is an ensemble of students; start from one of its members")
    saved, wanted = payload.get("model_config", {}), model_cfg.to_dict()
    if saved != wanted:
        diff = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
        raise CheckpointError(f"--init {path}: its model config differs from this run's in {diff}")
    try:
        model.load_state_dict(payload["model"], strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"--init {path}: {exc}") from exc
    log.info("initialised the %s from %s", kind, path)


def _restore(
    path: Path,
    step_module: TrainStep,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LambdaLR,
    kind: str,
    cfg: TrainConfig,
) -> int:
    payload = load_checkpoint(path)
    if payload["kind"] != kind:
        raise CheckpointError(f"cannot resume a {kind} run from {path}: it holds a {payload['kind']}")
    if "train_state" not in payload:
        raise CheckpointError(f"{path} has no training state (optimizer, schedule); it is not a resumable checkpoint")
    saved = payload.get("train_config", {})
    for key in ("model", "distill", "batch_size", "seed", "steps"):
        if saved.get(key) != getattr(cfg, key):
            raise CheckpointError(f"cannot resume from {path}: {key} was {saved.get(key)!r}, now {getattr(cfg, key)!r}")
    try:
        step_module.model.load_state_dict(payload["model"], strict=True)
        step_module.distiller.load_state_dict(payload["distiller"], strict=True)
        optimizer.load_state_dict(payload["train_state"]["optimizer"])
        schedule.load_state_dict(payload["train_state"]["schedule"])
    except (RuntimeError, KeyError, ValueError) as exc:
        raise CheckpointError(f"cannot resume from {path}: {exc}") from exc
    torch.set_rng_state(payload["train_state"]["torch_rng"])
    return int(payload["step"])
