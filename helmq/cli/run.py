"""`run-once` and `up`: drive scans, dispatch and the workers, embedded or against a broker."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helmq import runtime
from helmq.config.settings import Settings
from helmq.control.dispatch import dispatch_tick
from helmq.control.reconcile import reconcile
from helmq.control.scan import JobScan, scan_with_progress
from helmq.domain.model import QUEUES, Status
from helmq.errors import ConfigError
from helmq.runtime import Runtime
from helmq.web.views import item_json
from tasks.app import make_celery
from tasks.chains import job_stages, publish
from tasks.embedded import EmbeddedWorker

if TYPE_CHECKING:
    from celery import Celery

    from helmq.store.repository import Dispatch

log = logging.getLogger(__name__)

STALL_HINT_SECONDS = 30.0
EMBEDDED_IDLE_SECONDS = 2.0


@dataclass
class RunResult:
    """What one run-once did."""

    scans: list[JobScan]
    dispatched: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    timed_out: bool = False

    @property
    def failed(self) -> bool:
        # needs_work here has used up its review rounds: it waits for a person.
        return self.timed_out or any(
            i["status"] in (Status.FAILED, Status.NEEDS_WORK) for i in self.items)

    def as_dict(self) -> dict[str, Any]:
        by_status: dict[str, int] = {}
        for i in self.items:
            by_status[i["status"]] = by_status.get(i["status"], 0) + 1
        return {"scan": [s.as_dict() for s in self.scans], "dispatched": self.dispatched,
                "skipped": self.skipped, "timed_out": self.timed_out, "by_status": by_status,
                "items": self.items}

    def text(self) -> str:
        lines = [f"scan {s.job}: {s.counts.new} new, {s.counts.updated} updated, "
                 f"{s.counts.unchanged} unchanged, {s.counts.gone} gone" for s in self.scans]
        lines += [f"skipped {job}: {why}" for job, why in self.skipped.items()]
        lines.append(f"dispatched {self.dispatched} item(s)")
        lines += [f"  #{i['id']:<5} {settled_as(i):<11} {i['tier'] or '-':<14} {i['title'][:60]}"
                  + (f"  ({i['failure_class'] or i['waiting_reason']})"
                     if i["failure_class"] or i["waiting_reason"] else "")
                  for i in self.items]
        if self.timed_out:
            lines.append("timed out waiting for items to settle")
        lines.append(summary(self.items))
        return "\n".join(lines)


def settled_as(item: dict[str, Any]) -> str:
    """What became of an item this run took: its outcome (`fixed`, `reported`: see
    helmq.domain.settled, which also reads a recurring item stored as pending again as
    settled), else its status."""
    return item.get("outcome") or str(item["status"])


def summary(items: list[dict[str, Any]]) -> str:
    """One line: `fixed 3 · reported 5 · waiting 88 (no_credentials) · failed 0`."""
    counts: dict[str, int] = {"fixed": 0, "reported": 0, "waiting": 0, "failed": 0}
    reasons: dict[str, int] = {}
    for item in items:
        what = settled_as(item)
        counts[what] = counts.get(what, 0) + 1
        if what == Status.WAITING:
            reason = item.get("waiting_reason") or "?"
            reasons[reason] = reasons.get(reason, 0) + 1
    parts = []
    for what, n in counts.items():
        why = ", ".join(r if len(reasons) == 1 else f"{r} {k}" for r, k in sorted(reasons.items()))
        parts.append(f"{what} {n}" + (f" ({why})" if what == "waiting" and reasons else ""))
    return " · ".join(parts)


def _prepare(rt: Runtime, repos: Sequence[Path], *, only: bool) -> tuple[Runtime, Celery]:
    """This runtime scanning `repos` (and dispatching only their items with `only`),
    installed for the tasks, and its Celery app."""
    rt = runtime.install(rt.with_repos(list(repos), only=only))
    return rt, make_celery(rt)


def _publish(rt: Runtime, celery_app: Celery, dispatches: list[Dispatch]) -> int:
    return publish(celery_app, dispatches, job_stages(rt.jobs))


@contextlib.contextmanager
def _embedded_lock(settings: Settings) -> Iterator[None]:
    """One embedded helmq per state dir: it owns every in-flight item of its database."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    path = settings.state_dir / "embedded.lock"
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another embedded helmq (`helmq up` or `helmq run-once`) is using "
                f"{settings.state_dir}; stop it, or set HELMQ_BROKER_URL to share its workers"
            ) from None
        yield


def _recover(rt: Runtime, celery_app: Celery, why: str) -> list[Dispatch]:
    """Re-queue items whose messages the embedded broker no longer holds.

    On SQLite the embedded process (holding the state-dir lock) owns every in-flight item;
    on a shared Postgres only expired leases are taken, as the reconciler would.
    """
    got = reconcile(rt.repo, rt.settings, rt.ctx, everything=not rt.settings.is_postgres) or []
    if got:
        log.warning("re-queued %d item(s) %s", len(got), why)
        _publish(rt, celery_app, got)
    return got


