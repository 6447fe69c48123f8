"""What a person reads of a settled item: its outcome, and when a recurring one is next due."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from helmq.domain.item import WorkItem
from helmq.domain.model import Status
from helmq.domain.settled import next_due, outcome

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
ITEM = WorkItem(
    id=1, job="doc_health", item_key="k", fingerprint="fp", status=Status.DONE, stage=None,
    tier=None, priority=None, source_file="README.md", line=1, recurrence=None,
    last_completed=None, data={"review": {"verdict": "accept"}}, attempt=1, redispatches=0,
    review_rounds=0, lease_until=None, failure_class=None, waiting_reason=None, cost_usd=0.0,
    session_id=None, branch=None, report_path=None, created_at=NOW, updated_at=NOW)


def test_a_done_item_is_fixed_with_a_branch_and_reported_without():
    assert outcome(replace(ITEM, branch="helmq/k"), NOW) == "fixed"
    reported = replace(ITEM, data={"review": {"verdict": "reported"}})
    assert outcome(reported, NOW) == "reported"


def test_a_weekly_item_stored_as_pending_reads_settled_until_it_is_due():
    # Given a weekly item review settled yesterday, which the store keeps as pending
    weekly = replace(ITEM, status=Status.PENDING, recurrence="weekly",
                     last_completed=NOW - timedelta(days=1), data={"review": {
                         "verdict": "reported"}})

    # Then it reads as reported, next due six days from now
    assert next_due(weekly) == NOW + timedelta(days=6)
    assert outcome(weekly, NOW) == "reported"
    # and once due again, it is unsettled
    assert outcome(weekly, NOW + timedelta(days=7)) is None


def test_unsettled_items_and_items_done_by_their_source_have_no_outcome():
    assert outcome(replace(ITEM, status=Status.WAITING), NOW) is None
    assert outcome(replace(ITEM, status=Status.PENDING), NOW) is None
    assert outcome(replace(ITEM, data={}), NOW) is None  # a ticked box in TODO.md
    assert next_due(ITEM) is None


def test_an_item_done_after_execute_by_a_job_without_review_has_an_outcome():
    executed = replace(ITEM, data={"execute": {"fixed": 1}}, branch="helmq/k")
    assert outcome(executed, NOW) == "fixed"
