"""Evaluation: standard tracking metrics, the harness every tracker runs through, bag replay, reports, the demo.

- ``metrics``: success / precision / normalized precision as pytracking, got10k and the OTB toolkit compute them.
- ``harness``: run any ``initialize(sample, box)`` / ``update(sample)`` tracker over aligned samples, log, score.
- ``baselines``: OpenCV MIL (and KCF/CSRT with opencv-contrib) on RGB frames or event frames.
- ``replay``: a rosbag2 bag through the Synchronizer + TrackingSession + Tracker the ROS nodes run.
- ``dataset_eval``: a tracker over a dataset (FE108, VisEvent, COESOT, synthetic) in a process pool.
- ``report``, ``plots``, ``compare``: JSON + Markdown reports, success/precision plots, frame strips, tables.
- ``sequence_bag``: write an aligned sequence as a bag; ``demo``: the one-command demo.
"""
