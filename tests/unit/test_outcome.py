"""Outcome's named constructors and the enums of failure classes and waiting reasons."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from helmq.doctor.diagnose import FAILURE_ADVICE, WAITING_ADVICE
from helmq.domain import outcome as outcome_module
from helmq.domain.model import Stage, Status, Tier
from helmq.domain.outcome import FailureClass, Outcome, WaitReason
from helmq.tiers.claude.outcome import SessionOutcome

ROOT = Path(__file__).resolve().parents[1]


def test_next_continues_to_the_stage_with_label_ok() -> None:
    got = Outcome.next(Stage.REVIEW, "fixed", tier=Tier.SCRIPT, data={"execute": {}},
                       cost_usd=0.25, branch="helmq/x")
    assert got == Outcome(Status.QUEUED, "ok", "fixed", stage=Stage.REVIEW, tier=Tier.SCRIPT,
                          data={"execute": {}}, cost_usd=0.25, branch="helmq/x")
    assert got.continues


def test_waiting_names_its_reason_and_when_to_retry() -> None:
    got = Outcome.waiting(WaitReason.TIER_BUSY, "slot taken", retry_after=60.0)
    assert got == Outcome(Status.WAITING, "waiting", "slot taken",
                          waiting_reason=WaitReason.TIER_BUSY, retry_after_seconds=60.0)
    assert not got.continues
    assert got.failure_class is None


def test_a_wait_that_counts_as_a_failed_run_keeps_both_classes() -> None:
    # Given a retryable API failure: the item waits, the stage run counts as failed
    got = Outcome.waiting(WaitReason.RATE_LIMITED, "429", retry_after=5.0, label="failed",
                          failure_class=FailureClass.RATE_LIMITED, cost_usd=0.1, error="429")
    assert (got.status, got.label) == (Status.WAITING, "failed")
    assert (got.failure_class, got.waiting_reason) == ("rate_limited", "rate_limited")
    assert (got.retry_after_seconds, got.cost_usd, got.error) == (5.0, 0.1, "429")


def test_failed_defaults_to_label_failed_and_keeps_the_error() -> None:
    got = Outcome.failed(FailureClass.NO_REPO, "no repo", error="no repo")
    assert got == Outcome(Status.FAILED, "failed", "no repo", failure_class=FailureClass.NO_REPO,
                          error="no repo")
    assert Outcome.failed(FailureClass.CRASH, "boom", label="crashed").label == "crashed"


def test_review_decisions() -> None:
    assert Outcome.done("ok", report_path="r.md") == Outcome(
        Status.DONE, "accepted", "ok", report_path="r.md")
    assert Outcome.done("told", label="reported").label == "reported"
    assert Outcome.needs_work("again", data={"review": {}}) == Outcome(
        Status.NEEDS_WORK, "needs_work", "again", data={"review": {}})
    assert Outcome.rejected("no", cost_usd=1.0) == Outcome(
        Status.REJECTED, "rejected", "no", cost_usd=1.0)


@pytest.mark.parametrize("enum", [FailureClass, WaitReason])
def test_every_member_has_a_one_line_docstring(enum: type) -> None:
    tree = ast.parse(inspect.getsource(outcome_module))
    body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == enum.__name__)
    documented = {
        stmt.targets[0].id
        for stmt, doc in zip(body.body, body.body[1:], strict=False)
        if isinstance(stmt, ast.Assign) and isinstance(doc, ast.Expr)
        and isinstance(doc.value, ast.Constant) and "\n" not in doc.value.value
    }
    assert documented == set(enum.__members__)


def test_the_values_are_the_stored_strings() -> None:
    # The strings are stored in work_items and events: a renamed value orphans old rows.
    assert FailureClass.NO_REPO == "no_repo" and str(FailureClass.BAD_HANDLER) == "bad_handler"
    assert f"{WaitReason.NO_CREDENTIALS}" == "no_credentials"


def test_the_doctor_advises_only_on_known_classes_and_reasons() -> None:
    assert set(FAILURE_ADVICE) <= set(FailureClass)
    assert set(WAITING_ADVICE) <= set(WaitReason)


def test_the_domain_imports_nothing_of_helmq_outside_it_and_errors() -> None:
    for path in (ROOT / "helmq" / "domain").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                if name.split(".")[0] == "helmq":
                    assert name == "helmq.errors" or name.startswith("helmq.domain"), \
                        f"{path.name} imports {name}"


def test_every_failed_session_outcome_is_a_failure_class() -> None:
    waits = {SessionOutcome.OK, SessionOutcome.USER_RETURNED}
    assert {str(s) for s in SessionOutcome if s not in waits} <= set(FailureClass)