def _progress(line: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r" + line + "\x1b[K")
    else:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _wait_settled(rt: Runtime, celery_app: Celery, deadline: float, touched: set[int],
                  worker: EmbeddedWorker | None) -> bool:
    """Poll until none of `touched` is in flight, reconciling lost messages; False on timeout."""
    last_line, next_reconcile = "", time.monotonic() + rt.settings.reconcile_interval
    changed_at, hinted, idle_since = time.monotonic(), False, None
    while True:
        counts = rt.repo.count_by_status(touched)
        busy = {s: n for s, n in counts.items() if Status(s) in
                {Status.QUEUED, Status.CLASSIFYING, Status.EXECUTING, Status.REVIEWING}}
        if not busy:
            if last_line and sys.stderr.isatty():
                sys.stderr.write("\n")
            return True
        line = "in flight: " + ", ".join(f"{n} {s}" for s, n in sorted(busy.items()))
        now = time.monotonic()
        if line != last_line:
            _progress(line)
            last_line, changed_at = line, now
        elif not hinted and now - changed_at > STALL_HINT_SECONDS and "queued" in busy:
            hinted = True
            log.warning("no progress for %.0f s with items queued: is a worker consuming "
                        "every queue (%s)? `helmq items --status queued` shows their stage "
                        "and tier", STALL_HINT_SECONDS, ", ".join(QUEUES))
        if now > deadline:
            return False
        if worker is not None and worker.idle():
            # Items in flight but nothing in the embedded broker or worker: a task died
            # outside its stage (its message is acked and gone). Don't wait out the lease.
            idle_since = idle_since or now
            if now - idle_since > EMBEDDED_IDLE_SECONDS:
                touched |= {d.handoff["item"] for d in _recover(
                    rt, celery_app, "whose messages were lost inside this process")}
                idle_since = None
        else:
            idle_since = None
        if now > next_reconcile:
            got = reconcile(rt.repo, rt.settings, rt.ctx) or []
            touched |= {d.handoff["item"] for d in got}
            _publish(rt, celery_app, got)
            next_reconcile = now + rt.settings.reconcile_interval
        time.sleep(0.1)


def run_once(rt: Runtime, *, repos: Sequence[Path], limit: int | None, ignore_idle: bool,
             timeout: float, only: bool = False) -> RunResult:
    """Scan, then dispatch and wait until every eligible item has settled; with `only`
    (--repo), only the items of `repos`."""
    rt, celery_app = _prepare(rt, repos, only=only)
    result = RunResult(scans=scan_with_progress(rt.repo, rt.jobs, repos=repos,
                                       cache_dir=rt.settings.scan_cache_dir))
    worker = EmbeddedWorker(celery_app) if rt.settings.embedded else None
    touched: set[int] = set()
    deadline = time.monotonic() + timeout
    with contextlib.ExitStack() as stack:
        if worker is not None:
            stack.enter_context(_embedded_lock(rt.settings))
            worker.start()
            stack.callback(worker.stop)
            touched |= {d.handoff["item"] for d in _recover(
                rt, celery_app, "left in flight by an earlier run")}
        remaining = limit
        while True:
            fresh: list[Dispatch] = []
            if remaining is None or remaining > 0:
                tick = dispatch_tick(rt.repo, rt.jobs, rt.settings, repos=rt.only_repos,
                                     ignore_idle=ignore_idle, limit=remaining)
                result.skipped.update(tick.skipped)
                fresh = [d for d in tick.dispatched if d.handoff["item"] not in touched]
                _publish(rt, celery_app, tick.dispatched)
                touched |= {d.handoff["item"] for d in tick.dispatched}
                result.dispatched += len(tick.dispatched)
                if remaining is not None:
                    remaining -= len(tick.dispatched)
            if not _wait_settled(rt, celery_app, deadline, touched, worker):
                result.timed_out = True
                break
            if not fresh:
                break
    result.items = [item_json(i) for i in (rt.repo.get_item(n) for n in sorted(touched)) if i]
    for i in result.items:
        i.pop("data")
    return result


def serve_embedded(rt: Runtime, *, port: int) -> int:
    """Run worker threads and beat in this process until interrupted."""

    repos = list(rt.jobs.repos) or [Path.cwd()]
    rt, celery_app = _prepare(rt, repos, only=rt.only_repos is not None)
    rt.settings.state_dir.mkdir(parents=True, exist_ok=True)
    worker = EmbeddedWorker(celery_app, beat=True,
                            schedule_file=str(rt.settings.state_dir / "embedded-beat-schedule"))

    def _stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    with _embedded_lock(rt.settings):
        return _serve(rt, celery_app, worker, repos, port)


def _serve(rt: Runtime, celery_app: Celery, worker: EmbeddedWorker, repos: list[Path],
           port: int) -> int:
    from helmq.web import serve_in_thread
    from tasks.scans import launcher

    worker.start()
    ui = None
    try:
        try:
            ui = serve_in_thread(rt.settings, "127.0.0.1", port, repo=rt.repo, jobs=rt.jobs,
                                 scans=launcher(rt))
        except RuntimeError as exc:
            raise ConfigError(f"{exc}; pick another with --port", key="--port") from None
        _recover(rt, celery_app, "left in flight by an earlier run")
        # Beat's first interval only ends later: scan now, then dispatch what it found.
        for scan in scan_with_progress(rt.repo, rt.jobs, repos=repos,
                              cache_dir=rt.settings.scan_cache_dir):
            print(f"helmq up: scan {scan.job}: {scan.counts.new} new, {scan.counts.gone} gone",
                  file=sys.stderr)
        celery_app.send_task("helmq.dispatch")
        print(f"helmq up: embedded worker and beat running on {rt.settings.database_url_safe}; "
              f"repos: {', '.join(map(str, repos))}; web UI on http://127.0.0.1:{port}; "
              "Ctrl-C stops", file=sys.stderr)
        last = ""
        while True:
            time.sleep(2)
            counts = rt.repo.count_by_status()
            line = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            if line != last:
                print(f"helmq up: items: {line}", file=sys.stderr)
                last = line
    except KeyboardInterrupt:
        print("helmq up: stopping after the running tasks (Ctrl-C again to quit now; "
              "in-flight items resume on the next start)", file=sys.stderr)
    finally:
        if ui is not None:
            ui.stop()
        worker.stop()
    return 0
