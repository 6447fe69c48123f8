"""The `helmq` command: the composition root that wires settings, store, Celery and stages."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from helmq import __version__
from helmq.config.settings import ENV_VARS, Settings
from helmq.domain.model import Status, Tier
from helmq.errors import BrokerError, ConfigError, HelmqError, StoreError

log = logging.getLogger("helmq")

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


@dataclass
class App:
    """Lazily built parts, so `--help` and `touch` never open a database."""

    settings: Settings

    @cached_property
    def engine(self):
        from helmq.store.engine import make_engine, upgrade

        engine = make_engine(self.settings.database_url)
        upgrade(engine)
        return engine

    @cached_property
    def repo(self):
        from helmq.store.repository import Repository

        return Repository(self.engine)

    @cached_property
    def jobs(self):
        from helmq.config.jobs import load_jobs
        from helmq.discovery.registry import STRATEGIES

        return load_jobs(self.settings.config_path, strategies=STRATEGIES)

    def repos(self, override: Sequence[str] | None) -> list[Path]:
        """--repo wins, then jobs.yaml's repos, then the current directory."""
        if override:
            paths = [Path(p).expanduser().resolve() for p in override]
            for p in paths:
                if not p.is_dir():
                    raise ConfigError(f"{p} is not a directory", key="--repo")
            return paths
        if self.jobs.repos:
            return list(self.jobs.repos)
        log.info("no --repo and no repos in %s: scanning the current directory",
                 self.jobs.source)
        return [Path.cwd()]


def _emit(args: argparse.Namespace, data: Any, text: Callable[[], str]) -> None:
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, indent=2, default=str, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text() + "\n")


# --- verbs ------------------------------------------------------------------------------


def cmd_db_upgrade(app: App, args: argparse.Namespace) -> int:
    app.engine  # noqa: B018 - building the engine applies the migrations
    print(f"database at head: {app.engine.url.render_as_string(hide_password=True)}")
    return EXIT_OK


def cmd_scan(app: App, args: argparse.Namespace) -> int:
    from helmq.control.scan import scan_with_progress

    scans = scan_with_progress(app.repo, app.jobs, repos=app.repos(args.repo), only=args.job,
                      cache_dir=app.settings.scan_cache_dir)
    data = [s.as_dict() for s in scans]

    def text() -> str:
        lines = [
            f"{s.job}: {s.counts.new} new, {s.counts.updated} updated, "
            f"{s.counts.unchanged} unchanged, {s.counts.gone} gone, {s.counts.done} done"
            for s in scans
        ]
        lines += [f"warning: {w}" for s in scans for w in s.warnings]
        return "\n".join(lines) or "no job has a discovery strategy"

    _emit(args, data, text)
    return EXIT_OK


def _selected_jobs(app: App, args: argparse.Namespace) -> list[str] | None:
    if args.job:
        return [args.job]
    if args.internal is None:
        return None
    return [n for n, j in app.jobs.jobs.items() if j.internal == args.internal]


def cmd_items(app: App, args: argparse.Namespace) -> int:
    from helmq.web.views import item_json

    items = app.repo.list_items(jobs=_selected_jobs(app, args), status=args.status,
                                tier=args.tier)
    data = [item_json(i) for i in items]
    for d in data:
        d.pop("data")

    def text() -> str:
        if not items:
            return "no items"
        def why(i) -> str:
            if i.status is Status.QUEUED and i.stage:
                return f"for {i.stage}"
            return i.failure_class or i.waiting_reason or ""

        rows = [f"{'ID':>5}  {'STATUS':<11} {'TIER':<14} {'P':<2} {'WHY':<16} TITLE"]
        rows += [
            f"{i.id:>5}  {i.status.value:<11} {(i.tier or '-'):<14} "
            f"{'' if i.priority is None else i.priority:<2} "
            f"{why(i):<16} {i.title[:70]}"
            for i in items
        ]
        return "\n".join(rows)

    _emit(args, data, text)
    return EXIT_OK


def cmd_show(app: App, args: argparse.Namespace) -> int:
    from helmq.web.views import item_diff, item_json, row_json

    item = app.repo.get_item(args.ref)
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
        "events": [row_json(e) for e in app.repo.item_events(item.id)],
        "stage_runs": [row_json(r) for r in app.repo.item_stage_runs(item.id)],
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
        if data["diff"]:
            lines += ["", data["diff"]]
        return "\n".join(lines)

    _emit(args, data, text)
    return EXIT_OK


def cmd_touch(app: App, args: argparse.Namespace) -> int:
    from helmq.config.last_active import touch_last_active

    touch_last_active(app.settings.last_active_path, datetime.now(UTC))
    print(f"user active now ({app.settings.last_active_path})")
    return EXIT_OK


