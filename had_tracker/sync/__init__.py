"""had_tracker.sync."""
