"""The doctor: what is stuck, failing, waiting or broken, and a one-shot reconcile (`--fix`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine

from helmq.config.settings import Settings
from helmq.domain.jobs import JobsConfig
from helmq.domain.model import Status
from helmq.store.doctor_queries import ID_CAP, DoctorQueries, Group
from helmq.store.ledger import Ledger

DAY = timedelta(hours=24)
STALE_SCAN_INTERVALS = 3
"""A job whose last scan is older than this many of its intervals has stopped scanning."""
BUDGET_WARN_SHARE = 0.8


class Severity(StrEnum):
    """How bad one check's result is; any `fail` makes the installation unhealthy."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


MARK = {Severity.OK: "✓", Severity.WARN: "!", Severity.FAIL: "✗"}

FAILURE_ADVICE = {
    "lost": "workers keep dying or losing messages mid-stage: check worker logs and memory",
    "crash": "a stage raised: see the traceback with `helmq show ID`",
    "timeout": "a stage passed its time limit: raise max_minutes or split the item",
    "api_overloaded": "the API was overloaded; such items are retried later",
    "bad_output": "the model's answer could not be applied: see `helmq show ID`",
    "unfixable": "review judged the item unfixable: edit or remove it at its source",
    "out_of_scope": "the change touched files outside the item's scope: narrow the item",
    "budget": "the budget ran out: raise budget in jobs.yaml or wait for tomorrow",
    "no_repo": "the item's repo is missing: check repos in jobs.yaml",
    "bad_item": "the item is malformed at its source: fix it there",
}
WAITING_ADVICE = {
    "no_credentials": (Severity.WARN, "set ANTHROPIC_API_KEY so LLM tiers can run"),
    "budget": (Severity.WARN, "raise budget.daily_usd in jobs.yaml or wait for tomorrow (UTC)"),
    "tier_broken": (Severity.WARN, "the tier fails for every item: see the breakers line"),
    "tier_unavailable": (Severity.WARN, "no executor for the item's tier is installed"),
    "filtered": (Severity.OK, "the job's data_filter holds them back; edit it to let them run"),
    "user_returned": (Severity.OK, "paused because you came back; they resume when you idle"),
    "tier_busy": (Severity.OK, "the tier's slot is taken; they run when it frees up"),
}


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    severity: Severity
    summary: str
    count: int = 0
    ids: list[int] = field(default_factory=list)
    advice: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "severity": self.severity.value, "count": self.count,
                "ids": self.ids, "summary": self.summary, "advice": self.advice}

    def line(self) -> str:
        ids = f" [#{', #'.join(map(str, self.ids))}{', …' if self.count > len(self.ids) else ''}]"
        return (f"{MARK[self.severity]} {self.name}: {self.summary}"
                + (ids if self.ids else "") + (f" — {self.advice}" if self.advice else ""))


@dataclass
class Report:
    """Every check's result, and what `--fix` did."""

    checks: list[Check]
    fixed: list[str] | None = None

    @property
    def healthy(self) -> bool:
        return all(c.severity is not Severity.FAIL for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"healthy": self.healthy,
                               "findings": [c.as_dict() for c in self.checks]}
        if self.fixed is not None:
            out["fixed"] = self.fixed
        return out

    def text(self) -> str:
        lines = [f"fixed: {f}" for f in self.fixed or []]
        lines += [c.line() for c in self.checks]
        lines.append("healthy" if self.healthy else "unhealthy")
        return "\n".join(lines)


def _ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "?"
    s = max(0, int((now - then).total_seconds()))
    return f"{s // 86400} d" if s >= 86400 else f"{s // 3600} h" if s >= 3600 else \
        f"{s // 60} min" if s >= 60 else f"{s} s"


def _merge(groups: dict[str, Group]) -> Group:
    ids = sorted(i for g in groups.values() for i in g.ids)[:ID_CAP]
    return Group(sum(g.count for g in groups.values()), ids,
                 min((g.oldest for g in groups.values() if g.oldest), default=None))


# --- checks ---------------------------------------------------------------------------------


def check_stuck(q: DoctorQueries, settings: Settings, now: datetime) -> list[Check]:
    """In-flight items whose lease passed: fail once the reconciler should have taken them."""
    expired = q.expired_leases(now)
    out: list[Check] = []
    if not expired:
        out.append(Check("stuck", Severity.OK, "no in-flight item has an expired lease"))
    else:
        g = _merge(expired)
        grace = timedelta(seconds=2 * settings.reconcile_interval)
        late = g.oldest is not None and g.oldest < now - grace
        by = ", ".join(f"{x.count} {s}" for s, x in sorted(expired.items()))
        out.append(Check(
            "stuck", Severity.FAIL if late else Severity.WARN,
            f"{by} with an expired lease (oldest expired {_ago(g.oldest, now)} ago)", g.count,
            g.ids, "the reconciler should have re-queued them: is beat (or `helmq up`) "
            "running? `helmq doctor --fix` re-queues them now" if late else
            "the reconciler takes them on its next pass"))
    requeued = q.requeued()
    if requeued:
        g = _merge(requeued)
        tiers = ", ".join(f"{x.count} {t or 'unclassified'}" for t, x in sorted(requeued.items()))
        out.append(Check("requeued", Severity.WARN,
                         f"{tiers} queued again after a lost message or lease", g.count, g.ids,
                         "is a worker consuming every queue (control, script, llm, vario, "
                         "claude)? `helmq items --status queued` shows stage and tier"))
    return out


