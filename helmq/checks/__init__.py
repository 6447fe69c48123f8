"""The script tier: deterministic named checks (detector, fixer, scope), registered on import."""

from __future__ import annotations

from helmq.checks import anchors, env_vars, links, noop, ports, ruff
from helmq.checks.registry import (
    Check,
    FixResult,
    Problem,
    all_checks,
    get_check,
    match_check,
    register,
    reports_only,
    targeted,
)

# Registration order is match order: the first check with a keyword in the title wins.
register(links.CHECK)
register(ruff.CHECK)
register(noop.CHECK)
register(anchors.CHECK)
register(ports.CHECK)
register(env_vars.CHECK)

__all__ = [
    "Check",
    "FixResult",
    "Problem",
    "all_checks",
    "get_check",
    "match_check",
    "register",
    "reports_only",
    "targeted",
]
