"""One headless `claude` session in the item's worktree (`tier` runs it under the budget).

The session never touches the user's checkout (it runs in `helmq/<item_key>`'s worktree, with
edits outside it refused), never outlives helmq's limits (max_minutes, pause policy, the
process group is always gone when this returns) and always leaves a session id, a transcript
path and a report behind, whatever its outcome.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from helmq.domain.item import WorkItem
from helmq.domain.model import Stage, Tier
from helmq.domain.outcome import Carried, FailureClass, Outcome, WaitReason
from helmq.errors import ConfigError, SlotBusy
from helmq.repos.worktree import Worktree, branch_diff, changed_files, commit_all, prepare_worktree
from helmq.tiers.claude.config import ClaudeConfig, SessionLimits, resolve_bin
from helmq.tiers.claude.outcome import SessionOutcome, Verdict, classify_session
from helmq.tiers.claude.process import SessionRun, SessionSpec, run_session
from helmq.tiers.claude.prompt import build_prompt, resume_prompt
from helmq.tiers.claude.report import write_session_report
from helmq.tiers.claude.slot import session_slot
from helmq.tiers.claude.stream import Progress
from helmq.tiers.claude.transcript import expected_transcript, find_transcript
from helmq.tiers.workspace import no_repo

log = logging.getLogger(__name__)

TIER = Tier.CLAUDE_SESSION.value
EDIT_TOOLS = ("Edit", "Write", "MultiEdit", "NotebookEdit")
PASSED_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "HTTPS_PROXY", "HTTP_PROXY",
              "NO_PROXY", "https_proxy", "http_proxy", "no_proxy", "SSL_CERT_FILE",
              "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS")
"""What the CLI may inherit besides what helmq sets: locale, temp dir and network plumbing.
Nothing else: the worker's environment holds secrets (database URL, UI token)."""
USER_RETURNED_RETRY_SECONDS = 60.0
"""The dispatcher still waits for the user to be idle; this only spaces the retries."""
SLOT_BUSY_RETRY_SECONDS = 60.0


class Dirs(Protocol):
    """Where worktrees and reports go (the stages' context)."""

    @property
    def worktrees_dir(self) -> Path: ...
    @property
    def reports_dir(self) -> Path: ...


class SessionStore(Protocol):
    """The queries the tier needs (helmq.store.session_queries.SessionQueries)."""

    def record_session(self, item_id: int, attempt: int, session: dict[str, Any], *,
                       lease_seconds: float, session_id: str | None = None) -> bool: ...
    def heartbeat(self, item_id: int, attempt: int, *, lease_seconds: float) -> bool: ...
    def open_breaker(self, tier: str, reason: str, *, cooldown_seconds: float) -> Any: ...
    def open_tier_breaker(self, tier: str) -> Any: ...
    def close_breaker(self, tier: str) -> bool: ...
    def get_item(self, ref: int | str) -> WorkItem | None: ...


READ_TOOLS = ("Read", "Glob", "Grep", "LS", "NotebookRead")


def allow_list(tools: tuple[str, ...]) -> list[str]:
    """The allow-list for the CLI. A bare Edit/Write rule would allow edits anywhere on disk
    and a bare Read reads anywhere (observed on claude 2.1.332); without them the CLI reads
    and (in acceptEdits mode) edits inside its working directory, the worktree, and is
    refused elsewhere."""
    return [t for t in tools if t.strip() not in EDIT_TOOLS + READ_TOOLS]


def deny_list(user_repo: Path) -> list[str]:
    """Rules that refuse edits in the user's checkout, whatever the allow-list says."""
    root = "/" + user_repo.as_posix()  # `//abs/path` is an absolute path in a rule
    return [f"{tool}({root}/**)" for tool in EDIT_TOOLS]


