"""The `env_vars` check: environment variables the code reads that no doc mentions, and
variables the docs tell users to set that nothing reads. Reported, never fixed; only names
are ever read out of a file, never values."""

from __future__ import annotations

import re
from collections.abc import Iterator

from helmq.checks.registry import Problem
from helmq.checks.report_only import ReportOnlyCheck
from helmq.checks.sources import (
    SourceTree,
    is_ci,
    is_code,
    is_compose,
    is_doc,
    is_dockerfile,
    is_env_example,
    is_env_file,
    is_test,
    is_text_like,
)

_NAME = r"([A-Z][A-Z0-9_]*)"
_READ_FORMS = (
    r"\bos\.environ\s*\[\s*{q}{name}{q}",  # Python
    r"\b(?:environ|env)\.get\(\s*{q}{name}{q}",
    r"\bgetenv\(\s*{q}{name}{q}",  # Python, C, PHP, Java's System.getenv
    r"\benv\s*=\s*{q}{name}{q}",  # pydantic's Field(env=…)
    r"\bprocess\.env\.{name}\b",  # JavaScript
    r"\bprocess\.env\[\s*{q}{name}{q}\s*\]",
    r"\bimport\.meta\.env\.{name}\b",
    r"\bos\.(?:Getenv|LookupEnv)\(\s*{q}{name}{q}",  # Go
    r"\benv::var(?:_os)?\(\s*{q}{name}{q}",  # Rust
    r"\b(?:option_)?env!\(\s*{q}{name}{q}",
    r"\bENV\s*(?:\[\s*|\.fetch\(\s*){q}{name}{q}",  # Ruby
    r"GetEnvironmentVariable\(\s*{q}{name}{q}",  # C#
    r"\bSystem\.(?:get_env|fetch_env!?)\(\s*{q}{name}{q}",  # Elixir
)
_READS = re.compile("|".join(form.format(q="[\"'`]", name=_NAME) for form in _READ_FORMS))
_COMPOSE_READ = re.compile(r"\$\{" + _NAME + r"(?:[:?+-][^}]*)?\}")
_TOKEN = re.compile(r"(?<![A-Za-z0-9_])[A-Z][A-Z0-9_]*")
_OWN = r"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"
"""A project's own variable in a doc: upper case with at least one `_` (`APP_SECRET`)."""
_ASSIGNED = re.compile(
    r"`" + _OWN + r"=[^`]*`"  # a code span `APP_SECRET=…`
    r"|^\s*(?:export\s+|set\s+|\$env:)?" + _OWN + r"="  # a line of an env block
    r"|(?:^|\s)(?:-e|--env)[ =]" + _OWN + r"\b"  # docker run -e APP_SECRET
)
# A bare name (`APP_SECRET`, or a table's first cell) may be a constant or a form field; it
# counts only where the line, its table's header or its section speaks of the environment.
_NAMED = re.compile(r"`" + _OWN + r"`|^\s*\|?\s*" + _OWN + r"\s*\|")
_ENV_WORDS = re.compile(r"\benv\b|environment|variable", re.IGNORECASE)
_HEADING = re.compile(r" {0,3}(#{1,6})\s")
_EXAMPLE_KEY = re.compile(r"\s*(?:export\s+)?" + _OWN + r"\s*=")
# What config sets for the code: `KEY=…` in a dotenv file, `KEY: …` or `- KEY=…` under a
# compose file's environment, `ENV KEY …` in a Dockerfile.
_PROVIDED = re.compile(r"\s*(?:export\s+|-\s*|ENV\s+|ARG\s+)?[\"']?" + _NAME + r"[\"']?\s*[:= ]")
SYSTEM = frozenset({
    "HOME", "PATH", "USER", "USERNAME", "LOGNAME", "PWD", "OLDPWD", "SHELL", "TERM", "LANG",
    "LANGUAGE", "TMPDIR", "TMP", "TEMP", "CI", "TZ", "EDITOR", "VISUAL", "PAGER", "DISPLAY",
    "HOSTNAME", "COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "CLICOLOR", "CLICOLOR_FORCE",
    "VIRTUAL_ENV", "NODE_ENV", "NODE_OPTIONS", "JAVA_HOME", "LD_LIBRARY_PATH",
    "LD_PRELOAD", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "KUBECONFIG",
    "APPDATA", "LOCALAPPDATA", "USERPROFILE", "PROGRAMFILES", "SYSTEMROOT", "COMSPEC",
    "WINDIR", "PATHEXT", "SHLVL", "UID", "EUID", "PPID", "MAIL", "COLORTERM", "SUDO_USER",
    "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "MAKEFLAGS", "DEBIAN_FRONTEND", "WSL_DISTRO_NAME",
    "BASH_ENV", "PROMPT_COMMAND", "CDPATH", "HISTFILE", "CC", "CXX", "CFLAGS", "CXXFLAGS",
    "CPPFLAGS", "LDFLAGS", "PKG_CONFIG_PATH", "MAKE", "SOURCE_DATE_EPOCH",
})
"""Variables the system, the shell or the platform sets: nobody documents them per project."""
SYSTEM_PREFIXES = ("LC_", "XDG_", "GITHUB_", "RUNNER_", "GITLAB_", "CI_", "TRAVIS_", "CIRCLE",
                   "BUILDKITE_", "JENKINS_", "CARGO_", "RUSTUP_", "RUST_", "PYTHON", "PIP_",
                   "UV_", "POETRY_", "CONDA_", "NPM_", "NVM_", "PYTEST_", "KUBERNETES_",
                   "SSH_", "GPG_", "GIT_", "TERM_", "DOCKER_", "COMPOSE_", "BUILDX_", "GO",
                   "HOMEBREW_", "VSCODE_", "ANDROID_")
