"""Usage thresholds of organisations, repositories and business units, and their alerts."""
