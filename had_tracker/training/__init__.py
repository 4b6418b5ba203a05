"""had_tracker.training."""
