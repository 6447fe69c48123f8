"""The `helmq` argument parser: every verb, its options and --help."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from helmq import __version__
from helmq.cli import serve, verbs
from helmq.config.settings import ENV_VARS
from helmq.domain.model import Status, Tier


def _env_help() -> str:
    described = ENV_VARS
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
    up_db.set_defaults(func=verbs.cmd_db_upgrade)

    sp = verb("scan", verbs.cmd_scan, "run discovery once: counts of new/updated/unchanged/gone",
              json_flag=True)
    sp.add_argument("--job", help="only this job")
    sp.add_argument("--repo", action="append", metavar="PATH", help="repo to scan (repeatable)")

    sp = verb("items", verbs.cmd_items, "list work items", json_flag=True)
    sp.add_argument("--job")
    sp.add_argument("--repo", metavar="PATH", help="only the items found in this repo")
    sp.add_argument("--status", choices=[s.value for s in Status])
    sp.add_argument("--tier", choices=[t.value for t in Tier])
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--internal", dest="internal", action="store_const", const=True,
                   default=None, help="only jobs with internal: true")
    g.add_argument("--external", dest="internal", action="store_const", const=False,
                   help="only jobs without internal: true")

    sp = verb("show", verbs.cmd_show, "one item with its events, stage runs, report and diff",
              json_flag=True)
    sp.add_argument("ref", metavar="KEY_OR_ID")

    sp = verb("run-once", serve.cmd_run_once,
              "scan, then take every eligible item to a settled status and exit "
              "(embedded unless HELMQ_BROKER_URL is set)", json_flag=True)
    sp.add_argument("--repo", action="append", metavar="PATH",
                    help="work on this repo only (repeatable): it is scanned, and only its "
                    "items are dispatched (default: jobs.yaml's repos, else the current dir)")
    sp.add_argument("--limit", type=int, help="dispatch at most N items")
    sp.add_argument("--ignore-idle", action="store_true",
                    help="dispatch even if the user was active recently")
    sp.add_argument("--timeout", type=float, default=1800.0,
                    help="give up waiting after this many seconds (default 1800)")

    sp = verb("up", serve.cmd_up, "embedded all-in-one: migrations, worker threads for all queues, "
              "beat, and the web UI on 127.0.0.1")
    sp.add_argument("--repo", action="append", metavar="PATH",
                    help="work on this repo only (repeatable), as run-once --repo")
    sp.add_argument("--port", type=int, default=8765, help="web UI port (default 8765)")

    sp = verb("ui", serve.cmd_ui, "the web UI: External and Internal tabs, item pages, JSON API")
    sp.add_argument("--host", default="127.0.0.1",
                    help="address to bind (default 127.0.0.1: this machine only)")
    sp.add_argument("--port", type=int, default=8765, help="port (default 8765)")

    sp = verb("worker", serve.cmd_worker,
              "a Celery worker for the given queues (needs HELMQ_BROKER_URL)")
    sp.add_argument("--queues", "-Q", required=True,
                    help="comma-separated: control, script, llm, vario, claude")
    sp.add_argument("--concurrency", "-c", type=int)
    sp.add_argument("--hostname", "-n")
    sp.add_argument("--loglevel", "-l", default="INFO")

    sp = verb("beat", serve.cmd_beat, "the beat scheduler (needs HELMQ_BROKER_URL)")
    sp.add_argument("--loglevel", "-l", default="INFO")

    sp = verb("doctor", serve.cmd_doctor, "health: stuck items, failure classes, waiting reasons, "
              "breakers, scans, budget; exit 1 if unhealthy", json_flag=True)
    sp.add_argument("--fix", action="store_true",
                    help="reconcile once (re-queue expired leases) and close cooled breakers")

    verb("touch", verbs.cmd_touch, "record 'user active now' in the last-active file")

    sp = verb("migrate-queue", verbs.cmd_migrate_queue,
              "import a helm autodo queue.yaml into work_items, idempotently", json_flag=True)
    sp.add_argument("file", metavar="FILE")
    sp.add_argument("--job", help="job to import into (default: the first job)")
    sp.add_argument("--dry-run", action="store_true", help="validate and count, write nothing")
    return p
