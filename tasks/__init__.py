"""The Celery edge of helmq: app factory, queues, router, thin tasks, chain builder.

`celery -A tasks worker -Q script` finds the app in `tasks.celery`.
"""
