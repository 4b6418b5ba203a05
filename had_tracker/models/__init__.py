"""had_tracker.models."""
