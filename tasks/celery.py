"""The app `celery -A tasks …` finds. Building it reads settings; it connects to nothing."""

from __future__ import annotations

from helmq import runtime
from tasks.app import make_celery

app = make_celery(runtime.current())
