"""The JSON API, the actions (token required), /healthz and /metrics."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import URL

from helmq.errors import BrokerError
from helmq.store.ui_queries import ActionResult, Refusal
from helmq.web import metrics
from helmq.web.artifacts import read_text, report_file
from helmq.web.auth import require_token
from helmq.web.context import UIContext, ctx
from helmq.web.listing import parse_internal, parse_query
from helmq.web.views import item_diff, item_json, row_json

log = logging.getLogger(__name__)
router = APIRouter()

REFUSAL_STATUS = {Refusal.NOT_FOUND: 404, Refusal.NOT_ALLOWED: 409, Refusal.CHANGED: 409}


def _listed(item) -> dict[str, Any]:
    """The fields `helmq items --json` prints (everything but data)."""
    out = item_json(item)
    out.pop("data")
    return out


@router.get("/api/items")
def api_items(
    request: Request,
    status: str | None = None,
    job: str | None = None,
    tier: str | None = None,
    internal: str | None = None,
    q: str | None = None,
    sort: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> Response:
    """Items as `helmq items --json` lists them, a page at a time (Link: rel=next)."""
    c = ctx(request)
    query = parse_query(tab=parse_internal(internal), job=job, status=status, tier=tier, q=q,
                        sort=sort, default_tab="")
    rows = c.queries.page_items(query.filter(c.internal_jobs), limit=limit + 1, offset=offset)
    headers = {}
    if len(rows) > limit:
        nxt = URL(str(request.url)).include_query_params(offset=offset + limit, limit=limit)
        headers["Link"] = f'<{nxt}>; rel="next"'
    return JSONResponse([_listed(i) for i in rows[:limit]], headers=headers)


def item_detail(c: UIContext, ref: str) -> dict[str, Any]:
    """One item as `helmq show --json` prints it: fields, events, stage runs, report, diff."""
    item = c.repo.get_item(ref)
    if item is None:
        raise HTTPException(404, f"no item with id or key {ref!r}")
    report = report_file(item, c.settings)
    return {
        **item_json(item),
        "events": [row_json(e) for e in c.repo.item_events(item.id)],
        "stage_runs": [row_json(r) for r in c.repo.item_stage_runs(item.id)],
        "report": read_text(report)[0] if report else "",
        "diff": item_diff(item),
    }


@router.get("/api/items/{ref}")
def api_item(request: Request, ref: str) -> dict[str, Any]:
    """One item with its events, stage runs, report and diff."""
    return item_detail(ctx(request), ref)


def _action_response(result: ActionResult) -> dict[str, Any]:
    if result.refused is not None:
        raise HTTPException(REFUSAL_STATUS[result.refused], result.message)
    assert result.item is not None
    return {"ok": True, "message": result.message, "item": _listed(result.item)}


@router.post("/api/items/{item_id}/retry", dependencies=[Depends(require_token)])
def retry(request: Request, item_id: int) -> dict[str, Any]:
    """A failed, waiting, needs_work or rejected item goes back to pending."""
    return _action_response(ctx(request).queries.retry_item(item_id, by="ui"))


@router.post("/api/items/{item_id}/approve", dependencies=[Depends(require_token)])
def approve(request: Request, item_id: int) -> dict[str, Any]:
    """A needs_work item is accepted as it is: done."""
    return _action_response(ctx(request).queries.approve_item(item_id, by="ui"))


@router.post("/api/items/{item_id}/reject", dependencies=[Depends(require_token)])
def reject(request: Request, item_id: int) -> dict[str, Any]:
    """An item no stage holds is rejected."""
    return _action_response(ctx(request).queries.reject_item(item_id, by="ui"))


def _job(c: UIContext, name: str):
    job = c.job(name)
    if job is None:
        raise HTTPException(404, f"no job named {name!r} in {c.jobs.source} "
                            f"(jobs: {', '.join(sorted(c.jobs.jobs))})")
    return job


@router.post("/api/jobs/{name}/pause", dependencies=[Depends(require_token)])
def pause(request: Request, name: str) -> dict[str, Any]:
    """Dispatch skips the job until it is resumed; items in flight finish."""
    c = ctx(request)
    _job(c, name)
    c.queries.set_job_paused(name, True, reason="paused from the UI")
    return {"ok": True, "job": name, "paused": True,
            "message": f"{name} paused: dispatch skips it until it is resumed"}


@router.post("/api/jobs/{name}/resume", dependencies=[Depends(require_token)])
def resume(request: Request, name: str) -> dict[str, Any]:
    """Dispatch takes the job's items again (unless jobs.yaml pauses it)."""
    c = ctx(request)
    if _job(c, name).paused:
        raise HTTPException(409, f"{name} is paused in {c.jobs.source} (paused: true); "
                            "remove that line to resume it")
    c.queries.set_job_paused(name, False, reason="resumed from the UI")
    return {"ok": True, "job": name, "paused": False, "message": f"{name} resumed"}


@router.post("/api/jobs/{name}/scan", status_code=202, dependencies=[Depends(require_token)])
def scan(request: Request, name: str) -> dict[str, Any]:
    """Start the job's discovery now; 202: it runs in the background."""
    c = ctx(request)
    if _job(c, name).discovery is None:
        raise HTTPException(409, f"{name} has no discovery strategy in {c.jobs.source}")
    try:
        started = c.scans.launch(name)
    except (BrokerError, LookupError) as exc:
        raise HTTPException(503, str(exc)) from None
    message = (f"a scan of {name} is already running" if started.already_running
               else f"scan of {name} started ({started.via})")
    return {"ok": True, "message": message, **started.as_dict()}


@router.get("/healthz")
def healthz(request: Request) -> Response:
    """200 when the database answers, 503 when it does not."""
    try:
        ctx(request).queries.ping()
    except Exception as exc:  # any failure to reach the database is "unhealthy"
        log.warning("healthz: database unreachable: %s", exc)
        return JSONResponse({"status": "unhealthy",
                             "database": f"unreachable ({type(exc).__name__})"}, 503)
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/metrics")
def prometheus(request: Request) -> Response:
    """Items by status and tier, oldest pending age, stage durations, cost today, breakers."""
    c = ctx(request)
    ui_paused = c.queries.paused_jobs()
    paused = {n: j.paused or n in ui_paused for n, j in c.jobs.jobs.items()}
    snap = metrics.collect(c.queries, paused=paused)
    return Response(metrics.render(snap), media_type=metrics.CONTENT_TYPE)
