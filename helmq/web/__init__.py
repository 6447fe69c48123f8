"""The web UI: External/Internal tabs, item pages, the JSON API, actions and /metrics."""

from helmq.web.app import create_app
from helmq.web.server import serve, serve_in_thread

__all__ = ["create_app", "serve", "serve_in_thread"]
