"""Benchmarks for helmq's pipeline (run them as scripts, e.g. `python benchmarks/pipeline.py`)."""
