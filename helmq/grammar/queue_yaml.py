"""Reading a helm autodo queue.yaml into records for work_items (the store does the writing).

Mappings from the autodo vocabulary:
- `id` becomes `item_key`. helmq puts item keys in branch names (`helmq/<item_key>`), so an id
  that is not branch-safe is slugified and suffixed with 8 hex digits of its sha256, which keeps
  the key stable across imports and distinct from other ids; the original id stays in
  `data["id"]`. This is not reported as an error.
- `priority`: a whole number >= 0 as is; `pN`, `PN` or `"N"` -> N; `high` -> 1,
  `medium` -> 2, `low` -> 3.
- `status`: any helmq status, or an autodo alias: `todo`/`open`/`new` -> pending,
  `in_progress`/`running` -> pending (to run again), `completed`/`closed` -> done,
  `blocked` -> waiting, `cancelled`/`wontfix` -> rejected. In-flight statuses (`queued`,
  `classifying`, `executing`, `reviewing`) also import as `pending`: the import carries no
  lease or broker message, so the item must be picked up again. Missing or null = `pending`.
- `fingerprint`: the entry's, else sha256 of the item key.
- `id, priority, status, source_file, recurrence, last_completed` are columns; every other key,
  unknown ones included (and `title` too), goes to `data`, with dates turned into ISO strings
  so that `data` stays JSON.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from helmq.domain.fingerprint import is_safe_key
from helmq.domain.model import IN_FLIGHT, Recurrence, Status
from helmq.errors import HelmqError, QueueImportError

_STATUS_ALIASES = {
    "todo": Status.PENDING,
    "open": Status.PENDING,
    "new": Status.PENDING,
    "in_progress": Status.PENDING,
    "running": Status.PENDING,
    "completed": Status.DONE,
    "closed": Status.DONE,
    "blocked": Status.WAITING,
    "cancelled": Status.REJECTED,
    "wontfix": Status.REJECTED,
} | {status.value: Status.PENDING if status in IN_FLIGHT else status for status in Status}

_PRIORITY_WORDS = {"high": 1, "medium": 2, "low": 3}
_PRIORITY_TAG = re.compile(r"[pP]?(\d+)")
_COLUMNS = frozenset({"id", "priority", "status", "source_file", "recurrence", "last_completed"})
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class QueueRecord:
    """One queue.yaml entry, mapped to work_item columns plus free-form `data`."""

    item_key: str
    title: str
    priority: int | None
    status: Status
    source_file: str | None
    recurrence: Recurrence | None
    last_completed: datetime | None
    fingerprint: str
    data: dict[str, Any]


@dataclass(frozen=True)
class QueueParse:
    """The entries that could be read, and one message per entry that could not."""

    records: list[QueueRecord]
    errors: list[str]


class _BadEntry(HelmqError):
    """One entry is unusable; the message is its reason."""


def parse_queue(path: Path) -> QueueParse:
    """Read a helm autodo queue.yaml; skip and report bad entries, raise if the file is unusable."""
    entries = _load_entries(path)
    records: list[QueueRecord] = []
    errors: list[str] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        raw_id = entry.get("id") if isinstance(entry, dict) else None
        named = f"id {raw_id!r}: " if isinstance(raw_id, str | int) else ""
        try:
            record = _record(entry)
            if record.item_key in first_index:
                raise _BadEntry(
                    f"duplicate id (item key {record.item_key!r} is already used by "
                    f"entry {first_index[record.item_key]})"
                )
        except _BadEntry as exc:
            errors.append(f"{path}: entry {index}: {named}{exc}")
            continue
        first_index[record.item_key] = index
        records.append(record)
    return QueueParse(records, errors)


def _load_entries(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise QueueImportError(f"cannot read queue file: {reason}", file=str(path)) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise QueueImportError(
            f"invalid YAML: {problem}", file=str(path), line=mark.line + 1 if mark else None
        ) from None
    if isinstance(document, dict) and isinstance(document.get("todos"), list):
        return document["todos"]
    if isinstance(document, list):
        return document
    raise QueueImportError(
        "expected a list of entries or a mapping with a 'todos' list at the top level",
        file=str(path),
    )


def _record(entry: Any) -> QueueRecord:
    if not isinstance(entry, dict):
        raise _BadEntry(
            f"expected a mapping with at least id and title, got {type(entry).__name__}"
        )
    entry = {str(key): value for key, value in entry.items()}
    item_key = _item_key(entry.get("id"))
    title = entry.get("title")
    if not isinstance(title, str) or not title.strip():
        raise _BadEntry(f"title must be a non-empty string, got {title!r}")
    source_file = entry.get("source_file")
    if source_file is not None and not isinstance(source_file, str):
        raise _BadEntry(f"source_file must be a path string, got {source_file!r}")
    data = {key: _json_safe(value) for key, value in entry.items() if key not in _COLUMNS}
    if item_key != str(entry["id"]):
        data["id"] = entry["id"]
    fingerprint = entry.get("fingerprint")
    if fingerprint is not None and (not isinstance(fingerprint, str) or not fingerprint.strip()):
        raise _BadEntry(f"fingerprint must be a non-empty string, got {fingerprint!r}")
    return QueueRecord(
        item_key=item_key,
        title=title.strip(),
        priority=_priority(entry.get("priority")),
        status=_status(entry.get("status")),
        source_file=source_file,
        recurrence=_recurrence(entry.get("recurrence")),
        last_completed=_moment(entry.get("last_completed")),
        fingerprint=fingerprint or _sha256(item_key),
        data=data,
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _item_key(raw: Any) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise _BadEntry(f"id must be a non-empty string or a whole number, got {raw!r}")
    key = str(raw).strip()
    if not key:
        raise _BadEntry("id must not be empty")
    if is_safe_key(key):
        return key
    slug = _UNSAFE_RUN.sub("-", key).replace("..", "-")[:60].strip("-.")
    return f"{slug}-{_sha256(str(raw))[:8]}" if slug else f"item-{_sha256(str(raw))[:8]}"


def _priority(raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in _PRIORITY_WORDS:
            return _PRIORITY_WORDS[word]
        tag = _PRIORITY_TAG.fullmatch(raw.strip())
        if tag:
            return int(tag.group(1))
    raise _BadEntry(
        f"unknown priority {raw!r} (expected a whole number >= 0, pN, high, medium or low)"
    )


def _status(raw: Any) -> Status:
    if raw is None:
        return Status.PENDING
    if isinstance(raw, str):
        word = raw.strip().lower().replace("-", "_").replace(" ", "_")
        if word in _STATUS_ALIASES:
            return _STATUS_ALIASES[word]
    raise _BadEntry(
        f"unknown status {raw!r} (expected one of: {', '.join(sorted(_STATUS_ALIASES))})"
    )


def _recurrence(raw: Any) -> Recurrence | None:
    if raw is None:
        return None
    if isinstance(raw, str) and raw.strip().lower() in {r.value for r in Recurrence}:
        return Recurrence(raw.strip().lower())
    raise _BadEntry(f"unknown recurrence {raw!r} (expected daily, weekly or null)")


def _moment(raw: Any) -> datetime | None:
    # YAML turns unquoted timestamps into datetime (naive when written without an offset)
    # and bare dates into date; naive means UTC, as everywhere in helmq
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise _BadEntry(f"last_completed {raw!r} is not an ISO 8601 date and time") from None
    if isinstance(raw, datetime):
        return raw.replace(tzinfo=UTC) if raw.tzinfo is None else raw
    if isinstance(raw, date):
        return datetime(raw.year, raw.month, raw.day, tzinfo=UTC)
    raise _BadEntry(f"last_completed must be an ISO 8601 date and time or null, got {raw!r}")


def _json_safe(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(item) for item in value]
    return value
