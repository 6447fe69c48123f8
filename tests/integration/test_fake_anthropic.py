"""The fake Messages API is good enough: the real anthropic SDK and the real claude CLI
accept it as the API, its faults surface as the SDK's own exceptions, and it logs what it got."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import anthropic
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
    slow,
    text,
    tool_use,
)

from tests.conftest import ROOT

KEY = "sk-ant-fake-test-key-0123456789"
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def fake(tmp_path: Path):
    with FakeAnthropic(tmp_path / "requests.jsonl") as server:
        yield server


def sdk(fake: FakeAnthropic, **kw) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.url, api_key=KEY, **{"max_retries": 0, **kw})


def test_plain_reply_reaches_the_sdk_and_the_request_is_logged_without_the_key(fake):
    fake.script(text("hello there", input_tokens=12, output_tokens=3))

    message = sdk(fake).messages.create(model="claude-haiku-4-5", max_tokens=50, messages=HI)

    assert message.content[0].text == "hello there"
    assert message.model == "claude-haiku-4-5"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 3)
    assert message.stop_reason == "end_turn"
    assert message._request_id.startswith("req_")
    [logged] = fake.requests
    assert (logged["method"], logged["path"]) == ("POST", "/v1/messages")
    assert logged["body"]["messages"] == HI
    auth = {k: v for k, v in logged["headers"].items() if k in ("x-api-key", "authorization")}
    assert auth and set(auth.values()) == {"[redacted]"}
    assert KEY not in fake.log_path.read_text()


def test_stream_carries_tool_use_thinking_and_cache_usage(fake):
    fake.script(Reply(
        content=({"type": "thinking", "thinking": "let me see"},
                 {"type": "text", "text": "Writing the file now."},
                 {"type": "tool_use", "name": "Write",
                  "input": {"file_path": "/tmp/x.txt", "content": "a fairly long body " * 4}}),
    ))
    fake.script(text("x", input_tokens=100, output_tokens=7, cache_creation_input_tokens=40,
                     cache_read_input_tokens=900))
    client = sdk(fake)

    with client.messages.stream(model="m", max_tokens=50, messages=HI) as stream:
        first = stream.get_final_message()
    with client.messages.stream(model="m", max_tokens=50, messages=HI) as stream:
        second = stream.get_final_message()

    assert [b.type for b in first.content] == ["thinking", "text", "tool_use"]
    assert first.content[0].thinking == "let me see"
    assert first.content[2].name == "Write"
    assert first.content[2].input["content"] == "a fairly long body " * 4
    assert first.content[2].id.startswith("toolu_")
    assert first.stop_reason == "tool_use"
    usage = second.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cache_creation_input_tokens,
            usage.cache_read_input_tokens) == (100, 7, 40, 900)
    assert all(body["stream"] for body in fake.messages)


@pytest.mark.parametrize(("reply", "exc", "kind"), [
    (rate_limited(), anthropic.RateLimitError, "rate_limit_error"),
    (overloaded(), anthropic.OverloadedError, "overloaded_error"),
    (bad_request(), anthropic.BadRequestError, "invalid_request_error"),
    (error(401), anthropic.AuthenticationError, "authentication_error"),
    (error(500), anthropic.InternalServerError, "api_error"),
])
def test_http_errors_become_the_sdks_exceptions(fake, reply, exc, kind):
    fake.script(reply)

    with pytest.raises(exc) as caught:
        sdk(fake).messages.create(model="m", max_tokens=5, messages=HI)

    assert caught.value.type == kind
    assert caught.value.status_code == reply.status


def test_429_with_retry_after_ms_is_retried_by_the_sdk(fake):
    fake.script(rate_limited(retry_after_ms=1), text("second time lucky"))

    started = time.monotonic()
    message = sdk(fake, max_retries=1).messages.create(model="m", max_tokens=5, messages=HI)

    assert message.content[0].text == "second time lucky"
    assert time.monotonic() - started < 0.4  # retry-after-ms, not the SDK's 0.5 s backoff
    assert [r["reply"] for r in fake.requests] == ["error 429 rate_limit_error",
                                                   "message text"]


def test_error_event_mid_stream(fake):
    fake.script(mid_stream_error("overloaded_error"))

    with pytest.raises(anthropic.APIStatusError) as caught, \
            sdk(fake).messages.stream(model="m", max_tokens=5, messages=HI) as stream:
        stream.get_final_message()

    assert caught.value.type == "overloaded_error"


def test_mid_stream_error_on_a_plain_request_is_an_http_error(fake):
    fake.script(mid_stream_error("overloaded_error"))

    with pytest.raises(anthropic.OverloadedError):
        sdk(fake).messages.create(model="m", max_tokens=5, messages=HI)


def test_dropped_connection(fake):
    fake.script(disconnect(), disconnect())

    with pytest.raises(anthropic.APIConnectionError):
        sdk(fake).messages.create(model="m", max_tokens=5, messages=HI)
    with pytest.raises(Exception, match="incomplete chunked read"), \
            sdk(fake).messages.stream(model="m", max_tokens=5, messages=HI) as stream:
        stream.get_final_message()


def test_slow_reply(fake):
    fake.script(slow(text("eventually"), 0.3))

    started = time.monotonic()
    message = sdk(fake).messages.create(model="m", max_tokens=5, messages=HI)

    assert message.content[0].text == "eventually"
    assert time.monotonic() - started >= 0.3


def test_hanging_stream_trickles_pings_until_the_server_stops(tmp_path):
    fake = FakeAnthropic(tmp_path / "log.jsonl", ping_interval=0.05).start()
    fake.script(hang())
    request = urllib.request.Request(
        f"{fake.url}/v1/messages", method="POST", headers={"content-type": "application/json"},
        data=json.dumps({"model": "m", "max_tokens": 5, "messages": HI, "stream": True}).encode())
    events: list[str] = []

    def read() -> None:
        with urllib.request.urlopen(request, timeout=10) as response:
            events.extend(line.decode().strip() for line in response
                          if line.startswith(b"event:"))

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.4)
    assert reader.is_alive()  # no message_stop: the reply never finishes by itself
    fake.stop()
    reader.join(5)

    assert not reader.is_alive()
    assert events[0] == "event: message_start"
    assert events.count("event: ping") >= 3
    assert "event: message_stop" not in events


def test_hanging_plain_request_gets_no_answer(fake):
    fake.script(hang())

    with pytest.raises(anthropic.APITimeoutError):
        sdk(fake, timeout=0.3).messages.create(model="m", max_tokens=5, messages=HI)


def test_rules_queue_callable_and_default(fake):
    fake.when(contains="classify", times=1, reply=json_reply({"tier": "script"}))
    fake.when(model="claude-opus-4-8", reply=lambda body: text(f"opus saw {len(body['messages'])}"))
    fake.script(text("first, whatever was asked"))
    client = sdk(fake)

    def ask(content: str, model: str = "m") -> str:
        return client.messages.create(model=model, max_tokens=5, messages=[
            {"role": "user", "content": content}]).content[0].text

    assert ask("please classify this") == "first, whatever was asked"  # queue first
    assert ask("please classify this") == '{"tier": "script"}'
    assert ask("please classify this") == "ok"  # the rule was used up: the default
    assert ask("anything", model="claude-opus-4-8") == "opus saw 1"
    assert fake.pending == 0


def test_last_user_and_tool_result_rules(fake):
    fake.when(tool_result=True, reply=text("done with the tool"))
    fake.when(last_user_contains="write it", reply=tool_use("Write", {"file_path": "/x"}))
    client = sdk(fake)

    first = client.messages.create(model="m", max_tokens=5, messages=[
        {"role": "user", "content": "write it"}])
    second = client.messages.create(model="m", max_tokens=5, messages=[
        {"role": "user", "content": "write it"},
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first.content[0].id,
                                      "content": "ok"}]}])

    assert first.content[0].type == "tool_use"
    assert second.content[0].text == "done with the tool"


def test_count_tokens_hello_and_lenient_requests(fake):
    client = sdk(fake)
    counted = client.messages.count_tokens(model="m", messages=[
        {"role": "user", "content": "x" * 400}])
    hello = urllib.request.urlopen(urllib.request.Request(f"{fake.url}/api/hello",
                                                          method="HEAD"))
    lenient = urllib.request.urlopen(urllib.request.Request(
        f"{fake.url}/v1/messages?beta=true", method="POST",
        headers={"content-type": "application/json"},
        data=json.dumps({"model": "m", "max_tokens": 5, "thinking": {"type": "adaptive"},
                         "context_management": {"edits": []}, "future_field": [1],
                         "messages": [{"role": "system", "content": "be brief"},
                                      {"role": "user", "content": "hi"}]}).encode()))

    assert counted.input_tokens == 100
    assert hello.status == 200
    assert json.load(lenient)["content"] == [{"type": "text", "text": "ok"}]
    assert [(r["method"], r["path"], r["query"]) for r in fake.requests] == [
        ("POST", "/v1/messages/count_tokens", {}), ("HEAD", "/api/hello", {}),
        ("POST", "/v1/messages", {"beta": "true"})]


def test_standalone_process_serves_a_script_file(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({
        "queue": [{"error": 529}],
        "rules": [{"contains": "classify", "reply": {"json": {"tier": "script"}}}],
        "default": {"text": "default reply", "usage": {"input_tokens": 3}},
    }))
    log = tmp_path / "log.jsonl"
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_anthropic.py"),
                             "--port", "0", "--script", str(script), "--log", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)

        with pytest.raises(anthropic.OverloadedError):
            client.messages.create(model="m", max_tokens=5, messages=HI)
        classified = client.messages.create(model="m", max_tokens=5, messages=[
            {"role": "user", "content": "classify me"}])
        other = client.messages.create(model="m", max_tokens=5, messages=HI)
    finally:
        proc.terminate()
        proc.wait(10)

    assert url.startswith("http://127.0.0.1:")
    assert classified.content[0].text == '{"tier": "script"}'
    assert (other.content[0].text, other.usage.input_tokens) == ("default reply", 3)
    assert len(log.read_text().splitlines()) == 3
    assert proc.returncode == 0


def _claude_bin() -> Path | None:
    try:
        import claude_agent_sdk
    except ImportError:
        return None
    path = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    return path if path.is_file() else None


@pytest.mark.skipif(_claude_bin() is None, reason="claude-agent-sdk's bundled claude is missing")
def test_real_claude_cli_executes_a_scripted_write_and_reports_a_result(fake, tmp_path):
    # Given a working directory and a fake that answers "Write hello.txt", then "All done."
    work = tmp_path / "work"
    work.mkdir()
    target = work / "hello.txt"
    fake.when(tool_result=True, reply=text("All done.", input_tokens=20, output_tokens=4))
    fake.when(contains="create hello.txt", reply=tool_use(
        "Write", {"file_path": str(target), "content": "hello from the fake\n"},
        input_tokens=30, output_tokens=6))
    home = tmp_path / "home"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"), "ANTHROPIC_BASE_URL": fake.url,
        "ANTHROPIC_API_KEY": KEY, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_MAX_RETRIES": "0",
    }
    session = str(uuid.uuid4())

    # When the real CLI runs headless against it (no --bare: bare mode offers no Write tool)
    run = subprocess.run(
        [str(_claude_bin()), "-p", "please create hello.txt", "--output-format", "stream-json",
         "--verbose", "--max-turns", "3", "--permission-mode", "acceptEdits",
         "--allowedTools", "Read Edit Write", "--session-id", session,
         "--model", "claude-haiku-4-5"],
        cwd=work, env=env, capture_output=True, text=True, timeout=120)

    # Then the CLI really wrote the file, and its result event reports success and usage
    events = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    assert run.returncode == 0, run.stderr[-2000:]
    assert target.read_text() == "hello from the fake\n"
    result = events[-1]
    assert result["type"] == "result"
    assert (result["is_error"], result["terminal_reason"], result["result"]) == (
        False, "completed", "All done.")
    assert result["session_id"] == session
    assert result["usage"]["input_tokens"] == 50
    assert result["total_cost_usd"] > 0
    assert any(e["type"] == "system" and e.get("subtype") == "init" for e in events)
    requests = [r for r in fake.requests if r["path"] == "/v1/messages"]
    assert len(requests) == 2
    assert all(r["query"] == {"beta": "true"} and r["body"]["stream"] for r in requests)
    assert KEY not in fake.log_path.read_text()
