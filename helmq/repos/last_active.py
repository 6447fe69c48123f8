"""The last-active file: when the user last did something, so helmq waits until they are idle."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ACTIVE_FOREVER = datetime.max.replace(tzinfo=UTC)
"""What an unreadable file reads as: the user counts as active, so nothing runs over them."""

_FIX = "treating the user as active; fix or delete the file, or run `helmq touch`"


@dataclass(frozen=True)
class LastActive:
    """When the user was last active (None = idle) and what was wrong with the file, if anything."""

    at: datetime | None
    problem: str | None = None


def _unreadable(path: Path, what: str) -> LastActive:
    return LastActive(ACTIVE_FOREVER, f"{path}: {what}; {_FIX}")


def read_last_active(path: Path) -> LastActive:
    """Read `{"last_active": ISO 8601 or epoch seconds}`; missing = idle, unreadable = active."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return LastActive(None)
    except OSError as exc:
        return _unreadable(path, f"cannot read: {exc.strerror or exc}")
    except UnicodeDecodeError:
        return _unreadable(path, "not UTF-8 text")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return _unreadable(path, f"invalid JSON at line {exc.lineno}: {exc.msg}")
    if not isinstance(document, dict) or "last_active" not in document:
        return _unreadable(path, 'expected {"last_active": "<ISO 8601>" or epoch seconds}')
    value = document["last_active"]
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return _unreadable(path, f"last_active {value!r} is not an ISO 8601 date and time")
        return LastActive(moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return LastActive(datetime.fromtimestamp(value, UTC))
        except (OverflowError, OSError, ValueError):
            return _unreadable(path, f"last_active {value!r} is not a valid epoch time")
    return _unreadable(
        path, f"last_active must be an ISO 8601 string or epoch seconds, got {value!r}"
    )


def touch_last_active(path: Path, now: datetime) -> None:
    """Record `now` as the user's last activity, atomically, creating parent directories."""
    moment = (now.replace(tzinfo=UTC) if now.tzinfo is None else now).astimezone(UTC)
    text = json.dumps({"last_active": moment.isoformat().replace("+00:00", "Z")}) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    # readers running concurrently must see the old or the new content, never a torn file
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
