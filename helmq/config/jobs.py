"""jobs.yaml: which jobs exist, how they find work, and when their items are eligible."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from helmq.config.yaml_reader import KeyPath, YamlReader, is_scalar, read_yaml, show
from helmq.domain.jobs import (
    PAUSE_POLICIES,
    STAGES,
    Budget,
    ClaudeSettings,
    ConventionRule,
    Discovery,
    Eligibility,
    JobConfig,
    JobsConfig,
    Vario,
    check_url,
)
from helmq.domain.model import Recurrence
from helmq.errors import ConfigError

BUILTIN_SOURCE = "<built-in>"

# The built-in default goes through the same parser as a user's file, so the two can't drift.
_DEFAULT_JOBS_YAML = """\
repos: []
budget: { daily_usd: 5.0, per_item_usd: 2.0 }
jobs:
  codebase_maintenance:
    internal: true
    emoji: "🔧"
    discovery: { strategy: autodo_scan, interval: 3600 }
    handler: handlers.codebase_maintenance.process
    stages: [classify, execute, review]
    eligibility:
      require_user_idle_minutes: 15
      data_filter: { risk: [low, null] }
  doc_health:
    internal: true
    emoji: "🩺"
    discovery: { strategy: doc_health, interval: 86400, recurrence: weekly }
    stages: [classify, execute, review]
    eligibility:
      require_user_idle_minutes: 15
