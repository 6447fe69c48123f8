"""The LLM client through the real anthropic SDK against the fake API: structured output,
retries, failure classes, cost, and an API key that never leaks. The price table and the
other pure parts are in tests/unit/test_llm_client.py."""

from __future__ import annotations

import logging
import pickle
import time
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pytest
from fake_anthropic import (
    FakeAnthropic,
    Reply,
    bad_request,
    disconnect,
    error,
    hang,
    json_reply,
    mid_stream_error,
    overloaded,
    rate_limited,
    text,
)
from pydantic import BaseModel

from helmq.errors import (
    ApiError,
    ApiOverloaded,
    AuthFailed,
    BadOutput,
    BadRequest,
    LLMError,
    LLMTimeout,
    RateLimited,
)
from helmq.llm.client import LLMClient, LLMConfig, Role
from helmq.llm.pricing import (
    TokenUsage,
)

KEY = "sk-ant-api03-very-secret-key-do-not-leak"
SYSTEM = "You classify maintenance items for helmq."
PLAN = {"tier": "llm_call", "risk": "low", "plan": "Rename the helper and fix its callers."}


class Plan(BaseModel):
    tier: Literal["script", "llm_call", "vario", "claude_session"]
    risk: Literal["low", "medium", "high"]
    plan: str


@pytest.fixture
def fake(tmp_path: Path):
    with FakeAnthropic(tmp_path / "requests.jsonl") as server:
        yield server


def client_for(fake: FakeAnthropic, **kw) -> LLMClient:
    config = {"api_key": KEY, "base_url": fake.url, "max_retries": 2, "timeout": 5.0,
              "backoff_base": 0.001, "backoff_max": 0.002,
              "models": {"classify": "claude-haiku-4-5", "review": "claude-haiku-4-5",
                         "execute": "claude-sonnet-4-6", "vario": "claude-haiku-4-5"}, **kw}
    return LLMClient(LLMConfig(**config))


def classify(client: LLMClient, **kw):
    return client.json_call(Role.CLASSIFY, SYSTEM, "TODO: rename helper", Plan, **kw)


def test_json_call_returns_validated_data_usage_and_cost(fake):
    fake.script(json_reply(PLAN, input_tokens=1000, output_tokens=200,
                           cache_creation_input_tokens=3000, cache_read_input_tokens=10000))

    result = classify(client_for(fake), instructions="Item 7 of job x.", max_tokens=300)

    assert result.data == Plan(**PLAN)
    assert result.usage == TokenUsage(1000, 200, 3000, 10000)
    # haiku-4-5: $1 in, $5 out, $1.25 cache write, $0.10 cache read per million tokens
    assert result.cost_usd == Decimal("0.001") + Decimal("0.001") + Decimal("0.00375") + \
        Decimal("0.001")
    assert (result.model, result.attempts, result.stop_reason) == ("claude-haiku-4-5", 1,
                                                                   "end_turn")
    assert result.request_id.startswith("req_")
    [sent] = fake.messages
    assert sent["model"] == "claude-haiku-4-5"
    assert sent["max_tokens"] == 300
    assert sent["system"] == [
        {"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Item 7 of job x."}]
    schema = sent["output_config"]["format"]
    assert schema["type"] == "json_schema"
    assert schema["schema"]["required"] == ["tier", "risk", "plan"]
    assert schema["schema"]["additionalProperties"] is False
    assert "tool_choice" not in sent and "tools" not in sent


def test_roles_use_their_own_models(fake):
    fake.when(reply=lambda body: json_reply({**PLAN, "plan": body["model"]}))
    client = client_for(fake)

    review = client.json_call(Role.REVIEW, SYSTEM, "x", Plan)
    execute = client.json_call(Role.EXECUTE, SYSTEM, "x", Plan)

    assert (review.data.plan, execute.data.plan) == ("claude-haiku-4-5", "claude-sonnet-4-6")
    with pytest.raises(BadRequest, match="no model configured"):
        client.json_call("unknown-role", SYSTEM, "x", Plan)


def test_thinking_blocks_are_not_part_of_the_answer(fake):
    fake.script(Reply(content=({"type": "thinking", "thinking": "{not json"},
                               {"type": "text", "text": '{"tier": "script", '},
                               {"type": "text", "text": '"risk": "low", "plan": "p"}'})))

    assert classify(client_for(fake)).data == Plan(tier="script", risk="low", plan="p")


def test_429_then_success_is_retried(fake):
    fake.script(rate_limited(retry_after_ms=1), json_reply(PLAN))

    result = classify(client_for(fake))

    assert result.data == Plan(**PLAN)
    assert result.attempts == 2
    assert [r["reply"] for r in fake.requests] == ["error 429 rate_limit_error", "message text"]


def test_persistent_529_fails_with_api_overloaded_after_the_retries(fake):
    fake.when(reply=overloaded())

    with pytest.raises(ApiOverloaded) as caught:
        classify(client_for(fake, max_retries=3))

    assert caught.value.failure_class == "api_overloaded"
    assert caught.value.retryable  # the stage retries the item later; it is not lost
    assert caught.value.attempts == 4
    assert caught.value.status == 529
    assert len(fake.requests) == 4


