"""Helpers shared by test files of several tiers (plain functions, values and fixtures)."""
