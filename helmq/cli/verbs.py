"""The verbs that read and write the database: db upgrade, scan, items, show, touch,
migrate-queue."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from helmq.cli.output import EXIT_OK, EXIT_PROBLEMS, emit, target_repos
from helmq.domain.model import Status
from helmq.domain.settled import next_due, outcome
from helmq.errors import ConfigError

if TYPE_CHECKING:
    from helmq.runtime import Runtime

log = logging.getLogger("helmq")


def cmd_db_upgrade(rt: Runtime, args: argparse.Namespace) -> int:
    rt.engine  # noqa: B018 - building the engine applies the migrations
    print(f"database at head: {rt.engine.url.render_as_string(hide_password=True)}")
    return EXIT_OK


def cmd_scan(rt: Runtime, args: argparse.Namespace) -> int:
    from helmq.control.scan import scan_with_progress

    scans = scan_with_progress(rt.repo, rt.jobs, repos=target_repos(rt, args.repo), only=args.job,
                      cache_dir=rt.settings.scan_cache_dir)
    data = [s.as_dict() for s in scans]

    def text() -> str:
        lines = [
            f"{s.job}: {s.counts.new} new, {s.counts.updated} updated, "
            f"{s.counts.unchanged} unchanged, {s.counts.gone} gone, {s.counts.done} done"
            for s in scans
        ]
        lines += [f"warning: {w}" for s in scans for w in s.warnings]
        return "\n".join(lines) or "no job has a discovery strategy"

    emit(args, data, text)
    return EXIT_OK


def _selected_jobs(rt: Runtime, args: argparse.Namespace) -> list[str] | None:
    if args.job:
        return [args.job]
    if args.internal is None:
        return None
    return [n for n, j in rt.jobs.jobs.items() if j.internal == args.internal]


def cmd_items(rt: Runtime, args: argparse.Namespace) -> int:
    from helmq.web.views import item_json

    jobs, now = _selected_jobs(rt, args), datetime.now(UTC)
    items = rt.repo.list_items(jobs=jobs, status=args.status, tier=args.tier)
    if args.status == Status.DONE:
        # A recurring item is stored as pending once it settles: until it is due again it
        # reads as done (CONTRACT: `--status done` lists it).
        settled = [i for i in rt.repo.list_items(jobs=jobs, status=Status.PENDING,
                                                 tier=args.tier) if outcome(i, now)]
        items = sorted([*items, *settled], key=lambda i: i.id)
    elif args.status == Status.PENDING:
        items = [i for i in items if not outcome(i, now)]
    if args.repo:
        where = str(Path(args.repo).expanduser().resolve())
        items = [i for i in items if i.repo == where]
    data = [item_json(i) for i in items]
    for d in data:
        d.pop("data")

    def text() -> str:
        if not items:
            return "no items"
        def why(i) -> str:
            if i.status is Status.QUEUED and i.stage:
                return f"for {i.stage}"
            due = next_due(i) if outcome(i, now) else None
            if due is not None:
                return f"next {due:%Y-%m-%d}"
            return i.failure_class or i.waiting_reason or ""

        def status(i) -> str:
            return "done" if i.status is Status.PENDING and outcome(i, now) else i.status.value

        # The key names the item's branch (helmq/<key>) for `git log` and `helmq show`.
        rows = [f"{'ID':>5}  {'STATUS':<11} {'TIER':<14} {'P':<2} {'WHY':<16} "
                f"{'REPO':<14} {'KEY':<50} TITLE"]
        rows += [
            f"{i.id:>5}  {status(i):<11} {(i.tier or '-'):<14} "
            f"{'' if i.priority is None else i.priority:<2} "
            f"{why(i):<16} {Path(i.repo).name[:14] if i.repo else '-':<14} "
            f"{i.item_key[:50]:<50} {i.title[:60]}"
            for i in items
        ]
        return "\n".join(rows)

    emit(args, data, text)
    return EXIT_OK


def cmd_show(rt: Runtime, args: argparse.Namespace) -> int:
    from helmq.web.views import item_diff, item_json, row_json

    item = rt.repo.get_item(args.ref)
    if item is None:
        print(f"helmq: no item with id or key {args.ref!r} (see `helmq items`)", file=sys.stderr)
        if args.json:
            print("null")  # still one JSON document on stdout
        return EXIT_PROBLEMS
    report = ""
    if item.report_path and Path(item.report_path).is_file():
        report = Path(item.report_path).read_text(encoding="utf-8")
    data = {
        **item_json(item),
        "events": [row_json(e) for e in rt.repo.item_events(item.id)],
        "stage_runs": [row_json(r) for r in rt.repo.item_stage_runs(item.id)],
        "report": report,
        "diff": item_diff(item),
    }

    def text() -> str:
        lines = [f"#{item.id} {item.title}",
                 f"  key {item.item_key}  job {item.job}  status {item.status}"
                 + (f" ({item.failure_class or item.waiting_reason})"
                    if item.failure_class or item.waiting_reason else ""),
                 f"  tier {item.tier or '-'}  priority {item.priority}  "
                 f"branch {item.branch or '-'}",
                 f"  source {item.source_file}:{item.line}", "", "events:"]
        lines += [f"  {e['at']}  {e['from_status'] or '':>11} → {e['to_status'] or '':<11} "
                  f"{e['stage'] or '':<9} {e['message'] or ''}" for e in data["events"]]
        if data["stage_runs"]:
            lines += ["", "stage runs:"]
            lines += [f"  {r['started_at']}  {r['stage']:<9} attempt {r['attempt']:<3} "
                      f"{r['tier'] or '-':<14} {r['outcome'] or 'running':<12} "
                      f"${float(r['cost_usd'] or 0):.4f}"
                      + (f"  {r['error_class']}" if r['error_class'] else "")
                      for r in data["stage_runs"]]
        if report:
            lines += ["", f"report ({item.report_path}):", report.rstrip("\n")]
        if data["diff"]:
            lines += ["", data["diff"]]
        return "\n".join(lines)

    emit(args, data, text)
    return EXIT_OK


def cmd_touch(rt: Runtime, args: argparse.Namespace) -> int:
    from helmq.repos.last_active import touch_last_active

    touch_last_active(rt.settings.last_active_path, datetime.now(UTC))
    print(f"user active now ({rt.settings.last_active_path})")
    return EXIT_OK


def cmd_migrate_queue(rt: Runtime, args: argparse.Namespace) -> int:
    from helmq.grammar.queue_yaml import parse_queue
    from helmq.store.importing import import_queue

    if args.job is not None and args.job not in rt.jobs.jobs:
        raise ConfigError(f"no job named {args.job!r} in {rt.jobs.source} "
                          f"(jobs: {', '.join(sorted(rt.jobs.jobs))})", key="--job")
    parsed = parse_queue(Path(args.file))
    job = args.job or next(iter(rt.jobs.jobs))
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    errors = list(parsed.errors)
    if not args.dry_run:
        imported = import_queue(rt.repo, job, parsed.records)
        counts = imported.counts
        errors += [f"{args.file}: {err}" for err in imported.errors]
    data = {"file": args.file, "job": job, "dry_run": args.dry_run,
            "entries": len(parsed.records), **counts, "errors": errors}
    for err in errors:
        log.error("%s", err)
    emit(args, data, lambda: (
        f"{args.file}: {len(parsed.records)} entries valid, {len(parsed.errors)} rejected"
        + ("" if args.dry_run else
           f"; {counts['new']} new, {counts['updated']} updated, {counts['unchanged']} unchanged"
           + (f", {len(errors) - len(parsed.errors)} not imported"
              if len(errors) > len(parsed.errors) else ""))
        + (" (dry run: nothing written)" if args.dry_run else "")))
    return EXIT_PROBLEMS if errors else EXIT_OK
