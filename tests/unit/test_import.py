"""Parsing a helm autodo queue.yaml: how statuses map, without a store."""

from __future__ import annotations

from pathlib import Path

from helmq.store.importing import record_values
from tests.support.import_queue import records

# --- statuses and retries -----------------------------------------------------------------


def test_needs_work_and_running_entries_import_as_pending(tmp_path: Path) -> None:
    got = [record_values(r)["status"] for r in records(tmp_path, """\
        - {id: a, title: A, status: needs_work}
        - {id: b, title: B, status: running}
        - {id: c, title: C, status: executing}
        - {id: d, title: D, status: blocked}
        - {id: e, title: E, status: done}
        """)]

    assert got == ["pending", "pending", "pending", "waiting", "done"]
