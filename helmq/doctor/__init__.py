"""The doctor: stuck items, failure classes, breakers, stale scans, budget."""
