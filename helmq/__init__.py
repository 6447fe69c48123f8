"""helmq: codebases that maintain themselves, on Celery."""

__version__ = "0.1.0"
