"""Control services: a discovery pass, the dispatch tick, reconciling lost work."""