def cli_argv(binary: str, config: ClaudeConfig, limits: SessionLimits, *, session_id: str,
             resume: bool, user_repo: Path) -> list[str]:
    """The CLI's arguments; the prompt goes on stdin, so no item text is ever parsed as one."""
    argv = [
        binary, "-p", "--output-format", "stream-json", "--verbose",
        "--max-turns", str(limits.max_turns),
        "--max-budget-usd", f"{limits.max_budget_usd:.4f}",
        "--permission-mode", "acceptEdits",
        "--allowedTools", ",".join(allow_list(config.allowed_tools)),
        "--disallowedTools", ",".join(deny_list(user_repo)),
    ]
    if config.model:
        argv += ["--model", config.model]
    # --session-id with --resume needs --fork-session, which would start a new id.
    argv += ["--resume", session_id] if resume else ["--session-id", session_id]
    return argv


def cli_env(config: ClaudeConfig) -> dict[str, str]:
    """The CLI's environment: isolated config and HOME, credentials, no other secrets."""
    inherited = config.parent_env
    env = {k: inherited[k] for k in PASSED_ENV if k in inherited}
    env.update(
        PATH=inherited.get("PATH", os.defpath),
        HOME=str(config.home),
        CLAUDE_CONFIG_DIR=str(config.config_dir),
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_TELEMETRY="1",
        DISABLE_AUTOUPDATER="1",
        DISABLE_ERROR_REPORTING="1",
    )
    if config.api_key:
        env["ANTHROPIC_API_KEY"] = config.api_key
    if config.base_url:
        env["ANTHROPIC_BASE_URL"] = config.base_url
    env.update(config.env)
    return env