"""

_JOB_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", re.ASCII)



def default_jobs_yaml() -> str:
    """The built-in jobs.yaml text used when no file is configured."""
    return _DEFAULT_JOBS_YAML


def load_jobs(path: Path | None, *, strategies: Collection[str]) -> JobsConfig:
    """Read and validate jobs.yaml (None = the built-in default); raise ConfigError if wrong."""
    if path is None:
        return _parse(_DEFAULT_JOBS_YAML, BUILTIN_SOURCE, Path.cwd(), strategies)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "file not found; point HELMQ_CONFIG at an existing jobs.yaml "
            "or unset it to use the built-in jobs",
            file=str(path),
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text: {exc.reason}", file=str(path)) from None
    return _parse(text, str(path), path.expanduser().resolve().parent, strategies)


def _parse(text: str, source: str, base: Path, strategies: Collection[str]) -> JobsConfig:
    reader = _JobsReader(source, base, strategies)
    return reader.config(read_yaml(text, reader))


class _JobsReader(YamlReader):
    """jobs.yaml's keys, each converted and checked."""

    def __init__(self, source: str, base: Path, strategies: Collection[str]) -> None:
        super().__init__(source)
        self.base, self.strategies = base, strategies

    def config(self, data: Any) -> JobsConfig:
        fields = self.mapping((), data, ("budget", "claude", "jobs", "repos", "vario"),
                              "top level")
        if "jobs" not in fields:
            self.fail(("jobs",), "missing key 'jobs' (a mapping of job name to job settings)")
        return JobsConfig(
            repos=self.repos(("repos",), fields["repos"]) if "repos" in fields else (),
            budget=self.budget(("budget",), fields["budget"]) if "budget" in fields else Budget(),
            jobs=self.jobs(("jobs",), fields["jobs"]),
            source=self.source,
            vario=self.vario(("vario",), fields["vario"]) if "vario" in fields else Vario(),
            claude=(self.claude(("claude",), fields["claude"]) if "claude" in fields
                    else ClaudeSettings()),
        )

    def claude(self, path: KeyPath, value: Any) -> ClaudeSettings:
        converters = {"tools": self.tools, "max_turns": self.positive,
                      "pause_policy": self.pause_policy}
        fields = self.mapping(path, value, tuple(converters), "Claude session settings")
        return ClaudeSettings(**self.convert(path, fields, converters))

    def tools(self, path: KeyPath, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(
                isinstance(t, str) and t.strip() and "," not in t for t in value):
            self.fail(path, "expected a list of tool rules such as Read or "
                            f"'Bash(git status:*)' (no commas), got {show(value)}")
        return tuple(t.strip() for t in value)

    def pause_policy(self, path: KeyPath, value: Any) -> str:
        if not isinstance(value, str) or value.strip().lower() not in PAUSE_POLICIES:
            self.fail(path, f"expected one of {', '.join(PAUSE_POLICIES)}, got {show(value)}")
        return value.strip().lower()

    def vario(self, path: KeyPath, value: Any) -> Vario:
        converters = {"models": self.models, "samples": self.positive}
        fields = self.mapping(path, value, tuple(converters), "vario settings")
        return Vario(**self.convert(path, fields, converters))

    def models(self, path: KeyPath, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not value or not all(
                isinstance(m, str) and m.strip() for m in value):
            self.fail(path, f"expected a non-empty list of model names, got {show(value)}")
        return tuple(value)

    def repos(self, path: KeyPath, value: Any) -> tuple[Path, ...]:
        if not isinstance(value, list):
            self.fail(path, f"expected a list of repository paths, got {show(value)}")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.fail(path + (i,), f"expected a repository path, got {show(item)}")
            # relative paths are relative to jobs.yaml, not to wherever helmq happens to run
            out.append((self.base / Path(item).expanduser()).resolve())
        return tuple(out)

    def budget(self, path: KeyPath, value: Any) -> Budget:
        fields = self.mapping(path, value, ("daily_usd", "per_item_usd"), "budget in USD")
        converters = {"daily_usd": self.amount, "per_item_usd": self.amount}
        return Budget(**self.convert(path, fields, converters))

    def jobs(self, path: KeyPath, value: Any) -> dict[str, JobConfig]:
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping of job name to job settings, got {show(value)}")
        out = {}
        for name, raw in value.items():
            if not isinstance(name, str) or not _JOB_NAME.fullmatch(name):
                self.fail(
                    path + (str(name),),
                    f"invalid job name {str(name)!r} (letters, digits, '_' and '-', "
                    "starting with a letter or '_')",
                    at_key=True,
                )
            out[name] = self.job(path + (name,), name, raw)
        return out

    def job(self, path: KeyPath, name: str, value: Any) -> JobConfig:
        converters: dict[str, Callable[..., Any]] = {
            "discovery": self.discovery,
            "eligibility": self.eligibility,
            "emoji": self.string,
            "handler": self.handler,
            "internal": self.boolean,
            "paused": self.boolean,
            "stages": self.stages,
        }
        fields = self.mapping(path, value, tuple(converters), "job settings")
        return JobConfig(name=name, **self.convert(path, fields, converters))

    def discovery(self, path: KeyPath, value: Any) -> Discovery | None:
        if value is None:
            return None
        converters = {"interval": self.interval, "strategy": self.strategy,
                      "recurrence": self.recurrence, "rules": self.rules, "url": self.url}
        fields = self.mapping(path, value, tuple(converters), "discovery settings")
        if "strategy" not in fields:
            self.fail(path + ("strategy",), "missing key 'strategy' (a discovery strategy name)")
        found = self.convert(path, fields, converters)
        if "rules" in found and found["strategy"] != "conventions":
            self.fail(path + ("rules",), "only the conventions strategy takes rules", at_key=True)
        if "url" in found and found["strategy"] != "feed":
            self.fail(path + ("url",), "only the feed strategy takes a url", at_key=True)
        if found["strategy"] == "feed" and not found.get("url"):
            self.fail(path + ("url",), "the feed strategy needs a url (the http://, https:// "
                      "or file:// address of an RSS or Atom feed)")
        if found["strategy"] == "conventions" and not found.get("rules"):
            self.fail(path + ("rules",), "the conventions strategy needs a list of rules "
                      "(each with a name and one of forbid, require_file, max_lines)")
        return Discovery(**found)

    def url(self, path: KeyPath, value: Any) -> str:
        try:
            return check_url(self.string(path, value).strip())
        except ConfigError as exc:
            self.fail(path, exc.reason)

    def recurrence(self, path: KeyPath, value: Any) -> Recurrence:
        try:
            return Recurrence(value)
        except ValueError:
            options = ", ".join(r.value for r in Recurrence)
            self.fail(path, f"expected one of: {options}, got {show(value)}")

    def rules(self, path: KeyPath, value: Any) -> tuple[ConventionRule, ...]:
        if not isinstance(value, list) or not value:
            self.fail(path, f"expected a non-empty list of rules, got {show(value)}")
        out = [self.rule(path + (i,), raw) for i, raw in enumerate(value)]
        names = [rule.name for rule in out]
        for i, name in enumerate(names):
            if name in names[:i]:
                self.fail(path + (i, "name"), f"rule name {name!r} is used twice")
        return tuple(out)

    def rule(self, path: KeyPath, value: Any) -> ConventionRule:
        converters: dict[str, Callable[..., Any]] = {
            "name": self.rule_name, "forbid": self.regex, "require_file": self.relative_path,
            "max_lines": self.positive, "files": self.globs, "exclude": self.globs,
            "message": self.string, "repos": self.repos,
        }
        fields = self.mapping(path, value, tuple(converters), "a conventions rule")
        if "name" not in fields:
            self.fail(path + ("name",), "missing key 'name' (what findings of the rule are called)")
        kinds = [k for k in ("forbid", "require_file", "max_lines") if k in fields]
        if len(kinds) != 1:
            self.fail(path, "a rule needs exactly one of forbid, require_file, max_lines"
                      + (f" (it has {', '.join(kinds)})" if kinds else ""))
        return ConventionRule(**self.convert(path, fields, converters))

    def rule_name(self, path: KeyPath, value: Any) -> str:
        if not isinstance(value, str) or not _JOB_NAME.fullmatch(value):
            self.fail(path, f"expected a rule name of letters, digits, '_' and '-', "
                      f"got {show(value)}")
        return value

    def regex(self, path: KeyPath, value: Any) -> str:
        pattern = self.string(path, value)
        try:
            re.compile(pattern)
        except re.error as exc:
            self.fail(path, f"invalid regular expression: {exc}")
        return pattern

    def relative_path(self, path: KeyPath, value: Any) -> str:
        name = self.string(path, value).strip()
        parts = Path(name).parts
        if not name or Path(name).is_absolute() or ".." in parts:
            self.fail(path, f"expected a path inside the repo (no '..', not absolute), "
                      f"got {show(value)}")
        return Path(name).as_posix()

    def strategy(self, path: KeyPath, value: Any) -> str:
        name = self.string(path, value)
        if name not in self.strategies:
            known = ", ".join(sorted(self.strategies))
            expected = f"expected one of: {known}" if known else "no strategies are registered"
            self.fail(path, f"unknown discovery strategy {name!r} ({expected})")
        return name

    def interval(self, path: KeyPath, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self.fail(path, f"expected a whole number of seconds > 0, got {show(value)}")
        return value

    def handler(self, path: KeyPath, value: Any) -> str | None:
        if value is not None and not (isinstance(value, str) and _IMPORT_PATH.fullmatch(value)):
            self.fail(
                path,
                "expected a dotted import path such as handlers.codebase_maintenance.process, "
                f"got {show(value)}",
            )
        return value

    def stages(self, path: KeyPath, value: Any) -> tuple[str, ...]:
        order = " → ".join(STAGES)
        if not isinstance(value, list) or not value:
            self.fail(path, f"expected a list of stages ({', '.join(STAGES)}), got {show(value)}")
        for i, stage in enumerate(value):
            if stage not in STAGES:
                self.fail(
                    path + (i,),
                    f"unknown stage {show(stage)} (expected one of: {', '.join(STAGES)})",
                )
            if stage in value[:i]:
                self.fail(path + (i,), f"stage {stage!r} is listed twice")
            if i and STAGES.index(stage) < STAGES.index(value[i - 1]):
                self.fail(path + (i,), f"stage {stage!r} cannot come after {value[i - 1]!r} "
                          f"(the chain runs {order}; leave out the stages a job skips)")
        if "execute" not in value:
            self.fail(path, f"a job's stages must include execute (the stage that does the "
                      f"work), got {show(value)}")
        return tuple(value)

    def eligibility(self, path: KeyPath, value: Any) -> Eligibility:
        converters = {"data_filter": self.data_filter, "require_user_idle_minutes": self.amount}
        fields = self.mapping(path, value, tuple(converters), "eligibility settings")
        return Eligibility(**self.convert(path, fields, converters))

    def data_filter(self, path: KeyPath, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(
                path,
                f"expected a mapping of data key to value or list of values, got {show(value)}",
            )
        for key, wanted in value.items():
            key_path = path + (str(key),)
            if not isinstance(key, str) or not _IDENTIFIER.fullmatch(key):
                self.fail(
                    key_path,
                    f"invalid data_filter key {str(key)!r} (a plain identifier: letters, "
                    "digits and '_', not starting with a digit)",
                    at_key=True,
                )
            if isinstance(wanted, list):
                if not wanted:
                    self.fail(key_path, "an empty list matches nothing; list at least one value")
                for i, option in enumerate(wanted):
                    if not is_scalar(option):
                        self.fail(
                            key_path + (i,), f"expected a scalar or null, got {show(option)}"
                        )
            elif not is_scalar(wanted):
                self.fail(
                    key_path, f"expected a scalar, null or a list of them, got {show(wanted)}"
                )
        return dict(value)
