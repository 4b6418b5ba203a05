"""had_tracker.evaluation."""
