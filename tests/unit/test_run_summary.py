"""The line run-once ends with: what became of the items it took."""

from __future__ import annotations

from helmq.cli.run import settled_as, summary


def item(status: str, **kw: object) -> dict:
    return {"status": status, "review": None, "branch": None, "last_completed": None,
            "waiting_reason": None, "outcome": None, **kw}


def test_the_summary_counts_fixes_reports_waits_and_failures():
    items = [
        item("done", review="accept", branch="helmq/a", outcome="fixed"),
        item("done", review="reported", outcome="reported"),
        # a weekly item that settled in this run is stored as pending again
        item("pending", review="reported", last_completed="2026-12-04T10:00:00Z",
             outcome="reported"),
        item("waiting", waiting_reason="no_credentials"),
        item("waiting", waiting_reason="no_credentials"),
        item("failed"),
        item("rejected"),
    ]
    assert [settled_as(i) for i in items[:3]] == ["fixed", "reported", "reported"]
    assert summary(items) == ("fixed 1 · reported 2 · waiting 2 (no_credentials) · failed 1 · "
                              "rejected 1")
    assert summary([item("waiting", waiting_reason="budget"),
                    item("waiting", waiting_reason="no_credentials")]) == (
        "fixed 0 · reported 0 · waiting 2 (budget 1, no_credentials 1) · failed 0")
