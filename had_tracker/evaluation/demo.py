"""``had-tracker demo``: a synthetic bag with fast motion and harsh light, replayed by the shipped student.

Steps (all offline, nothing downloaded):

1. generate a short synthetic RGB+event sequence (``had_tracker.data.synthetic``): fast, abrupt motion,
   a moving background, low light with a bright spot (so the RGB frames are dark, blurred and partly
   blown out while the events still see the edges);
2. write it as a rosbag2 bag of raw sensor streams as the drivers would record them
   (:func:`had_tracker.data.writers.write_bag`: evt3 EventPacket stream on the sensor clock with host
   stamps, rgb8 Images + CameraInfo, had_msgs/GroundTruth on ``/ground_truth``);
3. replay the bag through the same Synchronizer + Tracker the ROS nodes run
   (:func:`had_tracker.evaluation.replay.replay_bag`), with the shipped student and the OpenCV
   baselines (MIL on RGB and on event frames; CSRT/KCF too when opencv-contrib is installed);
4. print the metrics side by side and write the report, plots and annotated frames into ``out_dir``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from had_tracker.errors import CheckpointError

log = logging.getLogger(__name__)

DEMO_WIDTH, DEMO_HEIGHT = 240, 180
DEMO_DURATION_S = 2.0
DEMO_SEED = 7


def demo_config(duration_s: float = DEMO_DURATION_S, width: int = DEMO_WIDTH, height: int = DEMO_HEIGHT) -> Any:
    """The demo's synthetic scene: the ``fast`` preset plus low light and an over-exposed spot.

    ``fast`` = fast, abrupt motion, a moving background and an excursion out of view; the size keeps the
    whole demo within seconds on a laptop CPU.
    """
    from had_tracker.data.synthetic.config import SyntheticConfig

    cfg = SyntheticConfig.from_preset("fast", duration_s=float(duration_s), width=int(width), height=int(height))
    return cfg.with_attributes(low_light=True, over_exposure=True)


def _student_available(model: str | None) -> tuple[bool, str]:
    from had_tracker.models.builder import default_student_checkpoint, load_checkpoint

    path = Path(model) if model else default_student_checkpoint()
    try:
        load_checkpoint(path)
    except CheckpointError as exc:
        return False, str(exc)
    return True, str(path)


def run_demo(
    out_dir: str | Path = "had_tracker_demo",
    seed: int = DEMO_SEED,
    duration_s: float = DEMO_DURATION_S,
    model: str | None = None,
    baselines: tuple[str, ...] = ("mil", "mil-events", "kcf", "csrt"),
    threads: int = 1,
    size: tuple[int, int] = (DEMO_WIDTH, DEMO_HEIGHT),
) -> dict[str, Any]:
    """Run the whole demo; return the replay report (with ``report["demo"]`` timings and the bag path).

    The shipped student is skipped, with a note in the report, only when its checkpoint cannot be loaded; a
    ``model`` the caller names must load (CheckpointError otherwise, before anything is generated).
    """
    import torch

    from had_tracker.data.synthetic.generator import generate_sequence
    from had_tracker.data.writers import write_bag
    from had_tracker.evaluation.baselines import available_baselines, parse_baseline_name
    from had_tracker.evaluation.replay import replay_bag
    from had_tracker.tracking.tracker import TrackerConfig

    if model is not None:  # asked for by name: a bad file is an error, not a silent demo without it
        from had_tracker.models.builder import load_model

        load_model(model, expected_kind="student")
    torch.set_num_threads(max(1, int(threads)))
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bag_path = out_dir / "demo_bag"

    t0 = time.perf_counter()
    recording = generate_sequence(demo_config(duration_s, *size), seed=seed, name=f"demo_{seed}")
    sequence = recording.aligned()
    t_generate = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_bag(recording, bag_path, overwrite=True)
    t_bag = time.perf_counter() - t0

    names: list[str] = []
    notes: list[str] = []
    ok, detail = _student_available(model)
    if ok:
        names.append("student")
    else:
        notes.append(f"The HAD student was NOT run: its checkpoint could not be loaded ({detail}).")
    have = set(available_baselines())
    for name in baselines:
        if parse_baseline_name(name)[0] in have:
            names.append(name)
        else:
            notes.append(f"Baseline {name} skipped: needs opencv-contrib-python-headless.")
    t0 = time.perf_counter()
    report = replay_bag(
        bag_path,
        out_dir,
        tracker_names=names,
        model=model,
        tracker_config=TrackerConfig(num_threads=max(1, int(threads))),
        gt_topic="/ground_truth",  # the frame-rate ground truth (the bag also has /ground_truth_hr)
        title="had-tracker demo: fast motion and harsh light (synthetic bag)",
    )
    t_replay = time.perf_counter() - t0
    report["notes"] = notes + report["notes"]
    report["demo"] = {
        "seed": seed,
        "duration_s": duration_s,
        "frames": len(sequence),
        "events": len(sequence.events),
        "attributes": sequence.attributes,
        "bag": str(bag_path),
        "generate_s": t_generate,
        "write_bag_s": t_bag,
        "replay_s": t_replay,
        "total_s": time.perf_counter() - t_start,
    }
    from had_tracker.evaluation.report import write_report

    write_report(report, out_dir)
    return report
