"""/metrics in the Prometheus text format (0.0.4), written by hand: names start `helmq_`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from helmq.domain.model import Status, Tier
from helmq.store.ui_queries import StageDurations, UIQueries

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Snapshot:
    """The values one scrape reports."""

    items: list[tuple[str, str | None, int]]
    oldest_pending_age: float
    durations: list[StageDurations]
    cost_today: float
    breakers_open: Mapping[str, bool] = field(default_factory=dict)
    paused_jobs: Mapping[str, bool] = field(default_factory=dict)


def collect(queries: UIQueries, *, paused: Mapping[str, bool],
            now: datetime | None = None) -> Snapshot:
    """Read a Snapshot from the store."""
    from helmq.store.session_queries import SessionQueries

    now = now or datetime.now(UTC)
    open_tiers = {b.tier for b in SessionQueries(queries.engine).tier_breakers()
                  if b.open_until > now}
    oldest = queries.oldest_pending_since()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return Snapshot(
        items=queries.items_by_status_tier(),
        oldest_pending_age=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        durations=queries.stage_durations(now - timedelta(days=1)),
        cost_today=queries.cost_since(midnight),
        breakers_open={t.value: t.value in open_tiers for t in Tier},
        paused_jobs=paused,
    )


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def _family(name: str, kind: str, doc: str, samples: Iterable[str]) -> list[str]:
    return [f"# HELP {name} {doc}", f"# TYPE {name} {kind}", *samples]


def render(snap: Snapshot) -> str:
    """The exposition text of one Snapshot."""
    counts = {(s, t or "none"): n for s, t, n in snap.items}
    tiers = [t.value for t in Tier] + ["none"]
    tiers += sorted({t for _, t in counts} - set(tiers))
    statuses = [s.value for s in Status] + sorted({s for s, _ in counts} - set(Status))
    lines = _family("helmq_items", "gauge", "Work items by status and tier (tier none: not "
                    "classified yet).",
                    (f"helmq_items{_labels(status=s, tier=t)} {counts.get((s, t), 0)}"
                     for s in statuses for t in tiers))
    lines += _family("helmq_oldest_pending_age_seconds", "gauge",
                     "Seconds since the longest-waiting pending item last changed (0: none).",
                     [f"helmq_oldest_pending_age_seconds {_number(snap.oldest_pending_age)}"])
    samples = []
    for d in snap.durations:
        samples += [f"helmq_stage_duration_seconds_bucket{_labels(stage=d.stage, le=repr(b))} "
                    f"{n}" for b, n in d.buckets]
        samples += [
            f"helmq_stage_duration_seconds_bucket{_labels(stage=d.stage, le='+Inf')} {d.count}",
            f"helmq_stage_duration_seconds_sum{_labels(stage=d.stage)} {_number(d.seconds)}",
            f"helmq_stage_duration_seconds_count{_labels(stage=d.stage)} {d.count}",
        ]
    lines += _family("helmq_stage_duration_seconds", "histogram",
                     "Durations of stage runs finished in the last 24 hours.", samples)
    lines += _family("helmq_cost_usd_today", "gauge",
                     "US dollars recorded by stage runs started today (UTC).",
                     [f"helmq_cost_usd_today {_number(snap.cost_today)}"])
    lines += _family("helmq_breaker_open", "gauge", "1 while a tier's circuit breaker is open.",
                     (f"helmq_breaker_open{_labels(tier=t)} {int(o)}"
                      for t, o in sorted(snap.breakers_open.items())))
    lines += _family("helmq_job_paused", "gauge",
                     "1 while a job is paused (in jobs.yaml or from the UI).",
                     (f"helmq_job_paused{_labels(job=j)} {int(p)}"
                      for j, p in sorted(snap.paused_jobs.items())))
    return "\n".join(lines) + "\n"
