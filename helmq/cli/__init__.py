"""The `helmq` command: argument parser, verbs, and the run-once / up drivers."""
