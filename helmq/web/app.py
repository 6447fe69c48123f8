"""The web app factory: nothing connects until a request needs the database."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from helmq import __version__
from helmq.config.settings import Settings
from helmq.domain.jobs import JobsConfig
from helmq.store.repository import Repository
from helmq.web.context import ScanStarter, UIContext
from helmq.web.render import make_environment

STATIC = Path(__file__).with_name("static")
JSON_PREFIXES = ("/api/", "/healthz", "/metrics")


class ServerTiming:
    """ASGI middleware: `Server-Timing: app;dur=<ms>` on every response (benchmarks read it)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed_send(message) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - start) * 1000
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (b"server-timing", f"app;dur={ms:.2f}".encode())]
            await send(message)

        await self.app(scope, receive, timed_send)


def create_app(settings: Settings, *, repo: Repository | Callable[[], Repository],
               jobs: JobsConfig | Callable[[], JobsConfig],
               scans: ScanStarter | None = None) -> FastAPI:
    """The helmq web UI and JSON API over the parts the composition root hands in (each a
    value, or a function that builds it on the first request that needs it)."""
    from helmq.web import api, pages

    context = UIContext(settings, repo_given=repo, jobs_given=jobs, scans_given=scans)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield

    app = FastAPI(title="helmq", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url="/api/openapi.json")
    app.state.ctx = context
    app.state.templates = make_environment()
    app.add_middleware(ServerTiming)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        if request.url.path.startswith(JSON_PREFIXES) or request.method != "GET":
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=headers)
        html = app.state.templates.get_template("error.html").render(
            status=exc.status_code, message=exc.detail)
        return HTMLResponse(html, exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                             for e in exc.errors())
        return JSONResponse({"detail": problems}, 400)

    return app
