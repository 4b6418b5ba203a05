"""had_tracker.distill."""