def _checkout_top(wt: Worktree, worktrees_dir: Path, item_key: str) -> Path:
    """The user's checkout root (the item's repo may be a directory inside it)."""
    inside = wt.path.relative_to((worktrees_dir.expanduser() / item_key).resolve())
    return Path(*wt.repo.parts[: len(wt.repo.parts) - len(inside.parts)])


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class _Session:
    """One execution of an item: the worktree, the CLI run and what is recorded about it."""

    def __init__(self, item: WorkItem, dirs: Dirs, store: SessionStore | None,
                 config: ClaudeConfig, limits: SessionLimits, binary: str) -> None:
        self.item, self.dirs, self.store, self.config = item, dirs, store, config
        self.limits, self.binary = limits, binary
        previous = item.data.get("claude") or {}
        self.resume_id: str | None = previous.get("resume_session_id") or None
        self.session_id = self.resume_id or str(uuid.uuid4())
        self.record: dict[str, Any] = {"session_id": self.session_id,
                                       "resumed": self.resume_id is not None,
                                       "resume_session_id": self.resume_id}

    # --- progress -----------------------------------------------------------------------

    def _save(self, **fields: Any) -> bool:
        self.record.update(fields)
        if self.store is None:
            return True
        return self.store.record_session(self.item.id, self.item.attempt, dict(self.record),
                                         lease_seconds=self.config.lease_seconds,
                                         session_id=self.session_id)

    def _heartbeat(self) -> None:
        if self.store is not None:
            self.store.heartbeat(self.item.id, self.item.attempt,
                                 lease_seconds=self.config.lease_seconds)

    def _progress(self, progress: Progress, run: SessionRun, state: str) -> bool:
        return self._save(
            state=state, turns=progress.turns, tool_calls=progress.tool_calls,
            tools=progress.tools, last_tool=progress.last_tool, cost_usd=progress.cost_usd,
            cost_estimated=progress.cost_estimated, events=progress.events,
            garbage_lines=progress.garbage_lines, pauses=run.pauses,
            paused_seconds=round(run.paused_seconds, 1), pid=run.pid,
        )

    # --- the run ------------------------------------------------------------------------

    def run(self) -> Outcome:
        item = self.item
        if self.resume_id and find_transcript(self.config.config_dir, self.resume_id) is None:
            # `--resume` of a lost transcript fails like a broken CLI would: start afresh.
            log.warning("item %s: transcript of session %s is gone; starting a new session",
                        item.item_key, self.resume_id)
            self.resume_id, self.session_id = None, str(uuid.uuid4())
            self.record.update(session_id=self.session_id, resumed=False, resume_session_id=None)
        # A new run starts from the user's HEAD; a rework round or a resumed session keeps
        # the branch (and the edits the interrupted session made).
        wt = prepare_worktree(Path(str(item.repo)), self.dirs.worktrees_dir, item.item_key,
                              fresh=item.review_rounds == 0 and self.resume_id is None)
        user_repo = _checkout_top(wt, self.dirs.worktrees_dir, item.item_key)
        prompt = resume_prompt(item) if self.resume_id else build_prompt(item, branch=wt.branch)
        spec = SessionSpec(
            argv=cli_argv(self.binary, self.config, self.limits, session_id=self.session_id,
                          resume=self.resume_id is not None, user_repo=user_repo),
            cwd=wt.path, env=cli_env(self.config), prompt=prompt,
            max_seconds=self.limits.max_minutes * 60, pause_policy=self.limits.pause_policy,
            last_active_path=self.config.last_active_path,
            resume_idle_seconds=self.config.resume_idle_minutes * 60,
            max_pause_seconds=self.config.max_pause_minutes * 60,
            stop_grace_seconds=self.config.stop_grace_seconds,
            progress_seconds=self.config.progress_seconds,
        )
        transcript = expected_transcript(self.config.config_dir, wt.path, self.session_id)
        self.config.home.mkdir(parents=True, exist_ok=True)
        try:
            with session_slot(self.config.slot_path, wait_seconds=self.config.slot_wait_seconds,
                              on_wait=self._heartbeat) as marker:
                self._save(state="starting", transcript_path=str(transcript),
                           branch=wt.branch, worktree=str(wt.path),
                           started_at=_iso(datetime.now(UTC)), ended_at=None)
                run = run_session(spec, self._progress,
                                  on_start=lambda pgid: marker.set(pgid, self.binary))
        except SlotBusy as exc:
            return Outcome.waiting(WaitReason.TIER_BUSY, f"{exc}; waiting for the slot",
                                   retry_after=SLOT_BUSY_RETRY_SECONDS)
        verdict = classify_session(run, max_seconds=spec.max_seconds)
        self._breaker(verdict, run)
        return self._finish(wt, run, verdict)

    def _breaker(self, verdict: Verdict, run: SessionRun) -> None:
        if self.store is None:
            return
        if verdict.breaks_tier:
            breaker = self.store.open_breaker(TIER, verdict.reason,
                                              cooldown_seconds=self.config.breaker_cooldown_seconds)
            log.warning("claude tier broken until %s: %s", breaker.open_until, verdict.reason)
        elif run.watcher.events:
            self.store.close_breaker(TIER)

    def _finish(self, wt: Worktree, run: SessionRun, verdict: Verdict) -> Outcome:
        item, progress = self.item, run.watcher.progress()
        result = run.watcher.result or {}
        outcome = verdict.outcome
        commit = commit_all(wt, f"helmq: {item.title}\n\nclaude session {self.session_id} "
                                f"({outcome})\nhelmq item {item.item_key}")
        diff = branch_diff(wt)
        transcript = find_transcript(self.config.config_dir, self.session_id,
                                     progress.cwd or wt.path)
        # Without a transcript (stopped before its first turn) there is nothing to resume.
        resumable = transcript is not None and (
            outcome is SessionOutcome.USER_RETURNED or verdict.retryable)
        self.record.update(
            state="finished", outcome=outcome.value, reason=verdict.reason,
            session_id=progress.session_id or self.session_id,
            transcript_path=str(transcript or self.record["transcript_path"]),
            transcript_found=transcript is not None,
            turns=progress.turns, tool_calls=progress.tool_calls, tools=progress.tools,
            cost_usd=progress.cost_usd, cost_estimated=progress.cost_estimated,
            terminal_reason=result.get("terminal_reason"),
            api_error_status=verdict.api_status, exit_code=run.exit_code,
            stop_signal=run.stop_signal, pauses=run.pauses,
            paused_seconds=round(run.paused_seconds, 1), seconds=round(run.seconds, 1),
            ended_at=_iso(run.ended_at), garbage_lines=progress.garbage_lines,
            permission_denials=result.get("permission_denials") or [],
            result=result.get("result") if isinstance(result.get("result"), str) else None,
            commit=commit, stderr_tail=run.stderr_tail[-2000:] if outcome in (
                SessionOutcome.CRASH, SessionOutcome.API_ERROR) else None,
            resume_session_id=self.session_id if resumable else None,
        )
        report = write_session_report(self.dirs.reports_dir, item, self.record, diff=diff)
        execute = {
            "tier": TIER, "outcome": outcome.value, "session_id": self.record["session_id"],
            "transcript_path": self.record["transcript_path"], "turns": progress.turns,
            "tool_calls": progress.tool_calls, "cost_usd": progress.cost_usd,
            "terminal_reason": self.record["terminal_reason"], "result": self.record["result"],
            "commit": commit, "base_commit": wt.base_commit, "worktree": str(wt.path),
            "changed_files": changed_files(wt), "report": str(report),
        }
        return _outcome(verdict, self.config, data={"claude": self.record, "execute": execute},
                        cost=progress.cost_usd or 0.0, branch=wt.branch, report=str(report))


