"""had_tracker: event-camera single-object tracking with Hierarchical Asymmetric Distillation (HAD).

The core (events, sync, models, distill, tracking, data, training, evaluation, ros_io) is plain
Python + numpy/torch and never imports rclpy; only ``had_tracker.nodes`` does.
"""

__version__ = "0.1.0"