def cmd_migrate_queue(app: App, args: argparse.Namespace) -> int:
    from helmq.grammar.queue_yaml import parse_queue
    from helmq.store.importing import import_queue

    if args.job is not None and args.job not in app.jobs.jobs:
        raise ConfigError(f"no job named {args.job!r} in {app.jobs.source} "
                          f"(jobs: {', '.join(sorted(app.jobs.jobs))})", key="--job")
    parsed = parse_queue(Path(args.file))
    job = args.job or next(iter(app.jobs.jobs))
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    errors = list(parsed.errors)
    if not args.dry_run:
        imported = import_queue(app.repo, job, parsed.records)
        counts = imported.counts
        errors += [f"{args.file}: {err}" for err in imported.errors]
    data = {"file": args.file, "job": job, "dry_run": args.dry_run,
            "entries": len(parsed.records), **counts, "errors": errors}
    for err in errors:
        log.error("%s", err)
    _emit(args, data, lambda: (
        f"{args.file}: {len(parsed.records)} entries valid, {len(parsed.errors)} rejected"
        + ("" if args.dry_run else
           f"; {counts['new']} new, {counts['updated']} updated, {counts['unchanged']} unchanged"
           + (f", {len(errors) - len(parsed.errors)} not imported"
              if len(errors) > len(parsed.errors) else ""))
        + (" (dry run: nothing written)" if args.dry_run else "")))
    return EXIT_PROBLEMS if errors else EXIT_OK


def cmd_run_once(app: App, args: argparse.Namespace) -> int:
    from helmq.cli.run import run_once

    result = run_once(app, repos=app.repos(args.repo), limit=args.limit,
                      ignore_idle=args.ignore_idle, timeout=args.timeout)
    _emit(args, result.as_dict(), result.text)
    return EXIT_PROBLEMS if result.failed else EXIT_OK


def cmd_up(app: App, args: argparse.Namespace) -> int:
    from helmq.cli.run import serve_embedded

    if args.repo:
        app.jobs = replace(app.jobs, repos=tuple(app.repos(args.repo)))
    return serve_embedded(app, port=args.port)


def cmd_ui(app: App, args: argparse.Namespace) -> int:
    from helmq.web import serve

    return serve(app.settings, args.host, args.port, repo=app.repo, jobs=app.jobs)


def cmd_doctor(app: App, args: argparse.Namespace) -> int:
    from helmq.doctor.diagnose import diagnose, reconcile

    fixed = None
    if args.fix:
        publish = None
        if not app.settings.embedded:
            from tasks.app import make_celery
            from tasks.chains import publish as publish_chains

            celery_app = make_celery(app.settings)
            publish = lambda dispatches: publish_chains(celery_app, dispatches)  # noqa: E731
        fixed = reconcile(app.engine, app.settings, publish)
    report = diagnose(app.engine, app.jobs, app.settings)
    report.fixed = fixed
    _emit(args, report.as_dict(), report.text)
    return EXIT_OK if report.healthy else EXIT_PROBLEMS


def _celery_app(app: App):
    if app.settings.embedded:
        raise ConfigError("set HELMQ_BROKER_URL (e.g. redis://127.0.0.1:6379/0): the embedded "
                          "broker lives inside `helmq up` and cannot be shared",
                          key="HELMQ_BROKER_URL")
    from tasks.celery import app as celery_app

    return celery_app


def cmd_worker(app: App, args: argparse.Namespace) -> int:
    celery_app = _celery_app(app)
    app.jobs  # noqa: B018 - a broken jobs.yaml stops here with exit 2, not in every task
    from helmq.domain.model import QUEUES

    unknown = sorted(set(args.queues.split(",")) - set(QUEUES))
    if unknown:
        raise ConfigError(f"unknown queue(s) {', '.join(unknown)} (queues: {', '.join(QUEUES)})",
                          key="--queues")
    argv = ["worker", "-Q", args.queues, "-l", args.loglevel, "-E"]
    if args.concurrency:
        argv += ["-c", str(args.concurrency)]
    if args.hostname:
        argv += ["-n", args.hostname]
    celery_app.worker_main(argv)
    return EXIT_OK


def cmd_beat(app: App, args: argparse.Namespace) -> int:
    from beat_schedule import build_schedule

    celery_app = _celery_app(app)
    celery_app.conf.beat_schedule = build_schedule(app.jobs, app.settings)
    app.settings.state_dir.mkdir(parents=True, exist_ok=True)
    celery_app.start(["beat", "-l", args.loglevel,
                      "-s", str(app.settings.state_dir / "celerybeat-schedule")])
    return EXIT_OK


# --- parser -----------------------------------------------------------------------------


