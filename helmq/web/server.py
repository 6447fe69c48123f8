"""Serving the UI: `helmq ui` in the foreground, `helmq up` in a thread beside the workers."""

from __future__ import annotations

import sys
import threading
import time

import uvicorn

from helmq.config.settings import Settings
from helmq.domain.jobs import JobsConfig
from helmq.store.repository import Repository
from helmq.web.app import create_app
from helmq.web.context import ScanStarter

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765


def _server(settings: Settings, host: str, port: int, repo: Repository, jobs: JobsConfig,
            scans: ScanStarter | None) -> uvicorn.Server:
    app = create_app(settings, repo=repo, jobs=jobs, scans=scans)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            lifespan="on")
    return uvicorn.Server(config)


def _banner(settings: Settings, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    mode = ("actions need the token in HELMQ_UI_TOKEN" if settings.ui_token
            else "actions disabled: no HELMQ_UI_TOKEN")
    return f"helmq ui: http://{shown}:{port}/ ({mode}; Ctrl-C stops)"


def serve(settings: Settings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
          repo: Repository, jobs: JobsConfig, scans: ScanStarter | None = None) -> int:
    """Serve the UI in the foreground until interrupted; returns the exit status."""
    server = _server(settings, host, port, repo, jobs, scans)
    print(_banner(settings, host, port), file=sys.stderr)
    server.run()
    return 0 if server.started else 2


class UIThread:
    """The UI served from a daemon thread (for `helmq up`)."""

    def __init__(self, server: uvicorn.Server) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.run, name="helmq-ui", daemon=True)

    def start(self, timeout: float = 15.0) -> None:
        """Start serving; returns once the port is bound (raises if it could not be)."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the web UI did not start on {self.server.config.host}:"
                                   f"{self.server.config.port} (is the port in use?)")
            time.sleep(0.05)

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def serve_in_thread(settings: Settings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                    repo: Repository, jobs: JobsConfig,
                    scans: ScanStarter | None = None) -> UIThread:
    """Start the UI in a daemon thread beside the embedded worker; `.stop()` ends it."""
    ui = UIThread(_server(settings, host, port, repo, jobs, scans))
    ui.start()
    print(_banner(settings, host, port).replace("; Ctrl-C stops", ""), file=sys.stderr)
    return ui
