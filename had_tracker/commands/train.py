"""``had-tracker train teacher|student|ladder``: train the RGB+event teacher, distil a student, run the ablation ladder."""

from __future__ import annotations

import argparse

DEFAULT_DATA = "synthetic:preset=mixed,sequences=16,seed=0"
DATA_HELP = (
    "training data: synthetic:preset=P,sequences=N,seed=S[,jobs=J] (generated now) | toy:sequences=N,seed=S | "
    "bag:PATH[,PATH] (recorded bags with ground truth) | FORMAT:root=DIR[,split=S] (fe108, visevent, coesot, "
    "synthetic folders) | a dataset folder | cache:DIR, sequences saved earlier by --save-data DIR or by "
    "`train ladder` (OUT/data/train, OUT/data/test): memory-mapped, nothing regenerated"
)


def _common(parser: argparse.ArgumentParser, default_config: str) -> None:
    parser.add_argument("--config", default=default_config, help=f"train preset or YAML (default {default_config})")
    parser.add_argument("--model", default=None, help="model preset or YAML (overrides the config's)")
    parser.add_argument("--data", default=DEFAULT_DATA, help=f"{DATA_HELP} (default {DEFAULT_DATA})")
    parser.add_argument(
        "--save-data",
        metavar="DIR",
        default=None,
        help="also save the loaded sequences to DIR as a cache; later runs read them with --data cache:DIR",
    )
    parser.add_argument("--out", required=True, help="output folder (last.pt for --resume, final.pt, tb/)")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (overrides the config)")
    parser.add_argument("--batch-size", type=int, default=None, help="pairs per step and process")
    parser.add_argument("--lr", type=float, default=None, help="base learning rate")
    parser.add_argument("--seed", type=int, default=None, help="sampling and initialisation seed")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (0 = torch default)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt (bit-exact under fixed seeds)")
    parser.add_argument(
        "--init",
        metavar="CKPT",
        default=None,
        help="start from this checkpoint's weights (fine-tuning; same kind and model config), e.g. the shipped "
        "student had_tracker/resources/weights/student_cpu_tiny.pt; optimiser and schedule start fresh",
    )
    parser.add_argument(
        "--trainable",
        metavar="PREFIX[,PREFIX]",
        default=None,
        help="train only the parameters under these name prefixes (e.g. head.size, with --init: a new size "
        "branch on a fixed network); the rest is frozen, its batch norms in eval mode",
    )
    parser.add_argument("--no-progress", "--quiet", action="store_true", help="no progress bars (data, training)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` command group."""
    parser = subparsers.add_parser("train", help="train the teacher, distil students, run the ablation ladder")
    sub = parser.add_subparsers(dest="train_command", metavar="SUBCOMMAND", required=True)

    teacher = sub.add_parser("teacher", help="train the RGB+event teacher (task loss)")
    _common(teacher, "cpu-tiny-teacher")
    teacher.set_defaults(func=_train, kind="teacher")

    student = sub.add_parser("student", help="train the event-only student with a distillation preset")
    _common(student, "cpu-tiny-student")
    student.add_argument("--teacher", default=None, help="teacher checkpoint (needed by every preset but 'none')")
    student.add_argument(
        "--distill", default=None, help="none | response | hdetrack | hdetrack+ot | hdetrack+temporal | had | YAML"
    )
    student.set_defaults(func=_train, kind="student")

    ensemble = sub.add_parser(
        "ensemble",
        help="combine trained students (same model config, e.g. one recipe's seeds) into one checkpoint",
        description="Write one checkpoint holding several students whose score, size and offset maps are averaged "
        "(had_tracker/models/ensemble.py); the tracker, eval and export take it like a single student, at one "
        "forward per member.",
    )
    ensemble.add_argument("checkpoints", nargs="+", help="student checkpoints (2 to 16, one model config)")
    ensemble.add_argument("--out", required=True, help="the ensemble checkpoint to write")
    ensemble.add_argument("--note", default="", help="free text stored in the checkpoint (how it was chosen)")
    ensemble.set_defaults(func=_ensemble)

    ladder = sub.add_parser("ladder", help="teacher + the six-rung student ablation ladder, evaluated on held-out data")
    ladder.add_argument(
        "--out", required=True, help="output folder (runs already finished there are reused; results.md/json)"
    )
    default_train = "synthetic:preset=mixed,sequences=24,seed=0"
    default_val = "synthetic:preset=mixed,sequences=16,seed=20000"
    default_test = "synthetic:preset=mixed,sequences=64,seed=10000"
    ladder.add_argument(
        "--train-data",
        default=default_train,
        help=f"training data, as --data of train teacher/student; cached in OUT/data/train (default {default_train})",
    )
    ladder.add_argument(
        "--val-data",
        default=default_val,
        help=f"validation data: every choice (shipped model, tracker thresholds) is made on it; cached in "
        f"OUT/data/val (default {default_val})",
    )
    ladder.add_argument(
        "--test-data",
        default=default_test,
        help=f"test data, only reported (keep its seeds apart from training and validation; join several sources "
        f"with ';', e.g. shapes and photoreal presets); >= --min-test-sequences; cached in OUT/data/test "
        f"(default {default_test})",
    )
    ladder.add_argument(
        "--min-test-sequences", type=int, default=64, help="refuse a smaller test set (default %(default)s)"
    )
    ladder.add_argument(
        "--teacher-config", default="cpu-tiny-teacher", help="train preset or YAML of the teacher (default %(default)s)"
    )
    ladder.add_argument(
        "--student-config",
        default="cpu-tiny-student",
        help="train preset or YAML of every student rung (default %(default)s)",
    )
    ladder.add_argument("--rungs", default=None, help="comma-separated distill presets (default: the full ladder)")
    ladder.add_argument(
        "--teacher-steps", type=int, default=None, help="teacher optimizer steps (default: the teacher config's)"
    )
    ladder.add_argument(
        "--student-steps", type=int, default=None, help="optimizer steps of each student (default: the config's)"
    )
    ladder.add_argument("--jobs", type=int, default=2, help="students trained in parallel (one thread each)")
    ladder.add_argument(
        "--threads", type=int, default=1, help="threads for the teacher run (1 is fastest on a busy CPU)"
    )
    ladder.add_argument(
        "--seeds", default="0,1,2", help="training seeds of every student rung, comma-separated (default %(default)s)"
    )
    ladder.add_argument(
        "--ship", default=None, help="also copy the student chosen on validation (best val SR) to this path"
    )
    ladder.add_argument("--quiet", action="store_true", help="no progress bars (data generation, evaluation)")
    ladder.set_defaults(func=_ladder)


def _train(args: argparse.Namespace) -> int:
    import logging

    from had_tracker.training.config import TrainConfig
    from had_tracker.training.data import load_sequences, save_sequence_cache
    from had_tracker.training.loop import check_training_inputs, train

    overrides = {
        "model": args.model,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "threads": args.threads,
        "init": args.init,
        "trainable": tuple(p.strip() for p in args.trainable.split(",") if p.strip()) if args.trainable else None,
    }
    if args.kind == "student":
        overrides["distill"] = args.distill
    cfg = TrainConfig.from_yaml(args.config, **overrides)
    check_training_inputs(cfg, args.kind, getattr(args, "teacher", None))  # seconds, before minutes of data
    sequences = load_sequences(args.data, progress=not args.no_progress)
    if args.save_data:
        saved = save_sequence_cache(sequences, args.save_data)
        logging.getLogger(__name__).info("saved the training sequences to %s (reuse: --data cache:%s)", saved, saved)
    logging.getLogger(__name__).info("training a %s on %d sequences from %s", args.kind, len(sequences), args.data)
    final = train(
        cfg,
        args.kind,
        sequences,
        args.out,
        teacher_ckpt=getattr(args, "teacher", None),
        resume=args.resume,
        device=args.device,
        progress=not args.no_progress,
    )
    print(final)
    return 0


def _ensemble(args: argparse.Namespace) -> int:
    from had_tracker.models.ensemble import save_ensemble

    print(save_ensemble(args.out, args.checkpoints, args.note))
    return 0


def _ladder(args: argparse.Namespace) -> int:
    from had_tracker.training.ladder import LADDER, run_ladder, ship_best

    rungs = tuple(r.strip() for r in args.rungs.split(",")) if args.rungs else LADDER
    seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    table = run_ladder(
        args.out,
        train_data=args.train_data,
        val_data=args.val_data,
        test_data=args.test_data,
        teacher_config=args.teacher_config,
        student_config=args.student_config,
        rungs=rungs,
        teacher_steps=args.teacher_steps,
        student_steps=args.student_steps,
        jobs=args.jobs,
        teacher_threads=args.threads,
        seeds=seeds,
        min_test_sequences=args.min_test_sequences,
        progress=not args.quiet,
    )
    print(table)
    if args.ship:
        best, path = ship_best(args.out, args.ship)
        print(f"shipped the '{best}' student (chosen on validation) to {path}")
    return 0
