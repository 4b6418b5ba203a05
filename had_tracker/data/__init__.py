"""had_tracker.data."""
