"""The integration tier: Postgres, Redis, git and helmq in process.

Real worker processes, the helmq CLI or celery as a process and the browser belong to
tests/acceptance: here `start_worker` fails the test that asks for it, and starting such a
process is refused (see tests/support/tiers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.tiers import guarded, no_helmq_celery_or_browser, refused_fixture

ACCEPTANCE = "tests/acceptance"

start_worker = refused_fixture("start_worker", "celery worker processes", ACCEPTANCE)


@pytest.fixture(autouse=True)
def _integration_tier_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with guarded(monkeypatch, move_to=ACCEPTANCE, process_rule=no_helmq_celery_or_browser,
                 network=True):
        yield
