"""The web UI: External/Internal tabs, item pages, the JSON API, actions and /metrics."""

from helmq.ui.app import create_app
from helmq.ui.server import serve, serve_in_thread

__all__ = ["create_app", "serve", "serve_in_thread"]
