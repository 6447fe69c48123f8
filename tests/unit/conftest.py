"""The unit tier: no server, no process but git, and the whole folder in under 30 s.

Here the Postgres, Redis and worker fixtures fail the test that asks for them, and every test
runs with network sockets, Postgres connections and processes other than git refused (see
tests/support/tiers.py). tests/conftest.py gives each unit test a 10 s timeout."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.tiers import guarded, only_git, refused_fixture

INTEGRATION = "tests/integration"

pg_template = refused_fixture("pg_template", "a Postgres server", INTEGRATION)
pg_url = refused_fixture("pg_url", "a Postgres server", INTEGRATION)
redis_url = refused_fixture("redis_url", "a Redis server", INTEGRATION)
start_worker = refused_fixture("start_worker", "celery worker processes", "tests/acceptance")


@pytest.fixture(autouse=True)
def _unit_tier_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with guarded(monkeypatch, move_to=INTEGRATION, process_rule=only_git, network=False):
        yield
