"""Query parameters of the list page and /api/items, checked and turned into an ItemFilter."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException

from helmq.domain.model import Status, Tier
from helmq.store.ui_queries import SORTS, ItemFilter

TABS = ("external", "internal")
COUNT_CAP = 10_000
"""Counts stop here (shown as `10,000+`): counting 100k rows at every refresh is wasted work."""


@dataclass(frozen=True)
class Query:
    """What a person asked the list for: tab, filters, search, order, page."""

    tab: str
    job: str | None = None
    status: str | None = None
    tier: str | None = None
    q: str | None = None
    sort: str = "updated"

    def filter(self, internal_jobs: frozenset[str]) -> ItemFilter:
        return ItemFilter(**tab_jobs(self.tab, internal_jobs), job=self.job,
                          status=self.status, tier=self.tier, search=self.q, sort=self.sort)

    def params(self, **change: object) -> dict[str, str]:
        """The query string for this list with `change` applied (for links)."""
        values = {"tab": self.tab, "job": self.job, "status": self.status, "tier": self.tier,
                  "q": self.q, "sort": self.sort if self.sort != "updated" else None, **change}
        return {k: str(v) for k, v in values.items() if v not in (None, "")}


def tab_jobs(tab: str | None, internal_jobs: frozenset[str]) -> dict:
    """ItemFilter arguments selecting one tab's jobs (no tab: every job)."""
    if tab == "internal":
        return {"jobs": internal_jobs}
    if tab == "external":
        return {"jobs": internal_jobs, "exclude_jobs": True} if internal_jobs else {}
    return {}


def _choice(name: str, value: str | None, allowed: list[str]) -> str | None:
    if value in (None, ""):
        return None
    if value not in allowed:
        raise HTTPException(400, f"{name}={value!r} is not one of {', '.join(allowed)}")
    return value


def parse_query(*, tab: str | None, job: str | None, status: str | None, tier: str | None,
                q: str | None, sort: str | None, default_tab: str) -> Query:
    """A checked Query; an unknown status, tier, sort or tab is a 400 that lists the choices."""
    return Query(
        tab=_choice("tab", tab, list(TABS)) or default_tab,
        job=job or None,
        status=_choice("status", status, [s.value for s in Status]),
        tier=_choice("tier", tier, [t.value for t in Tier]),
        q=(q or "").strip()[:200] or None,
        sort=_choice("sort", sort, list(SORTS)) or "updated",
    )


def parse_internal(value: str | None) -> str | None:
    """`?internal=true|false` of /api/items as a tab name (None: both tabs)."""
    if value in (None, ""):
        return None
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return "internal"
    if lowered in ("false", "0", "no"):
        return "external"
    raise HTTPException(400, f"internal={value!r}: use true or false")
