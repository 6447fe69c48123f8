"""The app `celery -A tasks …` finds. Building it reads settings; it connects to nothing."""

from __future__ import annotations

from beat_schedule import attach_schedule
from tasks.app import make_celery

app = make_celery()
attach_schedule(app)
