"""The last-active file: every accepted form, and fail-safe handling of broken files."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from helmq.repos.last_active import ACTIVE_FOREVER, LastActive, read_last_active, touch_last_active

NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "last_active.json"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_means_idle(tmp_path: Path) -> None:
    assert read_last_active(tmp_path / "absent.json") == LastActive(None, None)


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-26T12:00:00Z",
        "2026-11-26T14:00:00+02:00",
        "2026-11-26T12:00:00",
        "2026-11-26 12:00:00+00:00",
        1_795_694_400,
        1_795_694_400.0,
    ],
)
def test_iso_with_z_offset_or_naive_and_epoch_seconds(tmp_path: Path, value: object) -> None:
    result = read_last_active(write(tmp_path, json.dumps({"last_active": value})))
    assert result.problem is None
    assert result.at == NOON
    assert result.at is not None and result.at.utcoffset() is not None


def test_epoch_keeps_fractions(tmp_path: Path) -> None:
    result = read_last_active(write(tmp_path, '{"last_active": 1795694400.5}'))
    assert result.at == NOON + timedelta(milliseconds=500)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{not json", "invalid JSON at line 1"),
        ("", "invalid JSON at line 1"),
        ('["2026-11-26T12:00:00Z"]', 'expected {"last_active"'),
        ('{"active": "2026-11-26T12:00:00Z"}', 'expected {"last_active"'),
        ('{"last_active": "yesterday"}', "'yesterday' is not an ISO 8601 date and time"),
        ('{"last_active": true}', "must be an ISO 8601 string or epoch seconds, got True"),
        ('{"last_active": null}', "must be an ISO 8601 string or epoch seconds, got None"),
        ('{"last_active": 1e300}', "is not a valid epoch time"),
        ('{"last_active": NaN}', "is not a valid epoch time"),
    ],
)
def test_broken_file_means_active_and_is_reported(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    result = read_last_active(path)
    assert result.at == ACTIVE_FOREVER == datetime.max.replace(tzinfo=UTC)
    assert result.problem is not None
    assert result.problem.startswith(f"{path}: ")
    assert fragment in result.problem
    assert "treating the user as active" in result.problem


def test_non_utf8_file_means_active(tmp_path: Path) -> None:
    path = tmp_path / "last_active.json"
    path.write_bytes(b'{"last_active": "\xff"}')
    result = read_last_active(path)
    assert result.at == ACTIVE_FOREVER
    assert result.problem is not None and "not UTF-8" in result.problem


def test_unreadable_path_means_active(tmp_path: Path) -> None:
    # a directory where the file should be cannot be read on any platform or as root
    result = read_last_active(tmp_path)
    assert result.at == ACTIVE_FOREVER
    assert result.problem is not None and "cannot read" in result.problem


def test_touch_writes_iso_z_and_creates_parents(tmp_path: Path) -> None:
    path = tmp_path / "coord" / "nested" / "last_active.json"
    touch_last_active(path, datetime(2026, 11, 26, 14, 0, tzinfo=timezone(timedelta(hours=2))))
    assert json.loads(path.read_text(encoding="utf-8")) == {"last_active": "2026-11-26T12:00:00Z"}
    assert read_last_active(path) == LastActive(NOON, None)


def test_touch_replaces_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = write(tmp_path, "garbage")
    touch_last_active(path, NOON + timedelta(microseconds=250))
    assert read_last_active(path) == LastActive(NOON + timedelta(microseconds=250), None)
    assert os.listdir(tmp_path) == ["last_active.json"]


def test_touch_treats_naive_now_as_utc(tmp_path: Path) -> None:
    path = tmp_path / "last_active.json"
    touch_last_active(path, datetime(2026, 11, 26, 12, 0))
    assert json.loads(path.read_text(encoding="utf-8"))["last_active"] == "2026-11-26T12:00:00Z"