TOOL_PREFIXES = ("AWS_", "AZURE_", "GOOGLE_", "GCLOUD_", "OPENAI_", "ANTHROPIC_", "HF_",
                 "HUGGINGFACE_", "TRANSFORMERS_", "TORCH_", "NVIDIA_", "SENTRY_", "DD_",
                 "DATADOG_", "OTEL_", "NEW_RELIC_", "JAVA_", "MAVEN_", "GRADLE_", "NODE_",
                 "JUPYTER_", "MACOSX_", "VIRTUALENV_", "PIPENV_", "YARN_", "PNPM_")
"""Prefixes of variables that third-party tools and SDKs read themselves, so a doc may tell
users to set them although the project's own code never names them."""


def _is_system(name: str) -> bool:
    return name in SYSTEM or name.startswith(SYSTEM_PREFIXES)


def reads(rel: str, text: str) -> Iterator[tuple[int, str]]:
    """(line, name) of every environment variable the file reads by a literal name."""
    pattern = _COMPOSE_READ if is_compose(rel) else _READS
    for number, line in enumerate(text.split("\n"), start=1):
        for match in pattern.finditer(line):
            yield number, match.group(match.lastindex or 1)


def provided(rel: str, text: str) -> set[str]:
    """The variables a dotenv file, compose file or Dockerfile sets for the code."""
    if not (is_env_file(rel) or is_compose(rel) or is_dockerfile(rel)):
        return set()
    return {match.group(1) for line in text.split("\n") if (match := _PROVIDED.match(line))}


def documented_settings(rel: str, text: str) -> Iterator[tuple[int, str]]:
    """(line, name) of every variable the doc presents as one to set."""
    example = is_env_example(rel)
    sections: list[bool] = []  # per heading level above the line: does it speak of the env?
    table = False
    previous = ""
    for number, line in enumerate(text.split("\n"), start=1):
        if example:
            if key := _EXAMPLE_KEY.match(line):
                yield number, key.group(1)
            continue
        if heading := _HEADING.match(line):
            sections = [*sections[: len(heading.group(1)) - 1], bool(_ENV_WORDS.search(line))]
        in_table = line.lstrip().startswith("|")
        if in_table and not previous.lstrip().startswith("|"):
            table = bool(_ENV_WORDS.search(line))  # a table's header row
        previous = line
        found = list(_ASSIGNED.finditer(line))
        if any(sections) or (in_table and table) or _ENV_WORDS.search(line):
            found += _NAMED.finditer(line)
        for match in found:
            yield number, next(g for g in match.groups() if g)


class EnvVarsCheck(ReportOnlyCheck):
    """Environment variables read but undocumented, or documented but read by nothing."""

    name = "env_vars"
    keywords = ("undocumented env", "undocumented environment", "env var drift",
                "env vars in docs", "environment variables in docs")
    titles = {
        "code": "Undocumented env var {name} (read in {file})",
        "docs": "Documented env var {name} is read by no code",
    }
    # What a variable means, or whether it is still wanted, takes a person.
    not_fixed = "environment variables are reported, not fixed"

    def inspect(self, tree: SourceTree) -> list[Problem]:
        """Each variable the project's code reads that no doc names and no config sets (a
        dotenv, compose or Docker file), at its first read; and each variable a doc tells
        users to set that no code or config names, where the docs first present it."""
        known: set[str] = set()
        settings: dict[str, tuple[str, int]] = {}
        for rel in tree.files:
            if not (is_doc(rel) or is_env_example(rel)):
                continue
            text = tree.text(rel)
            if text is None:
                continue
            known.update(_TOKEN.findall(text))
            for number, name in documented_settings(rel, text):
                settings.setdefault(name, (rel, number))
        code_tokens: set[str] = set()
        read: dict[str, list[tuple[str, int]]] = {}
        for rel in tree.files:
            if is_doc(rel) or is_env_example(rel) or not is_text_like(rel):
                continue
            # Tests and CI read variables of their own set up; those are not the users'.
            project_code = is_code(rel) and not is_test(rel) and not is_ci(rel)
            # Any file naming a variable, a shell script say, counts as reading it.
            text = tree.text(rel, quiet=not project_code)
            if text is None:
                continue
            code_tokens.update(_TOKEN.findall(text))
            known |= provided(rel, text)
            if project_code:
                for number, name in reads(rel, text):
                    read.setdefault(name, []).append((rel, number))
        problems = [
            self._undocumented(name, places) for name, places in sorted(read.items())
            if name not in known and not _is_system(name)
        ]
        problems += [
            self._unread(name, *where) for name, where in sorted(settings.items())
            if name not in code_tokens and not _is_system(name)
            and not name.startswith(TOOL_PREFIXES)
        ]
        return problems

    @staticmethod
    def _undocumented(name: str, places: list[tuple[str, int]]) -> Problem:
        file, line = places[0]
        return Problem(
            file=file, line=line, key=name,
            message=f"environment variable {name} is read in {file} but no doc mentions it; "
                    "document it (README, docs/ or .env.example)",
            detail={"name": name, "side": "code",
                    "read_at": [f"{f}:{n}" for f, n in places[:10]]},
        )

    @staticmethod
    def _unread(name: str, file: str, line: int) -> Problem:
        return Problem(
            file=file, line=line, key=name,
            message=f"{file} documents environment variable {name}, but no code or config "
                    "reads it; drop it from the docs or wire it up",
            detail={"name": name, "side": "docs"},
        )


CHECK = EnvVarsCheck()
