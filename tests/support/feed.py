"""Shared by the unit and integration tests of `feed` discovery."""

from __future__ import annotations

import pytest

from helmq.discovery.registry import STRATEGIES

wired = pytest.mark.skipif("feed" not in STRATEGIES,
                           reason="the feed strategy is not registered in jobs.yaml yet")