def check_failures(q: DoctorQueries, now: datetime) -> list[Check]:
    """Failed items by class, overall and in the last 24 h, with stage-run errors of the day."""
    overall = q.failed_by_class()
    recent = q.failed_by_class(now - DAY)
    runs = q.run_errors_by_class(now - DAY)
    if not overall and not runs:
        return [Check("failures", Severity.OK, "no failed items")]
    out = []
    for cls in sorted(set(overall) | set(runs)):
        g, day = overall.get(cls, Group(0)), recent.get(cls, Group(0))
        summary = f"{g.count} failed item(s), {day.count} in the last 24 h"
        if runs.get(cls):
            summary += f"; {runs[cls]} stage run(s) ended with it in 24 h"
        advice = FAILURE_ADVICE.get(cls, "see `helmq show ID` for the error")
        out.append(Check(f"failed:{cls or 'unclassified'}",
                         Severity.WARN if day.count else Severity.OK,
                         summary, g.count, g.ids, advice))
    return out


def check_waiting(q: DoctorQueries, now: datetime) -> list[Check]:
    """Waiting items by reason; reasons a person must act on warn."""
    out = []
    for reason, g in sorted(q.waiting_by_reason().items()):
        severity, advice = WAITING_ADVICE.get(reason, (Severity.OK, "they are retried later"))
        out.append(Check(f"waiting:{reason or 'unknown'}", severity,
                         f"{g.count} item(s) waiting (longest {_ago(g.oldest, now)})",
                         g.count, g.ids, advice))
    return out


def check_needs_work(q: DoctorQueries) -> Check:
    """needs_work items at rest have used their review rounds: a person decides."""
    g = q.in_status(Status.NEEDS_WORK)
    if not g.count:
        return Check("needs_work", Severity.OK, "no item waits for a person")
    return Check("needs_work", Severity.WARN, f"{g.count} item(s) wait for a person", g.count,
                 g.ids, "approve, retry or reject them in the UI (`helmq ui`)")


def check_breakers(q: DoctorQueries, now: datetime) -> list[Check]:
    """Open tier breakers fail; cooled ones warn until a success or `--fix` closes them."""
    out = []
    for b in q.tier_breakers():
        why = f" ({b.reason})" if b.reason else ""
        if b.open_until > now:
            out.append(Check(f"breaker:{b.tier}", Severity.FAIL,
                             f"open until {b.open_until:%Y-%m-%d %H:%M} UTC after {b.failures} "
                             f"failure(s){why}", b.failures,
                             advice="the tier's items wait meanwhile; fix the cause"))
        else:
            out.append(Check(f"breaker:{b.tier}", Severity.WARN,
                             f"cooled down since {_ago(b.open_until, now)} after {b.failures} "
                             f"failure(s){why}", b.failures,
                             advice="the next success closes it; `helmq doctor --fix` now"))
    return out or [Check("breakers", Severity.OK, "no tier breaker is open")]


def check_scans(q: DoctorQueries, jobs: JobsConfig, now: datetime) -> list[Check]:
    """Each discovering job scanned within 3 intervals, and its last scan had no warnings."""
    latest = q.latest_scans()
    out = []
    for name, job in sorted(jobs.jobs.items()):
        if job.discovery is None or job.paused:
            continue
        scan = latest.get(name)
        check = f"scan:{name}"
        if scan is None:
            out.append(Check(check, Severity.WARN, "never scanned",
                             advice=f"run `helmq scan --job {name}` or start beat"))
            continue
        age = now - scan["finished_at"]
        limit = timedelta(seconds=STALE_SCAN_INTERVALS * job.discovery.interval)
        warnings = list(scan["warnings"] or [])
        if age > limit:
            out.append(Check(check, Severity.WARN,
                             f"last scan {_ago(scan['finished_at'], now)} ago "
                             f"(interval {job.discovery.interval} s)",
                             advice="is beat (or `helmq up`) running?"))
        elif warnings:
            out.append(Check(check, Severity.WARN,
                             f"last scan had {len(warnings)} warning(s): {warnings[0]}",
                             len(warnings), advice="see `helmq scan --job " + name + "`"))
        else:
            out.append(Check(check, Severity.OK,
                             f"last scan {_ago(scan['finished_at'], now)} ago"))
    return out


def check_budget(ledger: Ledger, jobs: JobsConfig, now: datetime) -> Check:
    """Today's LLM spend (UTC day) against budget.daily_usd."""
    held = float(ledger.held_on(now.astimezone(UTC).date()))
    limit = jobs.budget.daily_usd
    share = held / limit if limit else 1.0
    summary = f"${held:.2f} of ${limit:.2f} today ({share:.0%})"
    if share >= BUDGET_WARN_SHARE:
        return Check("budget", Severity.WARN, summary,
                     advice="LLM items wait once it is spent: raise budget.daily_usd or wait "
                     "for tomorrow (UTC)")
    return Check("budget", Severity.OK, summary)


def diagnose(engine: Engine, jobs: JobsConfig, settings: Settings,
             now: datetime | None = None) -> Report:
    """Run every check against the database."""
    now = now or datetime.now(UTC)
    q = DoctorQueries(engine)
    return Report([
        *check_stuck(q, settings, now),
        *check_failures(q, now),
        *check_waiting(q, now),
        check_needs_work(q),
        *check_breakers(q, now),
        *check_scans(q, jobs, now),
        check_budget(Ledger(engine), jobs, now),
    ])
