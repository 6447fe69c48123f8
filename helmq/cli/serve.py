"""The verbs that run helmq's processes: run-once, up, ui, doctor, worker, beat."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from helmq.cli.output import EXIT_OK, EXIT_PROBLEMS, emit, target_repos
from helmq.errors import ConfigError

if TYPE_CHECKING:
    from celery import Celery

    from helmq.runtime import Runtime


def cmd_run_once(rt: Runtime, args: argparse.Namespace) -> int:
    from helmq.cli.run import run_once

    result = run_once(rt, repos=target_repos(rt, args.repo), limit=args.limit,
                      ignore_idle=args.ignore_idle, timeout=args.timeout, only=bool(args.repo))
    emit(args, result.as_dict(), result.text)
    return EXIT_PROBLEMS if result.failed else EXIT_OK


def cmd_up(rt: Runtime, args: argparse.Namespace) -> int:
    from helmq.cli.run import serve_embedded

    if args.repo:
        rt = rt.with_repos(target_repos(rt, args.repo), only=True)
    return serve_embedded(rt, port=args.port)


def cmd_ui(rt: Runtime, args: argparse.Namespace) -> int:
    from helmq.web import serve
    from tasks.scans import launcher

    # Read jobs.yaml now: a broken file stops `helmq ui` with exit 2, not every request.
    return serve(rt.settings, args.host, args.port, repo=rt.repo, jobs=rt.jobs,
                 scans=launcher(rt))


def cmd_doctor(rt: Runtime, args: argparse.Namespace) -> int:
    from helmq.doctor.diagnose import diagnose
    from helmq.doctor.fix import reconcile

    fixed = None
    if args.fix:
        publish = None
        if not rt.settings.embedded:
            from tasks.app import make_celery
            from tasks.chains import job_stages
            from tasks.chains import publish as publish_chains

            celery_app, stages = make_celery(rt), job_stages(rt.jobs)
            publish = lambda dispatches: publish_chains(celery_app, dispatches, stages)  # noqa: E731
        fixed = reconcile(rt.repo, rt.settings, rt.ctx, publish)
    report = diagnose(rt.engine, rt.jobs, rt.settings)
    report.fixed = fixed
    emit(args, report.as_dict(), report.text)
    return EXIT_OK if report.healthy else EXIT_PROBLEMS


def _celery_app(rt: Runtime) -> Celery:
    if rt.settings.embedded:
        raise ConfigError("set HELMQ_BROKER_URL (e.g. redis://127.0.0.1:6379/0): the embedded "
                          "broker lives inside `helmq up` and cannot be shared",
                          key="HELMQ_BROKER_URL")
    from tasks.celery import app as celery_app

    return celery_app


def cmd_worker(rt: Runtime, args: argparse.Namespace) -> int:
    celery_app = _celery_app(rt)
    rt.jobs  # noqa: B018 - a broken jobs.yaml stops here with exit 2, not in every task
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


def cmd_beat(rt: Runtime, args: argparse.Namespace) -> int:
    celery_app = _celery_app(rt)
    rt.jobs  # noqa: B018 - a broken jobs.yaml stops here with exit 2
    rt.settings.state_dir.mkdir(parents=True, exist_ok=True)
    celery_app.start(["beat", "-l", args.loglevel,
                      "-s", str(rt.settings.state_dir / "celerybeat-schedule")])
    return EXIT_OK