def _env_help() -> str:
    from helmq.tiers.claude.config import ENV_VARS as CLAUDE_VARS

    described = {**ENV_VARS, **CLAUDE_VARS}
    width = max(map(len, described))
    return "environment:\n" + "\n".join(f"  {k:<{width}}  {v}" for k, v in described.items())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every verb has --help."""
    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(
        prog="helmq", formatter_class=fmt, epilog=_env_help(),
        description="Discover maintenance work in your repos and work it off while you are "
        "idle: classify → execute → review on Celery, one queue per tier.")
    p.add_argument("--version", action="version", version=f"helmq {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    def verb(name: str, fn: Callable, help: str, json_flag: bool = False):
        sp = sub.add_parser(name, help=help, description=help, formatter_class=fmt,
                            epilog=_env_help())
        sp.set_defaults(func=fn)
        if json_flag:
            sp.add_argument("--json", action="store_true",
                            help="one JSON document on stdout (logs on stderr)")
        return sp

    db = sub.add_parser("db", help="database maintenance", description="database maintenance")
    dbsub = db.add_subparsers(dest="db_verb", metavar="ACTION", required=True)
    up_db = dbsub.add_parser("upgrade", help="apply migrations (idempotent)",
                             description="apply migrations (idempotent)")
    up_db.set_defaults(func=cmd_db_upgrade)

    sp = verb("scan", cmd_scan, "run discovery once: counts of new/updated/unchanged/gone",
              json_flag=True)
    sp.add_argument("--job", help="only this job")
    sp.add_argument("--repo", action="append", metavar="PATH", help="repo to scan (repeatable)")

    sp = verb("items", cmd_items, "list work items", json_flag=True)
    sp.add_argument("--job")
    sp.add_argument("--status", choices=[s.value for s in Status])
    sp.add_argument("--tier", choices=[t.value for t in Tier])
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--internal", dest="internal", action="store_const", const=True,
                   default=None, help="only jobs with internal: true")
    g.add_argument("--external", dest="internal", action="store_const", const=False,
                   help="only jobs without internal: true")

    sp = verb("show", cmd_show, "one item with its events, stage runs, report and diff",
              json_flag=True)
    sp.add_argument("ref", metavar="KEY_OR_ID")

    sp = verb("run-once", cmd_run_once,
              "scan, then take every eligible item to a settled status and exit "
              "(embedded unless HELMQ_BROKER_URL is set)", json_flag=True)
    sp.add_argument("--repo", action="append", metavar="PATH", help="repo to work on (repeatable)")
    sp.add_argument("--limit", type=int, help="dispatch at most N items")
    sp.add_argument("--ignore-idle", action="store_true",
                    help="dispatch even if the user was active recently")
    sp.add_argument("--timeout", type=float, default=1800.0,
                    help="give up waiting after this many seconds (default 1800)")

    sp = verb("up", cmd_up, "embedded all-in-one: migrations, worker threads for all queues, "
              "beat, and the web UI on 127.0.0.1")
    sp.add_argument("--repo", action="append", metavar="PATH")
    sp.add_argument("--port", type=int, default=8765, help="web UI port (default 8765)")

    sp = verb("ui", cmd_ui, "the web UI: External and Internal tabs, item pages, JSON API")
    sp.add_argument("--host", default="127.0.0.1",
                    help="address to bind (default 127.0.0.1: this machine only)")
    sp.add_argument("--port", type=int, default=8765, help="port (default 8765)")

    sp = verb("worker", cmd_worker, "a Celery worker for the given queues (needs HELMQ_BROKER_URL)")
    sp.add_argument("--queues", "-Q", required=True,
                    help="comma-separated: control, script, llm, vario, claude")
    sp.add_argument("--concurrency", "-c", type=int)
    sp.add_argument("--hostname", "-n")
    sp.add_argument("--loglevel", "-l", default="INFO")

    sp = verb("beat", cmd_beat, "the beat scheduler (needs HELMQ_BROKER_URL)")
    sp.add_argument("--loglevel", "-l", default="INFO")

    sp = verb("doctor", cmd_doctor, "health: stuck items, failure classes, waiting reasons, "
              "breakers, scans, budget; exit 1 if unhealthy", json_flag=True)
    sp.add_argument("--fix", action="store_true",
                    help="reconcile once (re-queue expired leases) and close cooled breakers")

    verb("touch", cmd_touch, "record 'user active now' in the last-active file")

    sp = verb("migrate-queue", cmd_migrate_queue,
              "import a helm autodo queue.yaml into work_items, idempotently", json_flag=True)
    sp.add_argument("file", metavar="FILE")
    sp.add_argument("--job", help="job to import into (default: the first job)")
    sp.add_argument("--dry-run", action="store_true", help="validate and count, write nothing")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `helmq` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else
        logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.verb in ("worker", "beat") and args.verbose == 0:
        logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        app = App(Settings.from_env())
        return args.func(app, args)
    except (ConfigError, StoreError, BrokerError) as exc:
        print(f"helmq: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except HelmqError as exc:
        print(f"helmq: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
