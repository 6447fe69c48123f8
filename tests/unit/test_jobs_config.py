"""jobs.yaml loading: the defaults, the example file, and errors that point at file:line:key."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from helmq.config.jobs import default_jobs_yaml, load_jobs
from helmq.discovery import registry
from helmq.domain.jobs import Budget, ClaudeSettings, Discovery, Eligibility, JobConfig
from helmq.domain.model import Recurrence
from helmq.errors import ConfigError
from tests.conftest import ROOT

STRATEGIES = {"autodo_scan", "todo_comments"}
REGISTERED = set(registry.STRATEGIES)
REPO_ROOT = ROOT

GOOD = """\
repos: [~/code/app, lib]
budget: { daily_usd: 3, per_item_usd: 0.5 }
jobs:
  codebase_maintenance:
    internal: true
    emoji: "🔧"
    discovery: { strategy: autodo_scan, interval: 600 }
    handler: handlers.codebase_maintenance.process
    stages: [classify, execute, review]
    eligibility:
      require_user_idle_minutes: 5
      data_filter: { risk: [low, null], auto_start: true }
  inbox:
    paused: true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jobs.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_jobs(path, strategies=STRATEGIES)
    assert caught.value.file == str(path)
    assert str(caught.value).startswith(f"{path}:")
    return caught.value


def test_builtin_default_is_the_maintenance_job_and_doc_health() -> None:
    config = load_jobs(None, strategies=REGISTERED)
    assert config.source == "<built-in>"
    assert config.repos == ()
    assert config.budget == Budget(daily_usd=5.0, per_item_usd=2.0)
    assert config.jobs == {
        "codebase_maintenance": JobConfig(
            name="codebase_maintenance",
            internal=True,
            emoji="🔧",
            discovery=Discovery(strategy="autodo_scan", interval=3600),
            handler="handlers.codebase_maintenance.process",
            stages=("classify", "execute", "review"),
            eligibility=Eligibility(
                require_user_idle_minutes=15, data_filter={"risk": ["low", None]}
            ),
            paused=False,
        ),
        "doc_health": JobConfig(
            name="doc_health",
            internal=True,
            emoji="🩺",
            discovery=Discovery(strategy="doc_health", interval=86400,
                                recurrence=Recurrence.WEEKLY),
            stages=("classify", "execute", "review"),
            eligibility=Eligibility(require_user_idle_minutes=15),
        ),
    }
    assert "codebase_maintenance:" in default_jobs_yaml()


def test_example_file_at_repo_root_loads_like_the_default() -> None:
    example = load_jobs(REPO_ROOT / "jobs.yaml", strategies=REGISTERED)
    default = load_jobs(None, strategies=REGISTERED)
    # Given the example is picked up from the repo root, it must not change behaviour
    assert example.source == str(REPO_ROOT / "jobs.yaml")
    assert dataclasses.replace(example, source="<built-in>") == default


def test_full_file_is_read_into_frozen_models(tmp_path: Path) -> None:
    config = load_jobs(write(tmp_path, GOOD), strategies=STRATEGIES)
    assert config.repos == (Path("~/code/app").expanduser().resolve(), tmp_path.resolve() / "lib")
    assert config.budget == Budget(daily_usd=3.0, per_item_usd=0.5)
    job = config.jobs["codebase_maintenance"]
    assert job.discovery == Discovery("autodo_scan", 600)
    assert job.eligibility.data_filter == {"risk": ["low", None], "auto_start": True}
    assert job.eligibility.require_user_idle_minutes == 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.paused = True  # type: ignore[misc]
    # omitted keys take their defaults
    assert config.jobs["inbox"] == JobConfig(name="inbox", paused=True)


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="file not found; point HELMQ_CONFIG") as caught:
        load_jobs(missing, strategies=STRATEGIES)
    assert caught.value.file == str(missing)


def test_directory_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_jobs(tmp_path, strategies=STRATEGIES)


