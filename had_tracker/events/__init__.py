"""had_tracker.events."""
