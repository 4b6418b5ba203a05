"""had_tracker.nodes."""
