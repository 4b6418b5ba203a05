"""had_tracker.tracking."""