def test_invalid_yaml_reports_the_line(tmp_path: Path) -> None:
    error = load_error(tmp_path, "jobs:\n  a:\n    stages: [classify\n    internal: true\n")
    assert error.line == 4
    assert "invalid YAML" in str(error)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", ""])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    error = load_error(tmp_path, text)
    assert "expected a mapping (top level)" in error.reason


# (yaml text, line, dotted key, message fragment)
MALFORMED = [
    (
        """\
        jobs:
          codebase_maintenance:
            discovery:
              strategy: autodo_scan
              intervl: 60
        """,
        5,
        "jobs.codebase_maintenance.discovery.intervl",
        "unknown key 'intervl' (expected one of: interval, recurrence, rules, strategy, url)",
    ),
    (
        """\
        jobs:
          codebase_maintenance:
            discovery: { strategy: autodo_scan, interval: soon }
        """,
        3,
        "jobs.codebase_maintenance.discovery.interval",
        "expected a whole number of seconds > 0, got 'soon'",
    ),
    (
        """\
        jobs:
          codebase_maintenance:
            discovery:
              strategy: autodo_scan
              interval: 0
        """,
        5,
        "jobs.codebase_maintenance.discovery.interval",
        "expected a whole number of seconds > 0, got 0",
    ),
    (
        """\
        repos: []

        jobs:
          j:
            emoji: x
            internal: maybe
        """,
        6,
        "jobs.j.internal",
        "expected true or false, got 'maybe'",
    ),
    (
        """\
        jobs:
          j:
            eligibility:
              require_user_idle_minutes: 1
              data_filter: 3
        """,
        5,
        "jobs.j.eligibility.data_filter",
        "expected a mapping of data key to value or list of values, got 3",
    ),
    (
        """\
        jobs:
          j:
            stages: classify
        """,
        3,
        "jobs.j.stages",
        "expected a list of stages (classify, execute, review), got 'classify'",
    ),
    (
        """\
        jobs:
          j:
            stages:
              - classify
              - deploy
        """,
        5,
        "jobs.j.stages[1]",
        "unknown stage 'deploy' (expected one of: classify, execute, review)",
    ),
    (
        """\
        jobs:
          j:
            stages: [classify, classify]
        """,
        3,
        "jobs.j.stages[1]",
        "stage 'classify' is listed twice",
    ),
    (
        """\
        jobs:
          j:
            stages: [execute, classify]
        """,
        3,
        "jobs.j.stages[1]",
        "stage 'classify' cannot come after 'execute' (the chain runs classify → execute → "
        "review; leave out the stages a job skips)",
    ),
    (
        """\
        jobs:
          j:
            stages: [classify, review]
        """,
        3,
        "jobs.j.stages",
        "a job's stages must include execute (the stage that does the work), got a list",
    ),
    (
        """\
        jobs:
          j:
            discovery:
              strategy: carrier_pigeon
        """,
        4,
        "jobs.j.discovery.strategy",
        "unknown discovery strategy 'carrier_pigeon' (expected one of: autodo_scan, todo_comments)",
    ),
    (
        """\
        jobs:
          j:
            discovery:
              interval: 60
        """,
        4,
        "jobs.j.discovery.strategy",
        "missing key 'strategy'",
    ),
    (
        """\
        repos: []
        reepos: []
        jobs: {}
        """,
        2,
        "reepos",
        "unknown key 'reepos' (expected one of: budget, claude, jobs, repos, vario)",
    ),
    (
        """\
        jobs:
          j:
            internal: true
            handlr: x.y
        """,
        4,
        "jobs.j.handlr",
        (
            "unknown key 'handlr' (expected one of: discovery, eligibility, emoji, handler, "
            "internal, paused, stages)"
        ),
    ),
    (
        """\
        budget:
          daily_usd: 1
          weekly_usd: 7
        jobs: {}
        """,
        3,
        "budget.weekly_usd",
        "unknown key 'weekly_usd' (expected one of: daily_usd, per_item_usd)",
    ),
    (
        """\
        budget: { daily_usd: -1 }
        jobs: {}
        """,
        1,
        "budget.daily_usd",
        "expected a number >= 0, got -1",
    ),
    (
        """\
        jobs:
          j:
            eligibility:
              idle: 5
        """,
        4,
        "jobs.j.eligibility.idle",
        "unknown key 'idle' (expected one of: data_filter, require_user_idle_minutes)",
    ),
    (
        """\
        jobs:
          j:
            eligibility:
              data_filter:
                risk: low
                "bad key": 1
        """,
        6,
        "jobs.j.eligibility.data_filter.bad key",
        "invalid data_filter key 'bad key'",
    ),
    (
        """\
        jobs:
          j:
            eligibility:
              data_filter:
                risk: [low, [medium]]
        """,
        5,
        "jobs.j.eligibility.data_filter.risk[1]",
        "expected a scalar or null, got a list",
    ),
    (
        """\
        jobs:
          j:
            eligibility:
              data_filter:
                risk:
                  level: low
        """,
        6,
        "jobs.j.eligibility.data_filter.risk",
        "expected a scalar, null or a list of them, got a mapping",
    ),
    (
        """\
        jobs:
          j:
            handler: not a path
        """,
        3,
        "jobs.j.handler",
        "expected a dotted import path",
    ),
    (
        """\
        repos: [ok, 3]
        jobs: {}
        """,
        1,
        "repos[1]",
        "expected a repository path, got 3",
    ),
    (
        """\
        jobs:
          j:
            internal: true
          j:
            internal: false
        """,
        4,
        "jobs.j",
        "duplicate key 'j'",
    ),
    (
        """\
        jobs:
          "bad name":
            internal: true
        """,
        2,
        "jobs.bad name",
        "invalid job name 'bad name'",
    ),
    (
        """\
        repos: []
        """,
        1,
        "jobs",
        "missing key 'jobs'",
    ),
]


