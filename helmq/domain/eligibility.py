"""When a pending item may run: its data matches the job's filter, the user is idle, it is due."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from helmq.domain.model import Recurrence

_MISSING = object()


def matches_filter(data: Mapping[str, Any], data_filter: Mapping[str, Any]) -> bool:
    """True when every key of `data_filter` matches `data` (list = one of, None = missing/null)."""
    for key, wanted in data_filter.items():
        options = wanted if isinstance(wanted, list | tuple | set | frozenset) else (wanted,)
        actual = data.get(key, _MISSING)
        if not any(_same(actual, option) for option in options):
            return False
    return True


def _same(actual: Any, option: Any) -> bool:
    if option is None:
        return actual is None or actual is _MISSING
    # bool is an int subclass in Python, but `auto_start: true` must not match a priority of 1
    if isinstance(actual, bool) != isinstance(option, bool):
        return False
    return actual is not _MISSING and actual == option


def _aware(moment: datetime) -> datetime:
    # helmq stores UTC; a naive datetime here is UTC that lost its tzinfo on the way
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def user_idle(last_active: datetime | None, now: datetime, idle_minutes: float) -> bool:
    """True when the user has been idle at least `idle_minutes` (None = never active = idle)."""
    # 0 means the job does not wait for the user, not even when last_active is unreadable
    if idle_minutes <= 0 or last_active is None:
        return True
    return _aware(now) - _aware(last_active) >= timedelta(minutes=idle_minutes)


def recurrence_due(recurrence: str | None, last_completed: datetime | None, now: datetime) -> bool:
    """True when a recurring item's interval has passed since it was last completed."""
    if recurrence is None or last_completed is None:
        return True
    interval = timedelta(seconds=Recurrence(recurrence).seconds)
    return _aware(now) - _aware(last_completed) >= interval
