"""The HTML pages: the External/Internal tabs, an item, its report and its transcript."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from helmq.domain.item import WorkItem
from helmq.domain.model import IN_FLIGHT, Status, Tier
from helmq.store.ui_queries import APPROVABLE, REJECTABLE, RETRYABLE, SORTS, ItemFilter
from helmq.web.artifacts import (
    read_text,
    report_file,
    transcript_candidates,
    transcript_file,
)
from helmq.web.context import UIContext, ctx
from helmq.web.listing import COUNT_CAP, TABS, parse_query, tab_jobs
from helmq.web.transcript import parse_transcript
from helmq.web.views import item_diff

router = APIRouter()
REFRESH_SECONDS = 5


def _page(request: Request, template: str, **values: Any) -> HTMLResponse:
    c = ctx(request)
    html = request.app.state.templates.get_template(template).render(
        token_configured=bool(c.settings.ui_token), refresh=REFRESH_SECONDS, **values)
    return HTMLResponse(html)


def _default_tab(c: UIContext) -> str:
    """External when some configured job is external, else Internal (the built-in job's)."""
    return "external" if any(not j.internal for j in c.jobs.jobs.values()) else "internal"


def _jobs_of_tab(c: UIContext, tab: str) -> list[dict[str, Any]]:
    states = c.queries.job_states()
    return [{"name": n, "emoji": j.emoji, "yaml_paused": j.paused,
             "ui_paused": bool(states.get(n, {}).get("paused")),
             "strategy": j.discovery.strategy if j.discovery else None}
            for n, j in sorted(c.jobs.jobs.items()) if j.internal == (tab == "internal")]


@router.get("/", response_class=HTMLResponse)
def index(
    request: Request,
    tab: str | None = None,
    job: str | None = None,
    status: str | None = None,
    tier: str | None = None,
    q: str | None = None,
    sort: str | None = None,
    page: int = Query(1, ge=1, le=100_000),
    per: int = Query(50, ge=1, le=200),
    fragment: bool = False,
) -> HTMLResponse:
    """A tab of items with filters, search, order and pages."""
    c = ctx(request)
    query = parse_query(tab=tab, job=job, status=status, tier=tier, q=q, sort=sort,
                        default_tab=_default_tab(c))
    f = query.filter(c.internal_jobs)
    rows = c.queries.page_items(f, limit=per + 1, offset=(page - 1) * per)
    counts = {} if fragment else {
        t: c.queries.count_items(ItemFilter(**tab_jobs(t, c.internal_jobs)), cap=COUNT_CAP)
        for t in TABS}
    total = counts.get(query.tab) if counts and not any(
        (query.job, query.status, query.tier, query.q)) else c.queries.count_items(
        f, cap=COUNT_CAP)
    values = {
        "query": query, "rows": rows[:per], "has_next": len(rows) > per, "page": page, "per": per,
        "total": total, "cap": COUNT_CAP, "emoji": {n: j.emoji for n, j in c.jobs.jobs.items()},
        "internal": query.tab == "internal",
        # Links only to files that are there (a few stat calls per page).
        "has_transcript": lambda i: transcript_file(i, c.settings) is not None,
        "has_report": lambda i: report_file(i, c.settings) is not None,
    }
    if fragment:
        return _page(request, "_rows.html", **values)
    return _page(request, "list.html", tabs=TABS, counts=counts,
                 jobs=_jobs_of_tab(c, query.tab), statuses=[s.value for s in Status],
                 tiers=[t.value for t in Tier], sorts=list(SORTS), **values)


def _item(c: UIContext, item_id: int) -> WorkItem:
    item = c.repo.get_item(item_id)
    if item is None:
        raise HTTPException(404, f"no item with id {item_id}")
    return item


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, item_id: int, fragment: bool = False) -> HTMLResponse:
    """An item: fields, data, timeline, stage runs, report, diff and links."""
    c = ctx(request)
    item = _item(c, item_id)
    job = c.job(item.job)
    values: dict[str, Any] = {
        "item": item, "job": job, "emoji": job.emoji if job else "",
        "tab": "internal" if item.job in c.internal_jobs else "external",
        "events": c.repo.item_events(item.id), "runs": c.repo.item_stage_runs(item.id),
        "flower": c.flower_url, "live": item.status in IN_FLIGHT,
        "can_retry": item.status in RETRYABLE, "can_approve": item.status in APPROVABLE,
        "can_reject": item.status in REJECTABLE,
    }
    if fragment:
        return _page(request, "_item_live.html", **values)
    report = report_file(item, c.settings)
    text, cut = read_text(report) if report else ("", False)
    return _page(request, "item.html", report=text, report_cut=cut,
                 report_missing=bool(item.report_path) and report is None,
                 diff=item_diff(item),
                 transcript=transcript_file(item, c.settings) is not None, **values)


@router.get("/items/{item_id}/report", response_class=HTMLResponse)
def report_page(request: Request, item_id: int) -> HTMLResponse:
    """The item's Markdown report, rendered (raw HTML in it is shown as text)."""
    c = ctx(request)
    item = _item(c, item_id)
    path = report_file(item, c.settings)
    if path is None:
        raise HTTPException(404, f"item {item_id} has no report inside the state dir "
                            f"({'none recorded' if not item.report_path else 'not readable'})")
    text, cut = read_text(path)
    return _page(request, "report.html", item=item, report=text, cut=cut,
                 tab="internal" if item.job in c.internal_jobs else "external")


@router.get("/items/{item_id}/transcript", response_class=HTMLResponse)
def transcript_page(request: Request, item_id: int) -> HTMLResponse:
    """The item's Claude session, turn by turn."""
    c = ctx(request)
    item = _item(c, item_id)
    path = transcript_file(item, c.settings)
    if path is None:
        recorded = "none recorded" if not transcript_candidates(item) else "not readable"
        raise HTTPException(404, f"item {item_id} has no session transcript inside the state "
                            f"dir or a Claude config dir ({recorded})")
    text, cut = read_text(path)
    turns, more = parse_transcript(text)
    return _page(request, "transcript.html", item=item, turns=turns, cut=cut or more,
                 tab="internal" if item.job in c.internal_jobs else "external")
