"""Persistence: tables, migrations and the repository (every query has a name)."""
