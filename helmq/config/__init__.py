"""Configuration: the one settings object (the environment), jobs.yaml, the last-active file."""
