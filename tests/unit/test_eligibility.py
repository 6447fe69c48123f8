"""Eligibility rules: data filters, user idleness and recurrence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from helmq.domain.eligibility import matches_filter, recurrence_due, user_idle
from helmq.domain.model import Recurrence

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

RISK_LOW_OR_UNSET = {"risk": ["low", None]}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"risk": "low"}, True),
        ({}, True),
        ({"risk": None}, True),
        ({"risk": "medium"}, False),
        ({"risk": "LOW"}, False),
        ({"risk": ["low"]}, False),
    ],
)
def test_list_means_one_of_and_null_means_missing_or_null(data: dict, expected: bool) -> None:
    assert matches_filter(data, RISK_LOW_OR_UNSET) is expected


def test_scalar_null_matches_only_missing_or_null() -> None:
    assert matches_filter({}, {"owner": None})
    assert matches_filter({"owner": None}, {"owner": None})
    assert not matches_filter({"owner": "ann"}, {"owner": None})
    # falsy values are values, not "missing"
    assert not matches_filter({"owner": ""}, {"owner": None})
    assert not matches_filter({"owner": 0}, {"owner": None})
    assert not matches_filter({"owner": False}, {"owner": None})


def test_scalar_must_be_present_and_equal() -> None:
    assert matches_filter({"tier": "script"}, {"tier": "script"})
    assert not matches_filter({}, {"tier": "script"})
    assert not matches_filter({"tier": None}, {"tier": "script"})
    assert matches_filter({"max_minutes": 30.0}, {"max_minutes": 30})


@pytest.mark.parametrize(
    ("actual", "wanted", "expected"),
    [
        (True, True, True),
        (1, True, False),
        (True, 1, False),
        (False, 0, False),
        (0, False, False),
        (1, 1, True),
        (False, [False, None], True),
        (0, [False, None], False),
    ],
)
def test_bools_are_not_ints(actual: object, wanted: object, expected: bool) -> None:
    assert matches_filter({"k": actual}, {"k": wanted}) is expected


def test_every_key_must_match() -> None:
    data_filter = {"risk": ["low", None], "auto_start": True}
    assert matches_filter({"risk": "low", "auto_start": True, "other": 1}, data_filter)
    assert not matches_filter({"risk": "low"}, data_filter)
    assert not matches_filter({"risk": "high", "auto_start": True}, data_filter)
    assert matches_filter({"anything": 1}, {})


def test_tuple_also_means_one_of() -> None:
    assert matches_filter({"risk": "low"}, {"risk": ("low", "medium")})
    assert not matches_filter({"risk": "high"}, {"risk": ("low", "medium")})


def test_never_active_is_idle() -> None:
    assert user_idle(None, NOW, 15)


@pytest.mark.parametrize(
    ("ago", "expected"),
    [
        (timedelta(minutes=15), True),
        (timedelta(minutes=15) - timedelta(seconds=1), False),
        (timedelta(hours=3), True),
        (timedelta(0), False),
        (-timedelta(minutes=30), False),
    ],
)
def test_idle_from_exactly_the_threshold(ago: timedelta, expected: bool) -> None:
    assert user_idle(NOW - ago, NOW, 15) is expected


def test_fractional_minutes() -> None:
    assert user_idle(NOW - timedelta(seconds=30), NOW, 0.5)
    assert not user_idle(NOW - timedelta(seconds=29), NOW, 0.5)


def test_zero_minutes_never_waits_even_for_an_unreadable_file() -> None:
    forever = datetime.max.replace(tzinfo=UTC)
    assert user_idle(forever, NOW, 0)
    assert not user_idle(forever, NOW, 1)


def test_offsets_and_naive_utc_compare_as_instants() -> None:
    plus_two = timezone(timedelta(hours=2))
    # 13:50+02:00 is 11:50Z: ten minutes ago
    assert not user_idle(datetime(2026, 11, 26, 13, 50, tzinfo=plus_two), NOW, 15)
    assert user_idle(datetime(2026, 11, 26, 13, 40, tzinfo=plus_two), NOW, 15)
    assert user_idle(datetime(2026, 11, 26, 11, 45), NOW, 15)
    assert not user_idle(datetime(2026, 11, 26, 11, 50), NOW, 15)


def test_not_recurring_or_never_completed_is_due() -> None:
    assert recurrence_due(None, NOW, NOW)
    assert recurrence_due("daily", None, NOW)
    assert recurrence_due(None, None, NOW)


@pytest.mark.parametrize(
    ("recurrence", "ago", "expected"),
    [
        ("daily", timedelta(days=1), True),
        ("daily", timedelta(days=1) - timedelta(seconds=1), False),
        ("daily", timedelta(hours=1), False),
        ("weekly", timedelta(days=7), True),
        ("weekly", timedelta(days=7) - timedelta(seconds=1), False),
        ("weekly", timedelta(days=2), False),
        (Recurrence.WEEKLY, timedelta(days=8), True),
    ],
)
def test_due_once_the_interval_has_passed(recurrence: str, ago: timedelta, expected: bool) -> None:
    assert recurrence_due(recurrence, NOW - ago, NOW) is expected


def test_unknown_recurrence_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        recurrence_due("hourly", NOW, NOW)
