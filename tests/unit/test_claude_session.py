"""The Claude session tier's pure parts: outcome classification, the stream watcher, the
CLI's argv and environment, limits and settings. No CLI, no fake API, no database."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from helmq.config.settings import Settings
from helmq.domain.jobs import ClaudeSettings
from helmq.errors import ConfigError
from helmq.runtime import claude_config
from helmq.tiers.claude.config import ClaudeConfig, PausePolicy, parse_minutes
from helmq.tiers.claude.outcome import SessionOutcome, classify_session
from helmq.tiers.claude.process import SessionRun, Stop
from helmq.tiers.claude.session import allow_list, cli_argv
from helmq.tiers.claude.stream import StreamWatcher
from helmq.tiers.claude.transcript import project_dir_name
from tests.support.claude_session import KEY, MODEL, T0

# --- pure parts ---------------------------------------------------------------------------


def _run(result: dict | None = None, **kw: Any) -> SessionRun:
    run = SessionRun(started_at=T0, ended_at=T0 + timedelta(seconds=5), exit_code=1, **kw)
    if result is not None:
        run.watcher.feed(json.dumps({"type": "result", **result}))
    return run


@pytest.mark.parametrize(("run", "expected"), [
    (_run({"is_error": False, "subtype": "success", "terminal_reason": "completed"}), "ok"),
    (_run({"is_error": True, "subtype": "error_max_turns", "terminal_reason": "max_turns"}),
     "max_turns"),
    (_run({"is_error": True, "terminal_reason": "budget_exhausted"}), "budget"),
    (_run({"is_error": True, "subtype": "error_max_budget_usd"}), "budget"),
    (_run({"is_error": True, "subtype": "success", "terminal_reason": "api_error",
           "api_error_status": 529}), "api_error"),
    (_run({"is_error": True, "subtype": "error_during_execution",
           "terminal_reason": "aborted_streaming"}), "crash"),
    (_run({"is_error": True, "terminal_reason": "aborted_streaming"}, stopped=Stop.TIMEOUT),
     "timeout"),
    (_run({"is_error": True, "terminal_reason": "aborted_streaming"},
          stopped=Stop.USER_RETURNED), "user_returned"),
    (_run(), "crash"),
    (_run(start_error="cannot start /x/claude: No such file or directory"), "crash"),
])
def test_outcome_classification(run, expected):
    assert classify_session(run, max_seconds=60).outcome == SessionOutcome(expected)


def test_api_errors_retry_or_break_the_tier_by_status():
    overloaded_ = classify_session(_run({"is_error": True, "terminal_reason": "api_error",
                                         "api_error_status": 529}), max_seconds=60)
    refused = classify_session(_run({"is_error": True, "terminal_reason": "api_error",
                                     "api_error_status": 401}), max_seconds=60)
    assert overloaded_.retryable and not overloaded_.breaks_tier
    assert refused.breaks_tier and not refused.retryable


def test_stream_watcher_counts_turns_and_tools_and_survives_garbage():
    w = StreamWatcher()
    w.feed(json.dumps({"type": "system", "subtype": "init", "session_id": "abc", "cwd": "/w",
                       "model": MODEL}))
    for block in ({"type": "text", "text": "hi"}, {"type": "tool_use", "name": "Edit"}):
        w.feed(json.dumps({"type": "assistant", "message": {
            "id": "m1", "model": MODEL, "content": [block],
            "usage": {"input_tokens": 1_000_000, "output_tokens": 0}}}))
    w.feed("Warning: something printed on stdout\n")
    w.feed("[1, 2]\n")
    p = w.progress()
    assert (p.session_id, p.turns, p.tool_calls, p.tools, p.garbage_lines) == (
        "abc", 1, 1, {"Edit": 1}, 2)
    assert p.cost_estimated and p.cost_usd == pytest.approx(1.0)  # Haiku: $1 per M input
    w.feed(json.dumps({"type": "result", "is_error": False, "num_turns": 2,
                       "total_cost_usd": 0.5}))
    p = w.progress()
    assert (p.turns, p.cost_usd, p.cost_estimated, p.finished) == (2, 0.5, False, True)


def test_transcript_dir_name_replaces_every_non_alphanumeric():
    assert project_dir_name("/tmp/cx/my work.dir_x") == "-tmp-cx-my-work-dir-x"


def test_argv_narrows_edits_to_the_worktree_and_carries_no_item_text(tmp_path):
    config = ClaudeConfig(config_dir=tmp_path, allowed_tools=("Read", "Write", "Edit",
                                                              "Bash(git diff:*)"))
    limits = config.limits_for({"max_turns": 7, "max_budget_usd": "0.5"})

    argv = cli_argv("claude", config, limits, session_id="sid", resume=False,
                    user_repo=Path("/home/u/app"))
    resumed = cli_argv("claude", config, limits, session_id="sid", resume=True,
                       user_repo=Path("/home/u/app"))

    # bare Read/Edit/Write would reach the whole disk: only the narrow rules are passed
    assert allow_list(config.allowed_tools) == ["Bash(git diff:*)"]
    assert argv[argv.index("--allowedTools") + 1] == "Bash(git diff:*)"
    assert "Edit(//home/u/app/**)" in argv[argv.index("--disallowedTools") + 1]
    assert argv[argv.index("--max-turns") + 1] == "7"
    assert argv[argv.index("--max-budget-usd") + 1] == "0.5000"
    assert argv[-2:] == ["--session-id", "sid"] and resumed[-2:] == ["--resume", "sid"]
    assert "--session-id" not in resumed


def test_item_data_overrides_the_limits(tmp_path):
    config = ClaudeConfig(config_dir=tmp_path)

    limits = config.limits_for({"max_minutes": "20m", "pause_policy": "ABORT"})

    assert (limits.max_minutes, limits.pause_policy, limits.max_turns) == (
        20.0, PausePolicy.ABORT, 30)
    # longer than the tier's limit would outlive the worker's task time limit: capped
    assert config.limits_for({"max_minutes": "2h"}).max_minutes == 30.0
    assert parse_minutes(45) == 45.0 and parse_minutes("30m") == 30.0
    with pytest.raises(ConfigError, match="pause_policy"):
        config.limits_for({"pause_policy": "nap"})
    with pytest.raises(ConfigError, match="max_minutes"):
        config.limits_for({"max_minutes": "soon"})


def test_jobs_yaml_sets_the_tools_turns_and_policy_and_the_environment_wins(tmp_path):
    base = {"HELMQ_STATE_DIR": str(tmp_path), "HELMQ_DATABASE_URL": "sqlite://"}
    settings = Settings.from_env(base)
    jobs = ClaudeSettings(tools=("Bash(make test:*)", "Write"), max_turns=9,
                          pause_policy="abort")

    config = claude_config(settings, jobs)
    overridden = claude_config(Settings.from_env({**base, "HELMQ_CLAUDE_MAX_TURNS": "4",
                                                  "HELMQ_CLAUDE_PAUSE_POLICY": "continue"}),
                               jobs)
    default = claude_config(settings)

    assert (config.allowed_tools, config.max_turns, config.pause_policy) == (
        ("Bash(make test:*)", "Write"), 9, PausePolicy.ABORT)
    assert (overridden.max_turns, overridden.pause_policy) == (4, PausePolicy.CONTINUE)
    assert allow_list(config.allowed_tools) == ["Bash(make test:*)"]
    # `git diff --output=FILE` could write outside the worktree: not allowed by default
    assert allow_list(default.allowed_tools) == ["Bash(git status:*)"]


def test_claude_config_reads_the_claude_variables_from_settings(tmp_path):
    base = {"HELMQ_STATE_DIR": str(tmp_path), "HELMQ_DATABASE_URL": "sqlite://",
            "ANTHROPIC_API_KEY": KEY, "HELMQ_CLAUDE_BIN": "/opt/claude"}
    settings = Settings.from_env({
        **base, "HELMQ_CLAUDE_MAX_MINUTES": "12", "HELMQ_CLAUDE_PAUSE_POLICY": "abort",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "LANG": "C.UTF-8", "SECRET": "x"})

    config = claude_config(settings, max_budget_usd=1.5)

    assert (config.config_dir, config.bin, config.api_key, config.base_url) == (
        tmp_path / "claude", "/opt/claude", KEY, "http://127.0.0.1:9")
    assert (config.max_minutes, config.pause_policy, config.max_budget_usd) == (
        12.0, PausePolicy.ABORT, 1.5)
    assert config.task_time_limit > (12 + config.max_pause_minutes) * 60
    # the CLI inherits locale and such from helmq's environment, never its secrets
    assert config.parent_env == {"LANG": "C.UTF-8"}
    with pytest.raises(ConfigError, match="HELMQ_CLAUDE_MAX_MINUTES"):
        Settings.from_env({**base, "HELMQ_CLAUDE_MAX_MINUTES": "-1"})
    with pytest.raises(ConfigError, match="HELMQ_CLAUDE_PAUSE_POLICY"):
        Settings.from_env({**base, "HELMQ_CLAUDE_PAUSE_POLICY": "nap"})