def _outcome(verdict: Verdict, config: ClaudeConfig, *, data: dict[str, Any], cost: float,
             branch: str, report: str) -> Outcome:
    """The helmq outcome of a session's verdict."""
    kind = verdict.outcome
    common: Carried = {"data": data, "cost_usd": cost, "branch": branch, "report_path": report}
    if kind is SessionOutcome.OK:
        return Outcome.next(Stage.REVIEW, f"claude session {verdict.reason}", **common)
    if kind is SessionOutcome.USER_RETURNED:
        return Outcome.waiting(WaitReason.USER_RETURNED, verdict.reason,
                               retry_after=USER_RETURNED_RETRY_SECONDS, **common)
    if verdict.retryable:
        return Outcome.waiting(WaitReason.API_ERROR, verdict.reason,
                               retry_after=config.api_retry_seconds, **common)
    failed: Carried = {**common, "error": verdict.reason}
    return Outcome.failed(FailureClass(kind.value), f"{kind}: {verdict.reason}", **failed)


def execute_claude(item: WorkItem, dirs: Dirs, *, repo: SessionStore | None,
                   config: ClaudeConfig) -> Outcome:
    """Run the item as a headless Claude session on its branch and report how it ended."""
    if not item.repo:
        return no_repo(item)
    if not config.api_key:
        return Outcome.waiting(WaitReason.NO_CREDENTIALS,
                               "tier claude_session needs ANTHROPIC_API_KEY; waiting until it is "
                               "set", retry_after=config.breaker_cooldown_seconds)
    breaker = repo.open_tier_breaker(TIER) if repo is not None else None
    if breaker is not None:
        wait = max((breaker.open_until - datetime.now(UTC)).total_seconds(), 1.0)
        return Outcome.waiting(WaitReason.TIER_BROKEN, f"the claude tier is broken "
                               f"({breaker.reason}); retrying after {wait:.0f} s",
                               retry_after=wait)
    try:
        limits = config.limits_for(item.data)
    except ConfigError as exc:
        msg = f"item {item.item_key}: {exc}"
        return Outcome.failed(FailureClass.BAD_ITEM, msg, error=msg)
    binary = resolve_bin(config.bin)
    if binary is None or shutil.which(binary) is None:
        reason = (f"the claude CLI {binary} does not exist or is not executable; fix "
                  "HELMQ_CLAUDE_BIN" if binary else
                  "no claude CLI found: set HELMQ_CLAUDE_BIN, put `claude` on PATH or "
                  "install claude-agent-sdk (it bundles one)")
        if repo is not None:
            repo.open_breaker(TIER, reason, cooldown_seconds=config.breaker_cooldown_seconds)
        return Outcome.failed(FailureClass.CRASH, f"crash: {reason}", error=reason)
    return _Session(item, dirs, repo, config, limits, binary).run()
