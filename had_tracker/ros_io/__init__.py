"""had_tracker.ros_io."""
