"""helmq.llm.ask: a call's LLM-side failure is an Outcome; anything else propagates."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from helmq.domain.model import Status
from helmq.domain.outcome import FailureClass, WaitReason
from helmq.errors import BadOutput, NoCredentials, RateLimited
from helmq.llm.ask import RETRY_LATER_SECONDS, ask, ask_panel


@dataclass
class StubMeter:
    """Answers or raises per model, as Meter.json_call would."""

    replies: dict[str | None, object]
    cost_usd: float = 0.5
    asked: list[str | None] = field(default_factory=list)

    def json_call(self, role, system, prompt, schema, *, max_tokens, model=None):
        self.asked.append(model)
        reply = self.replies[model]
        if isinstance(reply, Exception):
            raise reply
        return reply


def test_an_answer_is_returned_as_it_came() -> None:
    assert ask(StubMeter({None: "answer"}), "classify", "s", "p", dict, what="x",
               max_tokens=10) == "answer"


def test_no_key_makes_the_item_wait_with_what_it_cost() -> None:
    got = ask(StubMeter({None: NoCredentials("no key")}), "classify", "s", "p", dict,
              what="classifying item a", max_tokens=10)
    assert (got.status, got.waiting_reason, got.cost_usd) == (
        Status.WAITING, WaitReason.NO_CREDENTIALS, 0.5)
    assert got.message == "classifying item a needs ANTHROPIC_API_KEY; waiting until it is set"


def test_a_retryable_failure_waits_and_counts_as_a_failed_run() -> None:
    got = ask(StubMeter({None: RateLimited("429")}), "review", "s", "p", dict, what="w",
              max_tokens=10)
    assert (got.status, got.label, got.failure_class, got.waiting_reason) == (
        Status.WAITING, "failed", FailureClass.RATE_LIMITED, WaitReason.RATE_LIMITED)
    assert got.retry_after_seconds == RETRY_LATER_SECONDS


def test_bad_output_fails_the_item() -> None:
    got = ask(StubMeter({None: BadOutput("not json")}), "execute", "s", "p", dict, what="w",
              max_tokens=10)
    assert (got.status, got.failure_class, got.error) == (
        Status.FAILED, FailureClass.BAD_OUTPUT, "not json")


def test_a_bug_is_not_turned_into_an_outcome() -> None:
    with pytest.raises(KeyError):
        ask(StubMeter({None: KeyError("bug")}), "execute", "s", "p", dict, what="w",
            max_tokens=10)


def test_a_panel_with_a_majority_keeps_its_answers_and_errors_in_order() -> None:
    meter = StubMeter({"a": "A", "b": BadOutput("b broke"), "c": "C"})
    answers, errors = ask_panel(meter, ["a", "b", "c"], "vario", "s", "p", dict, what="vario",
                                max_tokens=10)
    assert answers == [("a", "A"), ("c", "C")]
    assert [(m, str(e)) for m, e in errors] == [("b", "b broke")]


def test_a_panel_without_a_majority_ends_with_its_first_error() -> None:
    meter = StubMeter({"a": "A", "b": BadOutput("b broke")})
    got = ask_panel(meter, ["a", "b"], "vario", "s", "p", dict, what="vario for item x",
                    max_tokens=10)
    assert got.failure_class is FailureClass.BAD_OUTPUT
    assert got.message == "vario for item x (1 of 2 calls failed): b broke"
