"""Parsing a helm autodo queue.yaml: columns, data, aliases, and per-entry errors."""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helmq.domain.model import Recurrence, Status
from helmq.errors import QueueImportError
from helmq.grammar.queue_yaml import QueueRecord, parse_queue

MIXED = """\
- id: fix-login
  title: Fix the login redirect
  description: Users land on /home instead of where they were.
  priority: p1
  status: todo
  tier: claude_session
  type: bug
  risk: low
  scope: [auth]
  auto_start: true
  source: todo_md
  fingerprint: abc123
  max_minutes: 30
  pause_policy: idle
  effort: S
  project: app
  source_file: TODO.md
  recurrence: null
  last_completed: null
  owner: ann
- id: no-title
  priority: 2
- id: weekly-deps
  title: Update dependencies
  priority: low
  status: completed
  recurrence: weekly
  last_completed: 2026-11-20T08:00:00Z
- title: no id at all
- id: odd
  title: Weird status
  status: someday
- id: fix-login
  title: Same id again
- just a string
- id: 42
  title: Numeric id
  priority: 3
  status: blocked
"""


def write(tmp_path: Path, text: str, name: str = "queue.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def only(tmp_path: Path, entry: str) -> QueueRecord:
    parsed = parse_queue(write(tmp_path, entry))
    assert parsed.errors == []
    (record,) = parsed.records
    return record


def test_good_entries_are_returned_and_bad_ones_reported(tmp_path: Path) -> None:
    path = write(tmp_path, MIXED)
    parsed = parse_queue(path)
    assert [r.item_key for r in parsed.records] == ["fix-login", "weekly-deps", "42"]
    assert parsed.errors == [
        f"{path}: entry 1: id 'no-title': title must be a non-empty string, got None",
        f"{path}: entry 3: id must be a non-empty string or a whole number, got None",
        (
            f"{path}: entry 4: id 'odd': unknown status 'someday' (expected one of: blocked, "
            "cancelled, classifying, closed, completed, done, executing, failed, gone, "
            "in_progress, needs_work, new, open, pending, queued, rejected, reviewing, running, "
            "todo, waiting, wontfix)"
        ),
        (
            f"{path}: entry 5: id 'fix-login': duplicate id "
            "(item key 'fix-login' is already used by entry 0)"
        ),
        f"{path}: entry 6: expected a mapping with at least id and title, got str",
    ]


def test_columns_and_data_are_split(tmp_path: Path) -> None:
    first = parse_queue(write(tmp_path, MIXED)).records[0]
    assert first == QueueRecord(
        item_key="fix-login",
        title="Fix the login redirect",
        priority=1,
        status=Status.PENDING,
        source_file="TODO.md",
        recurrence=None,
        last_completed=None,
        fingerprint="abc123",
        data={
            "title": "Fix the login redirect",
            "description": "Users land on /home instead of where they were.",
            "tier": "claude_session",
            "type": "bug",
            "risk": "low",
            "scope": ["auth"],
            "auto_start": True,
            "source": "todo_md",
            "fingerprint": "abc123",
            "max_minutes": 30,
            "pause_policy": "idle",
            "effort": "S",
            "project": "app",
            "owner": "ann",
        },
    )


def test_recurrence_last_completed_and_numeric_id(tmp_path: Path) -> None:
    records = parse_queue(write(tmp_path, MIXED)).records
    weekly, numeric = records[1], records[2]
    assert weekly.status is Status.DONE
    assert weekly.priority == 3
    assert weekly.recurrence is Recurrence.WEEKLY
    assert weekly.last_completed == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert numeric.item_key == "42"
    assert numeric.status is Status.WAITING
    assert numeric.fingerprint == hashlib.sha256(b"42").hexdigest()


def test_todos_mapping_form(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        version: 3
        todos:
          - {id: a, title: A}
          - {id: b, title: B, status: wontfix}
        """,
    )
    parsed = parse_queue(path)
    assert parsed.errors == []
    assert [(r.item_key, r.status) for r in parsed.records] == [
        ("a", Status.PENDING),
        ("b", Status.REJECTED),
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("todo", Status.PENDING),
        ("open", Status.PENDING),
        ("new", Status.PENDING),
        ("in_progress", Status.PENDING),
        ("in-progress", Status.PENDING),
        ("running", Status.PENDING),
        ("completed", Status.DONE),
        ("closed", Status.DONE),
        ("Done", Status.DONE),
        ("blocked", Status.WAITING),
        ("cancelled", Status.REJECTED),
        ("wontfix", Status.REJECTED),
        ("failed", Status.FAILED),
        ("needs_work", Status.NEEDS_WORK),
        ("gone", Status.GONE),
        ("waiting", Status.WAITING),
        ("executing", Status.PENDING),
        ("queued", Status.PENDING),
        ("null", Status.PENDING),
    ],
)
def test_status_aliases(tmp_path: Path, status: str, expected: Status) -> None:
    record = only(tmp_path, f"- {{id: a, title: A, status: {status}}}\n")
    assert record.status is expected


def test_missing_status_is_pending(tmp_path: Path) -> None:
    assert only(tmp_path, "- {id: a, title: A}\n").status is Status.PENDING


@pytest.mark.parametrize(
    ("priority", "expected"),
    [
        ("0", 0),
        ("2", 2),
        ('"2"', 2),
        ("p0", 0),
        ("P1", 1),
        ("p3", 3),
        ("high", 1),
        ("HIGH", 1),
        ("medium", 2),
        ("low", 3),
        ("null", None),
    ],
)
def test_priority_mapping(tmp_path: Path, priority: str, expected: int | None) -> None:
    assert only(tmp_path, f"- {{id: a, title: A, priority: {priority}}}\n").priority == expected


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("priority", "urgent", "unknown priority 'urgent'"),
        ("priority", "-1", "unknown priority -1"),
        ("priority", "true", "unknown priority True"),
        ("recurrence", "hourly", "unknown recurrence 'hourly' (expected daily, weekly or null)"),
        ("last_completed", "last tuesday", "'last tuesday' is not an ISO 8601 date and time"),
        ("source_file", "[a, b]", "source_file must be a path string"),
        ("fingerprint", '""', "fingerprint must be a non-empty string"),
        ("title", '"  "', "title must be a non-empty string"),
        ("status", "3", "unknown status 3"),
    ],
)
def test_bad_field_skips_only_that_entry(
    tmp_path: Path, field: str, value: str, reason: str
) -> None:
    text = f"- {{id: good, title: Good}}\n- {{id: bad, title: Bad, {field}: {value}}}\n"
    path = write(tmp_path, text)
    parsed = parse_queue(path)
    assert [r.item_key for r in parsed.records] == ["good"]
    (error,) = parsed.errors
    assert error.startswith(f"{path}: entry 1: id 'bad': ")
    assert reason in error


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20T08:00:00Z", datetime(2026, 11, 20, 8, tzinfo=UTC)),
        ("'2026-11-20T08:00:00Z'", datetime(2026, 11, 20, 8, tzinfo=UTC)),
        ("'2026-11-20T10:00:00+02:00'", datetime(2026, 11, 20, 8, tzinfo=UTC)),
        ("2026-11-20 08:00:00", datetime(2026, 11, 20, 8, tzinfo=UTC)),
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
    ],
)
def test_last_completed_forms_are_aware(tmp_path: Path, value: str, expected: datetime) -> None:
    record = only(tmp_path, f"- {{id: a, title: A, recurrence: Daily, last_completed: {value}}}\n")
    assert record.last_completed == expected
    assert record.last_completed is not None and record.last_completed.utcoffset() is not None
    assert record.recurrence is Recurrence.DAILY


def test_unsafe_id_gets_a_stable_branch_safe_key(tmp_path: Path) -> None:
    text = "- {id: 'Fix: the ~login~ bug?', title: A}\n- {id: 'Fix the login bug', title: B}\n"
    first = parse_queue(write(tmp_path, text))
    again = parse_queue(write(tmp_path, text))
    assert first.errors == []
    keys = [r.item_key for r in first.records]
    assert keys == [r.item_key for r in again.records]
    digest = hashlib.sha256(b"Fix: the ~login~ bug?").hexdigest()[:8]
    assert keys[0] == f"Fix-the-login-bug-{digest}"
    assert keys[1].startswith("Fix-the-login-bug-") and keys[1] != keys[0]
    for key in keys:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", key) and ".." not in key
    # the original id is kept so nothing is lost
    assert first.records[0].data["id"] == "Fix: the ~login~ bug?"
    assert first.records[0].fingerprint == hashlib.sha256(keys[0].encode()).hexdigest()


@pytest.mark.parametrize("raw", ["a..b", ".hidden", "x.lock", "-flag", "dir/name", "???"])
def test_other_git_unsafe_ids_are_slugified(tmp_path: Path, raw: str) -> None:
    record = only(tmp_path, f"- {{id: {json.dumps(raw)}, title: A}}\n")
    assert record.item_key != raw
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", record.item_key)
    assert ".." not in record.item_key and not record.item_key.endswith((".", ".lock"))


def test_safe_ids_are_kept_verbatim(tmp_path: Path) -> None:
    record = only(tmp_path, "- {id: Fix_login-2.v1, title: A}\n")
    assert record.item_key == "Fix_login-2.v1"
    assert "id" not in record.data


def test_dates_in_data_become_iso_strings(tmp_path: Path) -> None:
    record = only(tmp_path, "- {id: a, title: A, due: 2026-12-01, meta: {seen: 2026-11-01}}\n")
    assert record.data["due"] == "2026-12-01"
    assert record.data["meta"] == {"seen": "2026-11-01"}
    json.dumps(record.data)


def test_empty_list_is_an_empty_queue(tmp_path: Path) -> None:
    parsed = parse_queue(write(tmp_path, "[]\n"))
    assert (parsed.records, parsed.errors) == ([], [])


def test_invalid_yaml_raises_with_line(tmp_path: Path) -> None:
    path = write(tmp_path, "- id: a\n  title: A\n- id: [b\n  title: B\n")
    with pytest.raises(QueueImportError, match="invalid YAML") as caught:
        parse_queue(path)
    assert caught.value.file == str(path)
    assert caught.value.line == 4
    assert str(caught.value).startswith(f"{path}:4: ")


@pytest.mark.parametrize("text", ["id: a\ntitle: A\n", "todos: nope\n", "42\n", ""])
def test_top_level_must_be_a_list_or_todos(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(QueueImportError, match="expected a list of entries or a mapping with"):
        parse_queue(path)


def test_unreadable_file_raises(tmp_path: Path) -> None:
    with pytest.raises(QueueImportError, match="cannot read queue file") as caught:
        parse_queue(tmp_path / "missing.yaml")
    assert caught.value.file == str(tmp_path / "missing.yaml")


def test_an_id_too_long_for_a_branch_and_the_key_column_is_shortened(tmp_path: Path) -> None:
    # 250 safe characters: a valid git name, but over the 200 the worktree and the
    # item_key column allow, so it is slugified to a short stable key like any unsafe id
    raw = "a" * 250
    record = only(tmp_path, f"- {{id: {raw}, title: A}}\n")
    assert len(record.item_key) <= 200
    assert record.item_key == only(tmp_path, f"- {{id: {raw}, title: A}}\n").item_key
    assert record.data["id"] == raw