@pytest.mark.parametrize(("text", "line", "key", "message"), MALFORMED)
def test_malformed_file_names_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, message: str
) -> None:
    error = load_error(tmp_path, text)
    assert (error.line, error.key) == (line, key)
    assert message in error.reason
    assert str(error).startswith(f"{tmp_path / 'jobs.yaml'}:{line}: {key}: ")


def test_builtin_default_needs_its_strategy() -> None:
    with pytest.raises(ConfigError, match="unknown discovery strategy 'autodo_scan'") as caught:
        load_jobs(None, strategies=set())
    assert caught.value.file == "<built-in>"
    assert caught.value.line == 7


def test_claude_settings_are_read_and_default_to_none(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        claude:
          tools: [Read, " Bash(git status:*) "]
          max_turns: 12
          pause_policy: ABORT
        jobs: {}
        """)

    config = load_jobs(path, strategies=STRATEGIES)

    assert config.claude == ClaudeSettings(tools=("Read", "Bash(git status:*)"), max_turns=12,
                                           pause_policy="abort")
    assert load_jobs(None, strategies=REGISTERED).claude == ClaudeSettings()


@pytest.mark.parametrize(("body", "key", "message"), [
    ("tools: Read", "claude.tools", "expected a list of tool rules"),
    ("tools: ['Bash(git log:*),Write']", "claude.tools", "no commas"),
    ("max_turns: 0", "claude.max_turns", "expected a whole number > 0"),
    ("pause_policy: nap", "claude.pause_policy", "expected one of continue, pause, abort"),
    ("model: x", "claude.model", "unknown key 'model'"),
])
def test_bad_claude_settings_name_the_key(tmp_path: Path, body: str, key: str,
                                          message: str) -> None:
    error = load_error(tmp_path, f"claude:\n  {body}\njobs: {{}}\n")

    assert error.key == key
    assert message in str(error)


def test_a_job_may_skip_classify_or_review(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text("jobs:\n  a: {stages: [execute, review]}\n  b: {stages: [execute]}\n"
                    "  c: {stages: [classify, execute]}\n  d: {}\n", encoding="utf-8")
    jobs = load_jobs(path, strategies=STRATEGIES).jobs
    assert [jobs[n].stages for n in "abcd"] == [
        ("execute", "review"), ("execute",), ("classify", "execute"),
        ("classify", "execute", "review")]