def test_persistent_429_fails_with_rate_limited(fake):
    fake.when(reply=rate_limited(retry_after_ms=1))

    with pytest.raises(RateLimited) as caught:
        classify(client_for(fake))

    assert caught.value.failure_class == "rate_limited"
    assert len(fake.requests) == 3


def test_a_retry_after_beyond_the_cap_is_not_waited_for(fake):
    fake.when(reply=rate_limited(retry_after_ms=120_000))

    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        classify(client_for(fake, max_retry_wait=30))

    assert time.monotonic() - started < 2
    assert caught.value.retry_after == 120.0  # for the stage's retry time
    assert len(fake.requests) == 1


def test_5xx_mid_stream_errors_and_dropped_connections_are_retried(fake):
    fake.script(error(500), mid_stream_error("api_error"), disconnect(), json_reply(PLAN))

    assert classify(client_for(fake, max_retries=3)).attempts == 4


def test_persistent_5xx_is_api_error(fake):
    fake.when(reply=error(503, "api_error"))

    with pytest.raises(ApiError) as caught:
        classify(client_for(fake, max_retries=1))

    assert caught.value.failure_class == "api_error"
    assert len(fake.requests) == 2


@pytest.mark.parametrize(("reply", "exc", "failure_class"), [
    (bad_request("max_tokens: too large"), BadRequest, "bad_request"),
    (error(401), AuthFailed, "auth"),
    (error(403), AuthFailed, "auth"),
])
def test_client_errors_are_not_retried(fake, reply, exc, failure_class):
    fake.when(reply=reply)

    with pytest.raises(exc) as caught:
        classify(client_for(fake))

    assert caught.value.failure_class == failure_class
    assert not caught.value.retryable
    assert len(fake.requests) == 1


@pytest.mark.parametrize("answer", [
    "this is not JSON at all",
    '{"tier": "teleport", "risk": "low", "plan": "x"}',
    '{"tier": "script"}',
    "",
])
def test_garbage_output_is_bad_output_and_keeps_its_cost(fake, answer):
    fake.script(text(answer, input_tokens=2000, output_tokens=100))

    with pytest.raises(BadOutput) as caught:
        classify(client_for(fake))

    assert caught.value.failure_class == "bad_output"
    assert "Plan" in str(caught.value)
    assert caught.value.result.text == answer
    assert caught.value.result.cost_usd == Decimal("0.0025")  # billed all the same
    assert len(fake.requests) == 1  # not retried by the client


def test_output_cut_off_at_max_tokens_says_so(fake):
    fake.script(Reply(content=({"type": "text", "text": '{"tier": "scr'},),
                      stop_reason="max_tokens"))

    with pytest.raises(BadOutput, match="cut off at max_tokens"):
        classify(client_for(fake))


def test_a_reply_that_never_finishes_times_out(tmp_path):
    with FakeAnthropic(tmp_path / "log.jsonl", ping_interval=0.05) as fake:
        fake.script(hang())
        started = time.monotonic()

        with pytest.raises(LLMTimeout) as caught:
            classify(client_for(fake, timeout=0.5))

    assert 0.5 <= time.monotonic() - started < 3
    assert caught.value.failure_class == "timeout"
    assert len(fake.requests) == 1  # may have been billed: not retried


def test_unknown_model_has_unknown_cost(fake):
    fake.script(json_reply(PLAN, model="claude-fable-5-2"))

    result = classify(client_for(fake))

    assert result.model == "claude-fable-5-2"
    assert result.cost_usd is None


def test_the_api_key_never_leaks(fake, caplog):
    # Given a server that answers with errors which quote the key back
    caplog.set_level(logging.DEBUG)
    fake.when(reply=bad_request(f"bad header x-api-key: {KEY}"))
    client = client_for(fake)

    with pytest.raises(LLMError) as caught:
        classify(client)

    # Then the key was sent, but is in no message, repr, log line or request log
    failure = caught.value
    assert fake.requests[0]["headers"].get("authorization") == "[redacted]" or \
        fake.requests[0]["headers"].get("x-api-key") == "[redacted]"
    for shown in (str(failure), repr(failure), repr(client), repr(client.config),
                  str(pickle.loads(pickle.dumps(failure))), caplog.text,
                  fake.log_path.read_text()):
        assert KEY not in shown
    assert "[redacted]" in str(failure)


def test_failures_survive_pickling_for_celery(fake):
    fake.script(overloaded())
    with pytest.raises(ApiOverloaded) as caught:
        classify(client_for(fake, max_retries=0))

    copy = pickle.loads(pickle.dumps(caught.value))

    assert type(copy) is ApiOverloaded
    assert (copy.failure_class, copy.status, str(copy)) == ("api_overloaded", 529,
                                                            str(caught.value))


def test_estimate_is_above_a_typical_call(fake):
    fake.script(json_reply(PLAN, input_tokens=60, output_tokens=40))
    client = client_for(fake)

    estimate = client.estimate(Role.CLASSIFY, SYSTEM, "TODO: rename helper", Plan,
                               max_tokens=300)
    result = classify(client, max_tokens=300)

    assert estimate is not None and estimate > result.cost_usd
