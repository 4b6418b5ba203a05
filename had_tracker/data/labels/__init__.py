"""Semi-automatic labels of real recordings (seeded event blob), label files with provenance, contact sheets."""
