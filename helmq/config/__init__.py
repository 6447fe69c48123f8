"""Configuration: the one settings object (the environment) and jobs.yaml."""
