"""The budget's clock: the UTC midnight a refused call may be retried at."""

from __future__ import annotations

from datetime import UTC, datetime

from helmq.llm.budget import next_utc_midnight


def test_next_utc_midnight():
    assert next_utc_midnight(datetime(2030, 1, 1, 23, 59, tzinfo=UTC)) == \
        datetime(2030, 1, 2, tzinfo=UTC)
    assert next_utc_midnight(datetime(2030, 12, 31, 0, 0, tzinfo=UTC)) == \
        datetime(2031, 1, 1, tzinfo=UTC)
